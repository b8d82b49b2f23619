"""Siro metric values of one recording → customer-metric records, by the configured mapping.

Pure: no I/O. Every value that cannot become a correct record becomes a :class:`Problem` naming the
recording and the metric instead; nothing is ever guessed (a score is never clamped, a missing
number never becomes 0).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from string import Formatter
from typing import Literal

from pydantic import ValidationError

from reconciler.config import ScoreSource, SiroMetricMapping, SiroSettings, VerdictRule
from reconciler.model import MetricRecord, Verdict

__all__ = [
    "AI_METRIC",
    "Problem",
    "RecordingRecords",
    "SiroValue",
    "external_id_for",
    "records_for_recording",
]

AI_METRIC = "AI_METRIC"

Severity = Literal["error", "warning"]

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}


@dataclass(frozen=True)
class SiroValue:
    """One scorecard metric value for one recording, as the importer needs it."""

    metric_type: str
    name: str
    id: str
    unit: str = ""
    unit_abbreviated: str = ""
    description: str = ""
    value: float | None = None
    pass_rate: float | None = None

    def describe(self) -> str:
        """How messages name this metric: its type, and its name when that says more."""
        return f"{self.metric_type} {self.name!r}"


@dataclass(frozen=True, order=True)
class Problem:
    """Why a record was not made (error) or what the user should know (warning)."""

    severity: Severity
    recording_id: str
    message: str
    metric: str = ""

    def __str__(self) -> str:
        """``recording R, metric M: message``; run-wide problems (no recording) are the message."""
        parts = [f"recording {self.recording_id}"] if self.recording_id else []
        if self.metric:
            parts.append(f"metric {self.metric}")
        return f"{', '.join(parts)}: {self.message}" if parts else self.message


@dataclass(frozen=True)
class RecordingRecords:
    """What one recording produced: records (sorted by label), problems, unmapped metrics."""

    recording_id: str
    conversation_id: str
    records: tuple[MetricRecord, ...]
    problems: tuple[Problem, ...] = ()
    unmapped: tuple[SiroValue, ...] = ()
    matched: frozenset[str] = field(default_factory=frozenset)

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)


class _RecordError(Exception):
    """Internal: one metric cannot become a record; carries the user-facing reason."""


def external_id_for(recording_id: str, mapping: SiroMetricMapping, value: SiroValue) -> str:
    """``siro:<recording>:<metricType>``, plus ``:<name>`` when the mapping matches by name.

    Built from the mapping and Siro's stable fields only (never the metric value's ``id``, whose
    stability Siro does not document), so re-imports keep every record's identity. Name-matched
    metrics (AI_METRIC repeats within a recording) need the name to stay unique.
    """
    if mapping.name is not None:
        return f"siro:{recording_id}:{value.metric_type}:{value.name}"
    return f"siro:{recording_id}:{value.metric_type}"


def records_for_recording(
    recording_id: str,
    conversation_id: str,
    values: Iterable[SiroValue],
    settings: SiroSettings,
) -> RecordingRecords:
    """Map every value of one recording; unmapped values are listed, not turned into records."""
    by_name = {m.name: m for m in settings.metrics if m.name is not None}
    by_type = {m.metric_type: m for m in settings.metrics if m.metric_type is not None}
    grouped: dict[str, tuple[SiroMetricMapping, list[SiroValue]]] = {}
    unmapped: list[SiroValue] = []
    for value in sorted(values, key=lambda v: (v.metric_type, v.name, v.id)):
        mapping = by_name.get(value.name) or by_type.get(value.metric_type)
        if mapping is None:
            unmapped.append(value)
            continue
        grouped.setdefault(mapping.key, (mapping, []))[1].append(value)
    records: list[MetricRecord] = []
    problems: list[Problem] = []
    for mapping, matched in grouped.values():
        if len(matched) > 1:
            problems.append(_ambiguous(recording_id, mapping, matched))
            continue
        try:
            records.append(_record(recording_id, mapping, matched[0]))
        except _RecordError as exc:
            problems.append(Problem("error", recording_id, str(exc), matched[0].describe()))
    return RecordingRecords(
        recording_id=recording_id,
        conversation_id=conversation_id,
        records=tuple(sorted(records, key=lambda r: r.label)),
        problems=tuple(sorted(problems)),
        unmapped=tuple(unmapped),
        matched=frozenset(grouped),
    )


def _ambiguous(
    recording_id: str, mapping: SiroMetricMapping, values: Sequence[SiroValue]
) -> Problem:
    names = ", ".join(v.describe() for v in values)
    return Problem(
        "error",
        recording_id,
        f"the mapping for {mapping.key} matches {len(values)} metrics ({names}); one record per "
        "label is possible, so map these metrics by name",
        mapping.key,
    )


def _record(recording_id: str, mapping: SiroMetricMapping, value: SiroValue) -> MetricRecord:
    score = _score(mapping.score, value) if mapping.score is not None else None
    verdict = _verdict(mapping.verdict, value) if mapping.verdict is not None else None
    note = _note(mapping.note, recording_id, value) if mapping.note is not None else None
    try:
        return MetricRecord(
            external_id=external_id_for(recording_id, mapping, value),
            label=mapping.label,
            score=score,
            verdict=verdict,
            note=note,
        )
    except ValidationError as exc:
        reasons = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_input=False)
        )
        raise _RecordError(
            f"the record for label {mapping.label!r} is invalid: {reasons}"
        ) from None


def _number(value: SiroValue, source: str) -> float:
    number = value.pass_rate if source == "passRate" else value.value
    if number is None:
        raise _RecordError(
            f"Siro sent no {source} (null or absent: nothing qualified in the window), so no "
            "record is made"
        )
    if not math.isfinite(number):
        raise _RecordError(f"{source} {number} is not a finite number")
    return number


def _score(source: ScoreSource, value: SiroValue) -> int | float:
    number = _number(value, source)
    if not 0 <= number <= 100:
        unit = f" ({value.unit})" if value.unit and source == "value" else ""
        raise _RecordError(
            f"score from {source} {_display(number)}{unit} is outside 0-100; a score must be "
            "0-100 (score from passRate, or make a verdict with a threshold)"
        )
    return _display(number)


def _verdict(rule: VerdictRule, value: SiroValue) -> Verdict:
    number = _number(value, rule.source)
    return "pass" if _COMPARE[rule.op](number, float(rule.threshold)) else "fail"


def _note(template: str, recording_id: str, value: SiroValue) -> str:
    fields: dict[str, object] = {
        "description": value.description,
        "id": value.id,
        "metricType": value.metric_type,
        "name": value.name,
        "passRate": None if value.pass_rate is None else _display(value.pass_rate),
        "recordingId": recording_id,
        "unit": value.unit,
        "unitAbbreviated": value.unit_abbreviated,
        "value": None if value.value is None else _display(value.value),
    }
    used = _placeholders(template)
    missing = sorted(name for name in used if fields.get(name) is None)
    if missing:
        raise _RecordError(
            f"the note template uses {', '.join('{' + m + '}' for m in missing)} but Siro sent "
            "no such number for this metric"
        )
    try:
        return template.format(**fields)
    except (ValueError, TypeError) as exc:
        raise _RecordError(f"the note template cannot be filled in: {exc}") from None


def _placeholders(template: str) -> set[str]:
    return {f for _, f, _, _ in Formatter().parse(template) if f}


def _display(number: float) -> int | float:
    """92.0 → 92, so files and notes never show a spurious ``.0``."""
    return int(number) if float(number).is_integer() else float(number)
