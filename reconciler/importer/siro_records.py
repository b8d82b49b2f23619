"""Siro metric values of one recording → customer-metric records, by the configured mapping.

Pure: no I/O. Every value that cannot become a correct record becomes a :class:`Problem` naming the
recording, the metric, the value and the rule instead; nothing is ever guessed (a score is never
clamped unless the rule says so, a missing number never becomes 0). Only the fields a mapping uses
are checked, where it uses them: Siro's answer is read as the vendor documents it, and a field no
mapping uses (the vendor's own example has a ``passRate`` of 123) never fails a recording.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from string import Formatter
from typing import Literal

from pydantic import ValidationError

from reconciler.config.siro import ScoreRule, SiroMetricMapping, SiroSettings, VerdictRule
from reconciler.contract.siro import PASS_RATE_RANGE, SCORE_UNITS
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

    metric_type: str | None
    name: str | None
    id: str | None = None
    unit: str | None = None
    unit_abbreviated: str | None = None
    description: str | None = None
    value: object = None
    pass_rate: object = None

    def describe(self) -> str:
        """How messages name this metric: its type, and its name when that says more."""
        return f"{self.metric_type or '(no metricType)'} {self.name!r}"


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
    for value in sorted(values, key=lambda v: (v.metric_type or "", v.name or "", v.id or "")):
        mapping = by_name.get(value.name or "") or by_type.get(value.metric_type or "")
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
    rule = mapping.score_rule
    score = _score(rule, value) if rule is not None else None
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


def _number(value: SiroValue, source: str, rule: str) -> float:
    """The number a rule uses; absent, null or not a number is an error naming the rule."""
    number = value.pass_rate if source == "passRate" else value.value
    if number is None:
        raise _RecordError(
            f"Siro sent no {source} (null or absent: nothing qualified in the window), so "
            f"{rule} makes no record"
        )
    if isinstance(number, bool) or not isinstance(number, int | float):
        raise _RecordError(f"{source} {number!r} is not a number; {rule} needs one")
    if not math.isfinite(number):
        raise _RecordError(f"{source} {number} is not a finite number; {rule} needs one")
    return float(number)


def _score(rule: ScoreRule, value: SiroValue) -> int | float:
    """The 0-100 score the rule makes of the number, or an error naming value and rule."""
    said = rule.describe()
    number = _number(value, rule.source, said)
    shown = f"{rule.source} {_display(number)}" + (
        f" ({value.unit})" if value.unit and rule.source == "value" else ""
    )
    if rule.range is not None:
        low, high = rule.range
        if not low <= number <= high and not rule.clamp:
            raise _RecordError(
                f"{shown} is outside [{low:g}, {high:g}] of {said} (add clamp: true to make "
                "such values 0 or 100)"
            )
        score = (min(max(number, low), high) - low) / (high - low) * 100
        return _display(round(score, 2))
    low, high = PASS_RATE_RANGE
    if rule.scale is not None:
        score = number * rule.scale
        if not low <= score <= high:
            raise _RecordError(
                f"{shown} scaled by {rule.scale:g} is {_display(score)}, outside 0-100 ({said})"
            )
        return _display(score)
    _check_unit(rule, value, shown, said)
    if not low <= number <= high:
        raise _RecordError(f"{shown} is outside 0-100, what {said} accepts")
    return _display(number)


def _check_unit(rule: ScoreRule, value: SiroValue, shown: str, said: str) -> None:
    """A raw value is a score only when its unit is one: 45 seconds is not a score of 45."""
    if rule.source != "value" or (value.unit or "").strip().lower() in SCORE_UNITS:
        return
    raise _RecordError(
        f"{shown} is in unit {value.unit!r}, not a 0-100 score, so {said} cannot use it; write "
        "score: {from: value, range: [low, high]} or {from: value, scale: N}"
    )


def _verdict(rule: VerdictRule, value: SiroValue) -> Verdict:
    said = f"verdict: {{from: {rule.source}, op: '{rule.op}', threshold: {rule.threshold:g}}}"
    number = _number(value, rule.source, said)
    return "pass" if _COMPARE[rule.op](number, float(rule.threshold)) else "fail"


def _note(template: str, recording_id: str, value: SiroValue) -> str:
    fields: dict[str, object] = {
        "description": value.description,
        "id": value.id,
        "metricType": value.metric_type,
        "name": value.name,
        "passRate": _shown(value.pass_rate),
        "recordingId": recording_id,
        "unit": value.unit,
        "unitAbbreviated": value.unit_abbreviated,
        "value": _shown(value.value),
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


def _shown(number: object) -> object:
    """A number for a note: without a spurious ``.0``; anything else as sent."""
    if isinstance(number, int | float) and not isinstance(number, bool) and math.isfinite(number):
        return _display(number)
    return number


def _display(number: float) -> int | float:
    """92.0 → 92, so files and notes never show a spurious ``.0``."""
    return int(number) if float(number).is_integer() else float(number)
