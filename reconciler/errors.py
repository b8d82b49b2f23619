"""The one exception tree of the reconciler.

Library code raises only these; third-party exceptions are translated at the boundary with
``raise ... from``. The CLI turns them into messages and exit codes, so nothing here ever prints.

::

    ReconcilerError
     ├── SpecError          bad spec files: carries every located Issue of the run
     ├── ConfigError        bad reconciler.yaml, unknown target, missing credential
     ├── ApiError           an API answered with an error or could not be reached
     │    └── AuthError     401: the credential is missing, wrong or expired (stops everything)
     ├── StalePlanError     a saved plan no longer matches the remote state
     ├── UnsafePlanError    the safety threshold refused an apply (use --force)
     ├── ApplyError         an apply finished with failed or unverified records
     ├── PlanFormatError    (plan.py) a saved plan file is not a plan this version reads
     ├── PlanMergeError     (scope/merge.py) shard plans that do not make one whole plan
     └── RefusedPlanError   (applier/preflight.py) a plan that cannot be applied as it stands

The last three live beside the code that raises them, as the data they describe does; they are
still ReconcilerErrors, so the CLI reports them like every other.

Messages never contain a credential: clients redact before they raise.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.display import escape_controls

__all__ = [
    "ApiError",
    "ApplyError",
    "AuthError",
    "ConfigError",
    "Issue",
    "Location",
    "ReconcilerError",
    "SpecError",
    "StalePlanError",
    "UnsafePlanError",
]


@dataclass(frozen=True, order=True)
class Location:
    """A place in a file, 1-based, as editors and GitHub annotations count."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file
        if self.column <= 0:
            return f"{self.file}:{self.line}"
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, order=True)
class Issue:
    """One problem in user input: where, which path inside the document, what is wrong."""

    location: Location
    message: str
    path: str = ""

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location.file else ""
        inside = f"{self.path}: " if self.path else ""
        return escape_controls(f"{where}{inside}{self.message}")


class ReconcilerError(Exception):
    """Base of every error the reconciler raises on purpose."""


class SpecError(ReconcilerError):
    """Spec (or config) files are invalid. Holds all issues of the run, sorted by place."""

    def __init__(self, issues: list[Issue] | tuple[Issue, ...]) -> None:
        self.issues: tuple[Issue, ...] = tuple(sorted(issues))
        count = len(self.issues)
        head = f"{count} problem{'s' if count != 1 else ''} in specs"
        super().__init__("\n".join([head, *(str(i) for i in self.issues)]))


class ConfigError(ReconcilerError):
    """The configuration is unusable (unknown target, missing token variable, bad URL...)."""


class ApiError(ReconcilerError):
    """An API call failed. The message is already redacted and says which request and target."""

    def __init__(
        self,
        message: str,
        *,
        target: str = "",
        request: str = "",
        status: int | None = None,
        conversation_id: str | None = None,
        transient: bool = False,
    ) -> None:
        self.message = message
        self.target = target
        self.request = request
        self.status = status
        self.conversation_id = conversation_id
        self.transient = transient
        super().__init__(self._render())

    def _render(self) -> str:
        parts = []
        if self.request:
            parts.append(self.request)
        if self.target:
            parts.append(f"(target {self.target})")
        prefix = " ".join(parts)
        return f"{prefix}: {self.message}" if prefix else self.message


class AuthError(ApiError):
    """401: the credential was refused. No further request can succeed, so work stops."""


class StalePlanError(ReconcilerError):
    """A saved plan's fingerprints no longer match what the API returns now."""

    def __init__(self, changed: list[str], what: dict[str, list[str]] | None = None) -> None:
        self.changed = tuple(sorted(changed))
        n = len(self.changed)
        listed = ", ".join(self.changed[:10]) + (" ..." if n > 10 else "")
        super().__init__(
            f"stale plan: {n} conversation{'s' if n != 1 else ''} changed since the plan was "
            f"made ({listed}); nothing was written. Run plan again and review the new plan."
            + _what_changed(self.changed, what or {})
        )


def _what_changed(changed: tuple[str, ...], what: dict[str, list[str]]) -> str:
    """`` What changed: <id>: a; b. <id>: c.`` for the first few conversations (bounded)."""
    parts = [
        f"{cid}: {'; '.join(what[cid][:3])}{' ...' if len(what[cid]) > 3 else ''}"
        for cid in changed[:3]
        if what.get(cid)
    ]
    return f" What changed: {'. '.join(parts)}." if parts else ""


class UnsafePlanError(ReconcilerError):
    """The safety threshold refused the apply; --force overrides it."""


class ApplyError(ReconcilerError):
    """An apply ended with records that failed or did not converge."""
