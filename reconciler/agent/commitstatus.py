"""``--github-status OWNER/NAME``: the outcome of each revision as a GitHub commit status.

Whoever merged sees on the commit itself whether the agent applied it (``success``), refused it
(``failure``: invalid specs, conflicts, over the threshold, unsigned; a new commit is needed) or
could not finish (``error``: retried). A status is set when a revision's state changes, not on
every pass, so an unchanged branch costs no API call. Setting it is best effort and never
retried in the pass: GitHub being down must not slow or stop the reconciliation, so a failure is
logged and the next pass tries again.
"""

from __future__ import annotations

import logging

from reconciler.agent.gitsource import Revision
from reconciler.agent.loop import STALLING, Outcome
from reconciler.errors import ReconcilerError
from reconciler.remote.github import (
    CommitState,
    GitHubClient,
    RepositoryRef,
    github_http_settings,
)

__all__ = ["CONTEXT", "CommitStatusReporter", "commit_state"]

log = logging.getLogger("reconciler.agent")

CONTEXT = "reconciler/agent"
#: One attempt: a status is best effort, and a GitHub outage must never delay a pass.
STATUS_SETTINGS = github_http_settings(max_attempts=1)


def commit_state(outcome: Outcome) -> CommitState:
    """success: applied (or already matching); failure: refused; pending: planned only (dry
    run); error: a failure that a retry may fix."""
    if outcome.kind is None:
        return "pending" if outcome.reason == "DryRun" else "success"
    return "failure" if outcome.kind in STALLING else "error"


class CommitStatusReporter:
    """The agent's ``on_pass`` hook: one status per revision and outcome."""

    def __init__(self, repository: RepositoryRef, *, context: str = CONTEXT) -> None:
        self.repository = repository
        self.context = context
        self._last: tuple[str, CommitState] | None = None

    def __call__(self, revision: Revision, outcome: Outcome) -> None:
        state = commit_state(outcome)
        description = "; ".join(line.strip() for line in outcome.message.splitlines() if line)
        key = (revision.sha, state)
        if key == self._last:
            return
        try:
            with GitHubClient(self.repository, settings=STATUS_SETTINGS) as client:
                client.create_commit_status(revision.sha, state, description, self.context)
        except ReconcilerError as exc:
            log.warning("commit status for %s not set: %s", revision.short, exc)
            return
        self._last = key
