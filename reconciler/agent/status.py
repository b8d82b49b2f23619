"""What ``GET /status`` serves and the agent keeps across restarts: revisions and conditions.

The shape is the one operators read on every Flux object: ``lastAttemptedRevision`` (what the
agent last tried), ``lastAppliedRevision`` (what Zelto is known to match; a refused or failed
revision never replaces it), and Kubernetes-style conditions. ``Ready`` says whether the target
matches the head of the branch; ``Reconciling`` is True while a pass runs (reason
``ProgressingWithRetry`` after a failure); ``Stalled`` is True when retrying the same commit
cannot help (invalid specs, an untrusted commit, a refused plan) and a new commit is needed.

The status is saved to a file after every pass, so a restarted agent still knows the last
applied revision (``docs/agent.md``); ``schemas/agent-status.schema.json`` is generated from it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError

from reconciler.applier import ApplySummary
from reconciler.files import read_regular, write_atomically
from reconciler.model import StrictModel
from reconciler.plan.model import Summary

__all__ = [
    "STATUS_FORMAT_VERSION",
    "AgentStatus",
    "Condition",
    "ConditionStatus",
    "PlanDigest",
    "agent_status_json_schema",
    "load_status",
    "now",
    "save_status",
]

STATUS_FORMAT_VERSION = 1
_MAX_STATUS_BYTES = 1 << 20
ConditionType = Literal["Ready", "Reconciling", "Stalled"]


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(StrictModel):
    """One Kubernetes-style condition: a type, a status, a CamelCase reason and a message."""

    type: ConditionType
    status: ConditionStatus
    reason: str = Field(description="CamelCase, for machines: Succeeded, ValidationFailed, ...")
    message: str = Field(default="", description="For people: what happened and where.")
    last_transition_time: datetime = Field(default_factory=now)


class PlanDigest(StrictModel):
    """The last plan the agent made: of which revision, and how many records each action has."""

    revision: str
    summary: Summary
    drift: int = Field(
        default=0,
        ge=0,
        description="Writes needed although the revision was already applied: out-of-band edits.",
    )


class AgentStatus(StrictModel):
    """The agent's whole observable state, as ``GET /status`` returns it."""

    model_config = ConfigDict(title="reconciler agent status")

    format_version: int = Field(default=STATUS_FORMAT_VERSION)
    repository: str = Field(description="The repository URL or path (never with a credential).")
    branch: str
    path: str = Field(default="", description="The folder inside the repository that is planned.")
    target: str = Field(default="", description="Where the agent applies, once it is known.")
    dry_run: bool = False
    heal: bool = True
    last_attempted_revision: str | None = None
    last_applied_revision: str | None = None
    last_attempt_time: datetime | None = None
    last_success_time: datetime | None = None
    last_plan: PlanDigest | None = None
    last_apply: ApplySummary | None = None
    drift_corrected: int = Field(default=0, ge=0, description="Records healed since the start.")
    conditions: tuple[Condition, ...] = ()

    def condition(self, kind: ConditionType) -> Condition | None:
        return next((c for c in self.conditions if c.type == kind), None)

    def with_conditions(self, *updates: Condition) -> AgentStatus:
        """Replace conditions by type, keeping a condition's transition time if its status
        did not change (a Ready=True that stays True did not transition)."""
        merged = {c.type: c for c in self.conditions}
        for update in updates:
            old = merged.get(update.type)
            kept = update
            if old is not None and old.status == update.status:
                kept = update.model_copy(update={"last_transition_time": old.last_transition_time})
            merged[update.type] = kept
        order: tuple[ConditionType, ...] = ("Ready", "Reconciling", "Stalled")
        return self.model_copy(
            update={"conditions": tuple(merged[t] for t in order if t in merged)}
        )

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def agent_status_json_schema() -> dict[str, Any]:
    """The JSON Schema of ``GET /status``, for schemas/agent-status.schema.json."""
    schema = AgentStatus.model_json_schema(by_alias=True, mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def load_status(path: Path) -> AgentStatus | None:
    """The status a previous run saved, or None (first start, or a file that is not ours)."""
    try:
        data, _ = read_regular(path, _MAX_STATUS_BYTES)
        return AgentStatus.model_validate_json(data)
    except (OSError, ValidationError):
        return None


def save_status(path: Path, status: AgentStatus) -> None:
    """Write atomically: a crash mid-write leaves the previous status, never half a file."""
    write_atomically(path, json.dumps(status.to_json_dict(), indent=2) + "\n")
