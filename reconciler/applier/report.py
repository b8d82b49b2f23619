"""The apply report: what an apply did to every planned write, as serialisable value objects.

It is what ``apply --format json`` prints (``schemas/apply-report.schema.json``) and what the text
output is rendered from, so a CI job and a human read the same facts. Records are sorted like the
plan (conversation, then label) so two reports of the same apply compare line by line.

A report never holds a record's values, only its identity and what happened: values may be
sensitive (config ``sensitive``), and the plan already shows them to whoever may see them.
"""

from __future__ import annotations

from collections import Counter
from enum import StrEnum
from typing import Any

from pydantic import ConfigDict, Field, model_validator

from reconciler.model import StrictModel
from reconciler.plan.model import Action

__all__ = [
    "REPORT_FORMAT_VERSION",
    "ApplyReport",
    "ApplySummary",
    "RecordResult",
    "RecordStatus",
    "RequestCounts",
    "apply_report_json_schema",
]

#: Bumped on any incompatible change of the report's JSON form.
REPORT_FORMAT_VERSION = 1


class RecordStatus(StrEnum):
    """Where one planned write ended up. Only ``applied`` counts as done."""

    APPLIED = "applied"  # written, and read back as planned
    FAILED = "failed"  # the POST was refused or kept failing; reason says why
    NOT_CONVERGED = "not_converged"  # written, but the read-back differs or could not be read
    NOT_VERIFIED = "not_verified"  # written; not read back because the apply was stopped
    NOT_ATTEMPTED = "not_attempted"  # never sent: the apply was stopped first


class RecordResult(StrictModel):
    """One planned write and its outcome."""

    conversation_id: str
    label: str
    external_id: str | None = None
    action: Action = Field(description="create, update, relabel or adopt.")
    status: RecordStatus
    attempts: int = Field(default=0, ge=0, description="POST attempts made (retries included).")
    reason: str | None = Field(default=None, description="Why it is not applied, if it is not.")
    source: str | None = Field(default=None, description="file:line of the declaring spec.")

    @property
    def sort_key(self) -> tuple[str, str, str]:
        return (self.conversation_id, self.label, self.external_id or "")

    @property
    def written(self) -> bool:
        """The server accepted the POST (whatever the read-back said)."""
        return self.status in _WRITTEN


_WRITTEN = frozenset({RecordStatus.APPLIED, RecordStatus.NOT_CONVERGED, RecordStatus.NOT_VERIFIED})


class ApplySummary(StrictModel):
    """How many planned writes ended in each status."""

    planned: int = 0
    applied: int = 0
    failed: int = 0
    not_converged: int = 0
    not_verified: int = 0
    not_attempted: int = 0

    @classmethod
    def of(cls, records: tuple[RecordResult, ...]) -> ApplySummary:
        counts = Counter(r.status for r in records)
        return cls(planned=len(records), **{s.value: counts[s] for s in RecordStatus})

    def line(self) -> str:
        """One line for terminals and CI logs."""
        parts = [f"{self.applied} of {self.planned} applied and verified"]
        optional = (
            (self.failed, "failed"),
            (self.not_converged, "not converged"),
            (self.not_verified, "written but not verified"),
            (self.not_attempted, "not attempted"),
        )
        parts += [f"{count} {name}" for count, name in optional if count]
        return ", ".join(parts)


class RequestCounts(StrictModel):
    """The HTTP work the apply did, for capacity planning and for proving idempotence."""

    posts: int = Field(default=0, ge=0, description="Writes sent (each may take several attempts).")
    attempts: int = Field(default=0, ge=0, description="POST attempts, retries included.")
    retries: int = Field(default=0, ge=0)
    reads: int = Field(default=0, ge=0, description="Conversations read (freshness, verification).")


class ApplyReport(StrictModel):
    """Everything an apply did. ``ok`` is the exit-0 condition: every write applied and verified."""

    model_config = ConfigDict(title="reconciler apply report")

    format_version: int = Field(default=REPORT_FORMAT_VERSION)
    target: str = Field(description="Where the writes went.")
    spec_digest: str = Field(description="The specDigest of the plan that was applied.")
    stopped: str | None = Field(
        default=None,
        description="Why the apply stopped early (a signal, a refused credential), if it did.",
    )
    refused: str | None = Field(
        default=None,
        description=(
            "Why the whole apply was refused before its first write (another target, an offline "
            "or failed plan, a conflict, the safety threshold, a stale plan): nothing was written."
        ),
    )
    duration_seconds: float = Field(default=0.0, ge=0)
    summary: ApplySummary = Field(default_factory=ApplySummary)
    requests: RequestCounts = Field(default_factory=RequestCounts)
    records: tuple[RecordResult, ...] = ()

    @model_validator(mode="after")
    def _sorted_and_counted(self) -> ApplyReport:
        ordered = tuple(sorted(self.records, key=lambda r: r.sort_key))
        object.__setattr__(self, "records", ordered)
        object.__setattr__(self, "summary", ApplySummary.of(ordered))
        return self

    @property
    def ok(self) -> bool:
        return (
            self.refused is None
            and self.stopped is None
            and self.summary.applied == self.summary.planned
        )

    def problems(self) -> tuple[RecordResult, ...]:
        return tuple(r for r in self.records if r.status is not RecordStatus.APPLIED)

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def apply_report_json_schema() -> dict[str, Any]:
    """The JSON Schema of ``apply --format json``, for schemas/apply-report.schema.json."""
    schema = ApplyReport.model_json_schema(by_alias=True, mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
