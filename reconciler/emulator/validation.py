"""Request-body rules of the Zelto API, as the contract documents them (see contract.py).

Each problem is reported as (field, message) with the rule and the value received, so a client
developer sees exactly what the server refused; all problems of a body are reported, not the first.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from reconciler.emulator.contract import (
    AT_LEAST_ONE_OF,
    EXTERNAL_ID_MAX_LENGTH,
    LABEL_MAX_LENGTH,
    LABEL_MIN_LENGTH,
    METRIC_INPUT_FIELDS,
    NOTE_MAX_LENGTH,
    SCORE_MAX,
    SCORE_MIN,
    VERDICTS,
    is_uuid,
)

__all__ = ["Problem", "accepted_fields", "short", "utf16_length", "validate_metric_body"]

Problem = tuple[str, str]
_EXAMPLE_UUID = "0b6a1c1e-5f7d-4c1a-9b1e-2f4d8c9e7a10"


def short(value: object, limit: int = 60) -> str:
    """A value for an error message, cut so a 5 MB note does not come back in the error."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def utf16_length(text: str) -> int:
    """What a JavaScript server's ``.length`` says: characters beyond the BMP count twice."""
    return len(text.encode("utf-16-le")) // 2


def _check_string(
    field: str, value: object, low: int, high: int, *, strict: bool
) -> Problem | None:
    if not isinstance(value, str):
        return field, f"{field} must be a string of {low}–{high} characters (got {short(value)})"
    length = utf16_length(value) if strict else len(value)
    unit = "UTF-16 code units" if strict else "characters"
    if not low <= length <= high:
        return field, f"{field} must be a string of {low}–{high} {unit} (got {length})"
    return None


def _check_field(field: str, value: Any, *, strict: bool) -> Problem | None:
    if field == "label":
        return _check_string("label", value, LABEL_MIN_LENGTH, LABEL_MAX_LENGTH, strict=strict)
    if field == "note":
        return _check_string("note", value, 0, NOTE_MAX_LENGTH, strict=strict)
    if field == "externalId":
        return _check_string("externalId", value, 0, EXTERNAL_ID_MAX_LENGTH, strict=strict)
    if field == "verdict" and value not in VERDICTS:
        allowed = " or ".join(repr(v) for v in VERDICTS)
        return field, f"verdict must be {allowed} (got {short(value)})"
    if field == "score" and not (
        _is_number(value) and math.isfinite(value) and SCORE_MIN <= value <= SCORE_MAX
    ):
        return (
            field,
            f"score must be a number from {SCORE_MIN:g} to {SCORE_MAX:g} (got {short(value)})",
        )
    if field == "metricId" and not is_uuid(value):
        return field, f"metricId must be a UUID like {_EXAMPLE_UUID} (got {short(value)})"
    return None


def validate_metric_body(body: object, *, strict: bool = False) -> list[Problem]:
    """Every rule the submit body breaks; empty when it is acceptable.

    ``strict`` adds what the vendor's page does not say (contract.py, STRICT): unknown fields and
    nulls are refused, and lengths count UTF-16 code units.
    """
    if not isinstance(body, Mapping):
        return [("body", f"the body must be a JSON object (got {type(body).__name__})")]
    problems: list[Problem] = []
    allowed = ", ".join(METRIC_INPUT_FIELDS)
    for field in body:
        if field not in METRIC_INPUT_FIELDS and strict:
            problems.append((field, f"unknown field {field!r}; allowed fields: {allowed}"))
    if body.get("label") is None:  # absent, or null (read as absent when lenient)
        problems.append(("label", "label is required (a string of 1–255 characters)"))
    for field in METRIC_INPUT_FIELDS:
        if field not in body:
            continue
        value = body[field]
        if value is None:
            if strict:
                problems.append((field, f"{field} must not be null; leave it out to clear it"))
            continue
        problem = _check_field(field, value, strict=strict)
        if problem:
            problems.append(problem)
    if not any(body.get(field) is not None for field in AT_LEAST_ONE_OF):
        problems.append(("verdict", "provide at least one of verdict or score"))
    return problems


def accepted_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    """What a lenient server stores of a valid body: the documented fields, a null as absent."""
    return {k: v for k, v in body.items() if k in METRIC_INPUT_FIELDS and v is not None}
