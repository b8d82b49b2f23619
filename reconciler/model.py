"""The data the reconciler reasons about, and how records are compared.

Declared records come from spec files and are strict (frozen, ``extra="forbid"``, the API's own
limits), so that every mistake is caught offline. Remote records come from the API and are lenient
about fields the vendor may add later (``extra="ignore"``): a new server field must not break
a plan.

Comparison happens on *normalised* values only (docs/semantics.md §3): absent equals null, scores
compare as numbers (92 == 92.0), ``metricId`` compares case-insensitively, notes compare exactly.
Without this, upper-case UUIDs from a server make a false change of every record (see
docs/semantics.md §6).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, NamedTuple
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StringConstraints,
    model_validator,
)
from pydantic.alias_generators import to_camel

from reconciler.errors import Location

__all__ = [
    "COMPARED_FIELDS",
    "CatalogEntry",
    "DeclaredRecord",
    "DesiredState",
    "Kind",
    "LenientModel",
    "MetricRecord",
    "RemoteRecord",
    "SpecDocument",
    "StrictModel",
    "Verdict",
    "canonical_json",
    "compared_declared",
    "compared_remote",
    "effective_metric_id",
    "inherits_agent_metric",
    "normalise_score",
    "normalise_uuid",
    "shared_verdict",
]

Verdict = Literal["pass", "fail"]
Kind = Literal["verdict", "score", "both"]

LABEL_MAX = 255
EXTERNAL_ID_MAX = 255
NOTE_MAX = 5000


def _utf16_at_most(limit: int) -> AfterValidator:
    """Zelto's limits are counted here in code points (``max_length``) and, by this check, in
    UTF-16 code units, what a JavaScript server counts (an emoji counts 2): a value valid here is
    valid there (Zelto registry: ``length_units``; docs/contract.md)."""

    def check(text: str) -> str:
        units = len(text.encode("utf-16-le")) // 2
        if units > limit:
            raise ValueError(
                f"is {units} UTF-16 code units long (characters beyond the BMP, such as emoji, "
                f"count 2); at most {limit} are allowed"
            )
        return text

    return AfterValidator(check)


Label = Annotated[
    str, StringConstraints(min_length=1, max_length=LABEL_MAX), _utf16_at_most(LABEL_MAX)
]
ExternalId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=EXTERNAL_ID_MAX),
    _utf16_at_most(EXTERNAL_ID_MAX),
]
Note = Annotated[str, StringConstraints(max_length=NOTE_MAX), _utf16_at_most(NOTE_MAX)]


def _whole_as_int(value: float) -> float:
    """Keep 85 as 85 (not 85.0) so that specs written back and plans read as the user wrote."""
    return int(value) if value.is_integer() else value


# Strict numbers: a quoted "85" or a YAML boolean is a mistake in a spec, not a score. One float
# type (which accepts ints) rather than an int|float union: one error message per mistake, and
# bounds that JSON Schema validators understand (pydantic writes a union's bounds as ge/le).
Score = Annotated[
    StrictFloat, Field(ge=0, le=100, allow_inf_nan=False), AfterValidator(_whole_as_int)
]

#: The fields a plan compares (docs/semantics.md §3). Server-owned fields never make a diff.
COMPARED_FIELDS: tuple[str, ...] = ("label", "verdict", "score", "note", "metricId", "externalId")


class StrictModel(BaseModel):
    """The base of every model users write or read back (specs, config, plans, reports).

    Immutable (value objects compare and hash), unknown keys rejected (a typo is an error, not a
    silent default), camelCase in YAML and JSON as in the API, snake_case in Python.
    """

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        serialize_by_alias=True,
    )


class LenientModel(StrictModel):
    """The base of every model read from a vendor's API (Zelto's and Siro's answers).

    Like :class:`StrictModel` (immutable, camelCase on the wire) except that unknown keys are
    ignored: a field the vendor adds later must not break a plan or an import.
    """

    model_config = ConfigDict(extra="ignore")


class MetricRecord(StrictModel):
    """One customer metric as declared in a spec: what the user wants Zelto to hold."""

    external_id: ExternalId = Field(
        description="Your own id for this record; unique per conversation."
    )
    label: Label = Field(description="The metric's name; Zelto upserts on (conversation, label).")
    verdict: Verdict | None = Field(default=None, description="pass or fail.")
    score: Score | None = Field(default=None, description="A number from 0 to 100.")
    note: Note | None = Field(default=None, description="Free text, at most 5000 characters.")
    metric_id: UUID | None = Field(
        default=None, description="A Zelto metric on the call's agent; overrides the catalog's."
    )
    adopt: StrictBool = Field(
        default=False,
        description="Take over a remote record that has this label but another externalId. "
        "Never sent to the API.",
    )

    @model_validator(mode="after")
    def _verdict_or_score(self) -> MetricRecord:
        if self.verdict is None and self.score is None:
            raise ValueError("a record needs at least one of verdict and score")
        return self


class CatalogEntry(StrictModel):
    """A label in the catalog: its Zelto metric (one, or one per agent) and what records carry."""

    metric_id: UUID | dict[UUID, UUID] | None = Field(
        default=None,
        description="One Zelto metric UUID, or a map from agent UUID to metric UUID "
        "(Zelto metrics belong to an agent).",
    )
    kind: Kind | None = Field(
        default=None, description="verdict, score or both: what every record of this label carries."
    )

    def metric_for_agent(self, agent_id: str | None) -> str | None:
        """The catalog metric for a conversation's agent; None when the catalog has none for it."""
        if self.metric_id is None:
            return None
        if isinstance(self.metric_id, UUID):
            return str(self.metric_id)
        if agent_id is None:
            return None
        try:
            wanted = UUID(agent_id)
        except ValueError:
            return None
        found = self.metric_id.get(wanted)
        return str(found) if found is not None else None


class SpecDocument(StrictModel):
    """One spec file. Both keys are optional; an empty file declares nothing."""

    model_config = ConfigDict(
        title="Zelto customer metrics spec",
        json_schema_extra={
            "description": "A reconciler spec file: a label catalog and/or, per Zelto conversation "
            "UUID, the customer metrics declared for it."
        },
    )

    labels: dict[Label, CatalogEntry] = Field(default_factory=dict)
    conversations: dict[UUID, list[MetricRecord]] = Field(default_factory=dict)


_VERDICTS: dict[str | None, Verdict | None] = {"pass": "pass", "fail": "fail", None: None}


def shared_verdict(verdict: str | None) -> Verdict | None:
    """One shared string per verdict: a string of its own per record would cost ~50 bytes each
    in a desired state of 400,000 records. KeyError for anything but pass, fail and None."""
    return _VERDICTS[verdict]


class DeclaredRecord(NamedTuple):
    """A declared record's fields and the place in the specs that declares it, compact.

    A plain tuple, not a model: a plan of 100,000 conversations holds 400,000 of these for the
    whole run, and a pydantic model with its location cost about 1.1 KB each against about
    0.2 KB here (labels, verdicts and file names are shared strings). The fields are
    :class:`MetricRecord`'s, already validated, with ``metric_id`` as lower-case UUID text;
    :attr:`record` gives the model back for callers that want one.
    """

    conversation_id: str
    external_id: str
    label: str
    verdict: Verdict | None
    score: int | float | None
    note: str | None
    metric_id: str | None
    adopt: bool
    file: str
    line: int
    column: int

    @classmethod
    def of(cls, conversation_id: str, record: MetricRecord, location: Location) -> DeclaredRecord:
        """The compact form of a validated record; repeated strings are shared (interned)."""
        return cls.at(conversation_id, record, location.file, location.line, location.column)

    @classmethod
    def at(
        cls, conversation_id: str, record: MetricRecord, file: str, line: int, column: int
    ) -> DeclaredRecord:
        """:meth:`of` without a Location: the loader makes 400,000 of these on a large load."""
        metric_id = record.metric_id
        return cls(
            conversation_id,
            record.external_id,
            sys.intern(record.label),
            shared_verdict(record.verdict),
            record.score,
            record.note,
            str(metric_id) if metric_id is not None else None,
            record.adopt,
            sys.intern(file),
            line,
            column,
        )

    @property
    def record(self) -> MetricRecord:
        """The record as the model a spec file validates to (built on demand, not stored)."""
        return MetricRecord.model_construct(
            external_id=self.external_id,
            label=self.label,
            verdict=self.verdict,
            score=self.score,
            note=self.note,
            metric_id=UUID(self.metric_id) if self.metric_id is not None else None,
            adopt=self.adopt,
        )

    @property
    def location(self) -> Location:
        return Location(self.file, self.line, self.column)

    def fields(self) -> dict[str, Any]:
        """The record's own fields as JSON values, camelCase: what a spec says, not where."""
        return {
            "externalId": self.external_id,
            "label": self.label,
            "verdict": self.verdict,
            "score": self.score,
            "note": self.note,
            "metricId": self.metric_id,
            "adopt": self.adopt,
        }


@dataclass(frozen=True)
class DesiredState:
    """Everything the specs declare, merged across files and checked across files.

    ``conversations`` maps a lower-case conversation UUID to its records sorted by label.
    ``spec_digest`` identifies the exact spec content a plan was made from.
    """

    conversations: Mapping[str, tuple[DeclaredRecord, ...]]
    catalog: Mapping[str, CatalogEntry] = field(default_factory=dict)
    spec_digest: str = ""
    files: tuple[str, ...] = ()

    @property
    def record_count(self) -> int:
        return sum(len(records) for records in self.conversations.values())


class RemoteRecord(LenientModel):
    """A CustomerMetric as the API returns it (docs/zelto-api.md); unknown fields are ignored."""

    id: str
    organization_id: str
    conversation_id: str
    agent_id: str
    label: str
    source: str
    created_at: str
    updated_at: str
    metric_id: str | None = None
    external_id: str | None = None
    verdict: str | None = None
    score: float | None = None
    note: str | None = None


def effective_metric_id(
    record: MetricRecord | DeclaredRecord,
    catalog: Mapping[str, CatalogEntry],
    agent_id: str | None,
    *,
    describe_unknown_agent: bool = False,
) -> tuple[str | None, str | None]:
    """(metricId, problem): the record's own metricId, else the catalog's for the call's agent.

    The one place this is decided (planner, offline preview, apply's unmasking). A per-agent
    catalog with no known agent is a problem, unless ``describe_unknown_agent`` (the offline
    preview, which reads no agent) asks for the whole map as text, ``per agent: A→M, ...``.
    """
    if record.metric_id is not None:
        return str(record.metric_id), None
    entry = catalog.get(record.label)
    if entry is None or entry.metric_id is None:
        return None, None
    found = entry.metric_for_agent(agent_id)
    if found is not None:
        return found, None
    if agent_id is None and isinstance(entry.metric_id, dict) and describe_unknown_agent:
        pairs = sorted(f"{agent}→{metric}" for agent, metric in entry.metric_id.items())
        return "per agent: " + ", ".join(pairs), None
    if agent_id is None:
        return None, (
            f"label '{record.label}' maps metricId per agent, but the conversation's agent is "
            "unknown; set metricId on the record"
        )
    return None, (
        f"the catalog has no metricId for agent {agent_id} under label '{record.label}'; add "
        f"the agent to labels.'{record.label}'.metricId or set metricId on the record"
    )


def inherits_agent_metric(
    record: MetricRecord | DeclaredRecord, catalog: Mapping[str, CatalogEntry]
) -> bool:
    """Whether the record's metricId comes from a per-agent catalog (so the agent must be known)."""
    if record.metric_id is not None:
        return False
    entry = catalog.get(record.label)
    return entry is not None and isinstance(entry.metric_id, dict)


def normalise_score(value: float | None) -> int | float | None:
    """One canonical number per value, so that 92, 92.0 and "92.0 from JSON" are the same."""
    if value is None:
        return None
    number = float(value)
    if math.isfinite(number) and number.is_integer():
        return int(number)
    return number


def normalise_uuid(value: str | UUID | None) -> str | None:
    """Lower-case a UUID string; servers may send upper case and that is not a change."""
    if value is None:
        return None
    return str(value).lower()


def compared_remote(record: RemoteRecord) -> dict[str, Any]:
    """The compared fields of a remote record, normalised."""
    return _compared(record, record.metric_id)


def compared_declared(
    record: MetricRecord | DeclaredRecord, metric_id: str | None
) -> dict[str, Any]:
    """The compared fields of a declared record, normalised, with its effective metric id."""
    return _compared(record, metric_id)


def _compared(
    record: RemoteRecord | MetricRecord | DeclaredRecord, metric_id: str | None
) -> dict[str, Any]:
    """One normalisation for both sides, so that a diff is never the two sides' formats."""
    return {
        "label": record.label,
        "verdict": record.verdict,
        "score": normalise_score(record.score),
        "note": record.note,
        "metricId": normalise_uuid(metric_id),
        "externalId": record.external_id,
    }


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no whitespace, UTF-8 kept. Used for digests."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
