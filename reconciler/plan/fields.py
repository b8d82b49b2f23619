"""A record's compared fields inside a plan: their one representation, masking, and diffs.

Values are the *normalised compared fields* (model.py). A field the configuration marks sensitive
is replaced by a :class:`Masked` digest wherever a plan leaves the process (previews and saved
plans); the applier takes the real value from the specs and checks it against the digest.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import Field, ValidationError

from reconciler.contract.zelto import SUBMIT_IS_FULL_REPLACE
from reconciler.model import COMPARED_FIELDS, StrictModel, canonical_json

__all__ = [
    "FieldDiff",
    "Masked",
    "RecordFields",
    "as_masked",
    "field_diffs",
    "mask_diffs",
    "mask_fields",
    "mask_value",
]


_COMPARED = frozenset(COMPARED_FIELDS)


class Masked(StrictModel):
    """Stands in for a sensitive value: shows that it changed, never what it is."""

    sensitive: str = Field(description="sha256 digest of the value, to detect a changed secret.")


def as_masked(value: Any) -> Masked | None:
    """The :class:`Masked` a value is, also in its JSON form (diffs and saved plans hold that);
    None for a real value. The one test of "is this masked" that renderers and apply use."""
    if isinstance(value, Masked):
        return value
    if isinstance(value, dict) and set(value) == {"sensitive"}:
        try:
            return Masked.model_validate(value)
        except ValidationError:
            return None
    return None


def mask_value(value: Any) -> Masked | None:
    """The masked form of a value; None stays None (absent is not a secret)."""
    if value is None:
        return None
    digest = hashlib.sha256(canonical_json(value).encode()).hexdigest()
    return Masked(sensitive=f"sha256:{digest}")


class RecordFields(StrictModel):
    """The compared fields of one record, normalised (absent = null).

    The one representation of a record's fields from the planner to the POST body: built once
    from the normalised comparison (``from_compared``), masked and unmasked in place
    (``replaced``), diffed field by field (``value``), and turned into a dict only for the
    request (``post_body``) or a saved plan.
    """

    label: str
    external_id: str | None = None
    verdict: str | Masked | None = None
    score: int | float | Masked | None = None
    note: str | Masked | None = None
    metric_id: str | Masked | None = None

    @classmethod
    def from_compared(cls, fields: dict[str, Any]) -> RecordFields:
        """From model.compared_remote / compared_declared output."""
        return cls.model_validate(fields)

    def compared(self) -> dict[str, Any]:
        """Back to the compared-field dict (camelCase keys, masked values as dicts)."""
        return self.model_dump(mode="json")

    def value(self, name: str) -> Any:
        """One field by its compared-field name (``metricId``), masked values in JSON form."""
        found = getattr(self, _ATTRIBUTES[name])
        return found.model_dump(mode="json") if isinstance(found, Masked) else found

    def replaced(self, values: dict[str, Any]) -> RecordFields:
        """A copy with some fields (by compared-field name) replaced: masking and unmasking."""
        return self.model_copy(update={_ATTRIBUTES[name]: v for name, v in values.items()})

    def masked(self) -> dict[str, Masked]:
        """The masked fields, by their compared-field name (``note``, ``metricId``, ...)."""
        return {
            alias: value
            for name, alias in _NAMES
            if isinstance(value := getattr(self, name), Masked)
        }

    def post_body(self) -> dict[str, Any]:
        """The POST body for these fields: declared ones only, none as null (Zelto registry:
        ``null_in_body``). Every declared field goes in, because a POST is a full replace."""
        return {k: v for k, v in self.compared().items() if v is not None}


#: Compared-field name (camelCase, as in COMPARED_FIELDS) → RecordFields attribute.
_ATTRIBUTES: dict[str, str] = {
    info.alias or name: name for name, info in RecordFields.model_fields.items()
}
#: (attribute, compared-field name) pairs, read once: the preflight asks every write of a plan
#: whether it masks a value, and ``type(self).model_fields`` is a pydantic descriptor call each
#: time (20,000 writes: ~0.2 s of preflight before the first POST).
_NAMES: tuple[tuple[str, str], ...] = tuple((name, alias) for alias, name in _ATTRIBUTES.items())


class FieldDiff(StrictModel):
    """One field that differs: before → after (null = absent; a POST clears it)."""

    field: str
    before: Any = None
    after: Any = None

    @property
    def clears(self) -> bool:
        """A field declared absent is cleared, because a POST replaces the whole record (Zelto
        registry: ``submit_full_replace``); were it a merge, the old value would stay."""
        return SUBMIT_IS_FULL_REPLACE and self.after is None and self.before is not None


def field_diffs(before: RecordFields | None, after: RecordFields | None) -> tuple[FieldDiff, ...]:
    """The compared fields that differ, in COMPARED_FIELDS order."""
    return tuple(
        FieldDiff(field=name, before=old, after=new)
        for name in COMPARED_FIELDS
        if (old := before.value(name) if before is not None else None)
        != (new := after.value(name) if after is not None else None)
    )


def mask_fields(fields: RecordFields | None, sensitive: frozenset[str]) -> RecordFields | None:
    """Replace sensitive values by their digests: a plan shows that they change, not what."""
    if fields is None or not sensitive:
        return fields
    return fields.replaced(
        {name: mask_value(fields.value(name)) for name in sorted(sensitive & _COMPARED)}
    )


def mask_diffs(diffs: tuple[FieldDiff, ...], sensitive: frozenset[str]) -> tuple[FieldDiff, ...]:
    """Diffs are computed on the real values, then masked; masked equal values stay equal."""
    if not sensitive:
        return diffs
    return tuple(
        FieldDiff(field=d.field, before=_masked_json(d.before), after=_masked_json(d.after))
        if d.field in sensitive
        else d
        for d in diffs
    )


def _masked_json(value: Any) -> Any:
    """The JSON form of a masked value, so a saved plan reads back to an equal plan."""
    masked = mask_value(value)
    return masked.model_dump(mode="json") if masked is not None else None
