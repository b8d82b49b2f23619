"""The reconcile loop: every interval (or at once on a webhook), make the target match the branch.

One pass: fetch the branch, verify the head commit (``--verify-commits``), export its tree, load
and plan it, check the plan, and apply it unless ``--dry-run``. Every refusal happens *before*
the first write, through the engine's own checks (invalid specs, errors, conflicts, the safety
threshold): a bad commit is never half-applied, the last applied revision stays the truth, and
the status says why. Writes that a revision needs although it was already applied are drift
(someone changed a record out of band): healed, or with ``--no-heal`` only reported.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from reconciler.agent.gitsource import GitError, GitSource, Revision, tree_root
from reconciler.agent.metrics import AgentMetrics
from reconciler.agent.status import (
    AgentStatus,
    Condition,
    ConditionStatus,
    PlanDigest,
    load_status,
    now,
    save_status,
)
from reconciler.agent.verify import CommitVerifier, UntrustedCommitError
from reconciler.applier import ApplyReport
from reconciler.engine.steps import StopSignal
from reconciler.engine.workspace import Workspace
from reconciler.errors import ApiError, ConfigError, ReconcilerError, SpecError, StalePlanError
from reconciler.files import ensure_state_dir
from reconciler.plan.model import Plan
from reconciler.plan.shard import Shard

__all__ = ["STALLING", "AgentSettings", "Outcome", "PassHook", "Reconciler"]

log = logging.getLogger("reconciler.agent")

#: Failures that a new commit, not a retry, fixes: the agent reports itself Stalled.
STALLING = {"verify", "spec", "config", "refused"}


@dataclass(frozen=True)
class AgentSettings:
    """What ``reconciler agent`` was started with."""

    repo: str
    branch: str = "main"
    path: str = ""
    interval: float = 300.0
    dry_run: bool = False
    heal: bool = True
    signers: Path | None = None
    target: str | None = None
    api_url: str | None = None
    shard: Shard | None = None
    state_dir: Path = Path(".reconciler")

    @property
    def agent_dir(self) -> Path:
        return self.state_dir / "agent"


@dataclass(frozen=True)
class Outcome:
    """How one pass ended: ``kind`` names the failure (None for success)."""

    reason: str
    message: str
    kind: str | None = None


#: Called after each pass with the revision and outcome (GitHub commit statuses use it).
PassHook = Callable[[Revision, Outcome], None]


class Reconciler:
    """Runs passes one at a time; ``run`` loops until ``stop`` is set."""

    def __init__(
        self,
        settings: AgentSettings,
        *,
        environ: Mapping[str, str] | None = None,
        metrics: AgentMetrics | None = None,
        on_pass: PassHook | None = None,
    ) -> None:
        self.settings = settings
        self.environ = dict(os.environ if environ is None else environ)
        self.metrics = metrics or AgentMetrics()
        self.trigger = threading.Event()
        self.stop = StopSignal()
        self.passes = 0
        self._on_pass = on_pass
        self._lock = threading.Lock()
        cache = ensure_state_dir(settings.state_dir, "agent", "git")
        self._source = GitSource(settings.repo, settings.branch, cache, environ=self.environ)
        self._verifier = (
            CommitVerifier(settings.signers, self._source) if settings.signers else None
        )
        self._status = self._initial_status()

    @property
    def status(self) -> AgentStatus:
        with self._lock:
            return self._status

    @property
    def status_file(self) -> Path:
        return self.settings.agent_dir / "status.json"

    def _initial_status(self) -> AgentStatus:
        s = self.settings
        fresh = AgentStatus(
            repository=s.repo, branch=s.branch, path=s.path, dry_run=s.dry_run, heal=s.heal
        )
        saved = load_status(self.status_file)
        if saved is not None and (saved.repository, saved.branch) == (s.repo, s.branch):
            # The last applied revision survives a restart; the conditions start over.
            fresh = fresh.model_copy(update={"last_applied_revision": saved.last_applied_revision})
            if saved.last_applied_revision:
                self.metrics.set_applied_revision(saved.last_applied_revision)
        return fresh.with_conditions(
            _condition("Ready", ConditionStatus.UNKNOWN, "Starting", "no pass has run yet"),
        )

    # --- the loop --------------------------------------------------------------------------
    def run(self) -> None:
        """Pass after pass until ``stop``; a webhook's ``trigger`` cuts the wait short."""
        while not self.stop.is_set():
            self.trigger.clear()
            self.reconcile_once()
            deadline = time.monotonic() + self.settings.interval
            while not self.stop.is_set() and not self.trigger.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.trigger.wait(min(remaining, 0.5))

    def wake(self) -> None:
        self.trigger.set()

    def shutdown(self, reason: str = "stopped") -> None:
        """Finish the current pass early (an apply lets in-flight writes finish) and end ``run``."""
        self.stop.request(reason)
        self.trigger.set()

    # --- one pass --------------------------------------------------------------------------
    def reconcile_once(self) -> Outcome:
        """One whole pass; never raises: every failure becomes status, metrics and a log line."""
        started = time.monotonic()
        self._set(self._status.with_conditions(self._reconciling()))
        revision: Revision | None = None
        try:
            revision = self._source.fetch()
            self._set(self._status.model_copy(update={"last_attempted_revision": str(revision)}))
            outcome = self._reconcile(revision)
        except ReconcilerError as exc:
            outcome = _failure(exc)
        except Exception as exc:  # a bug must not kill a controller; it is reported and retried
            log.exception("internal error during a pass")
            outcome = Outcome("InternalError", f"internal error: {type(exc).__name__}", "internal")
        self._finish(outcome, time.monotonic() - started)
        if revision is not None and self._on_pass is not None:
            self._on_pass(revision, outcome)
        return outcome

    def _reconcile(self, revision: Revision) -> Outcome:
        if self._verifier is not None:
            self._verifier.verify(revision)
        root, config = tree_root(self._source.export(revision), self.settings.path)
        with Workspace.load(
            root,
            config_file=config,
            target=self.settings.target,
            api_url=self.settings.api_url,
            environ=self.environ,
            state_dir=self.settings.state_dir,
        ) as workspace:
            plan = workspace.plan(shard=self.settings.shard)
            self._set(self._status.model_copy(update={"target": plan.target}))
            return self._act(workspace, plan, revision)

    def _act(self, workspace: Workspace, plan: Plan, revision: Revision) -> Outcome:
        already = self._status.last_applied_revision == str(revision)
        drift = plan.summary.writes if already else 0
        self._record_plan(plan, revision, drift)
        try:
            workspace.check(plan)  # refuses the whole revision before any write
        except ReconcilerError as exc:
            if plan.summary.error:  # conversations that could not be read: a retry may help
                return Outcome("PlanFailed", f"{revision}: {exc}", "plan")
            raise
        if not plan.has_changes:
            return self._applied(revision, f"{revision}: nothing to change")
        if self.settings.dry_run:
            return Outcome("DryRun", f"{revision}: {plan.summary.line()} (--dry-run: not applied)")
        if drift and not self.settings.heal:
            message = f"{drift} record(s) drifted from {revision}; --no-heal: reported, not written"
            return Outcome("DriftDetected", message, "drift")
        report = workspace.apply(plan, stop=self.stop)
        return self._after_apply(report, revision, drift)

    def _after_apply(self, report: ApplyReport, revision: Revision, drift: int) -> Outcome:
        self._set(self._status.model_copy(update={"last_apply": report.summary}))
        if not report.ok:
            why = f" ({report.stopped})" if report.stopped else ""
            message = f"{revision}: apply did not complete{why}: {report.summary.line()}"
            return Outcome("ApplyFailed", message, "apply")
        if drift:
            self.metrics.drift_corrected.inc(drift)
            healed = self._status.drift_corrected + drift
            self._set(self._status.model_copy(update={"drift_corrected": healed}))
        return self._applied(revision, f"{revision}: {report.summary.line()}")

    def _applied(self, revision: Revision, message: str) -> Outcome:
        self._set(
            self._status.model_copy(
                update={"last_applied_revision": str(revision), "last_success_time": now()}
            )
        )
        self.metrics.set_applied_revision(str(revision))
        self.metrics.last_success.set(time.time())
        return Outcome("Succeeded", f"applied {message}")

    def _record_plan(self, plan: Plan, revision: Revision, drift: int) -> None:
        digest = PlanDigest(revision=str(revision), summary=plan.summary, drift=drift)
        self._set(self._status.model_copy(update={"last_plan": digest}))
        self.metrics.set_plan(plan.summary, drift)

    # --- status ----------------------------------------------------------------------------
    def _reconciling(self) -> Condition:
        ready = self._status.condition("Ready")
        retry = ready is not None and ready.status == ConditionStatus.FALSE
        reason = "ProgressingWithRetry" if retry else "Progressing"
        return _condition("Reconciling", ConditionStatus.TRUE, reason, "reconciling")

    def _finish(self, outcome: Outcome, seconds: float) -> None:
        result = outcome.kind or "success"
        self.metrics.duration.labels(result=result).observe(seconds)
        if outcome.kind is not None:
            self.metrics.errors.labels(kind=outcome.kind).inc()
        ok = outcome.kind is None and outcome.reason != "DryRun"
        ready = ConditionStatus.TRUE if ok else ConditionStatus.FALSE
        if outcome.reason == "DryRun":
            ready = ConditionStatus.UNKNOWN
        stalled = outcome.kind in STALLING
        status = self._status.model_copy(update={"last_attempt_time": now()}).with_conditions(
            _condition("Ready", ready, outcome.reason, outcome.message),
            _condition("Reconciling", ConditionStatus.FALSE, outcome.reason, ""),
            _condition(
                "Stalled",
                ConditionStatus.TRUE if stalled else ConditionStatus.FALSE,
                outcome.reason if stalled else "NotStalled",
                outcome.message if stalled else "",
            ),
        )
        self._set(status)
        self.passes += 1
        try:
            save_status(self.status_file, status)
        except OSError as exc:
            log.error("cannot save the status to %s: %s", self.status_file, exc.strerror)
        level = logging.INFO if outcome.kind is None else logging.ERROR
        log.log(level, "%s: %s", outcome.reason, outcome.message)

    def _set(self, status: AgentStatus) -> None:
        with self._lock:
            self._status = status


def _condition(kind: str, status: ConditionStatus, reason: str, message: str) -> Condition:
    return Condition.model_validate(
        {"type": kind, "status": status, "reason": reason, "message": message}
    )


def _failure(exc: ReconcilerError) -> Outcome:
    """Name the failure: the reason for machines, a kind for metrics, git's or the engine's
    message (file:line for specs) for people."""
    message = str(exc)
    if isinstance(exc, GitError):
        return Outcome("GitOperationFailed", message, "fetch")
    if isinstance(exc, UntrustedCommitError):
        return Outcome("VerificationFailed", message, "verify")
    if isinstance(exc, SpecError):
        return Outcome("ValidationFailed", f"{message}\nnothing was written", "spec")
    if isinstance(exc, ConfigError):
        return Outcome("ConfigurationFailed", message, "config")
    if isinstance(exc, ApiError):
        return Outcome("TargetUnreachable", message, "plan")
    if isinstance(exc, StalePlanError):  # a record changed between plan and apply: plan again
        return Outcome("StalePlan", message, "plan")
    return Outcome("PlanRefused", message, "refused")
