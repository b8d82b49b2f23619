"""``reconciler agent``: continuous, pull-based reconciliation from a git branch.

``gitsource`` fetches and exports commits, ``verify`` checks their signatures, ``loop`` runs the
passes on the library engine (``reconciler.engine.workspace``) and keeps ``status``; ``metrics``
and ``server`` make it observable, ``webhook`` verifies GitHub pushes. See docs/agent.md.
"""

from __future__ import annotations

from reconciler.agent.loop import AgentSettings, Outcome, Reconciler
from reconciler.agent.status import AgentStatus, agent_status_json_schema

__all__ = ["AgentSettings", "AgentStatus", "Outcome", "Reconciler", "agent_status_json_schema"]
