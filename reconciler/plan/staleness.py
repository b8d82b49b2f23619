"""What changed since a plan was made, in the words of a refused stale plan.

apply re-reads every conversation it writes to and refuses the whole apply when one changed
(its fingerprint). A plan keeps, for each record it writes, that record as Zelto held it then
(``Change.before``; None for a create), so the refusal can say what changed: the records then and
now, keyed by the plan's names for them, are nested data, and deepdiff's structural diff is the
job (``'Empathy' (qa-1): score 80 → 95``, ``'Tone' (qa-2): appeared``). The planner itself keeps
its hand-written field diff: bench/bench_field_diff.py measured deepdiff ~60x slower there
(docs/performance.md).

Records the plan does not write are only fingerprinted, so a change among them is named as such.
Values of sensitive fields are never shown: they are compared masked, as the plan holds them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from deepdiff import DeepDiff

from reconciler.model import RemoteRecord, compared_remote
from reconciler.plan.fields import RecordFields, mask_value
from reconciler.plan.model import Change, ConversationPlan

__all__ = ["what_changed"]

#: Characters of a value shown in a refusal (a note may be long; the plan shows it whole).
_SHOWN = 40
_UNWRITTEN = "a record the plan does not write changed, appeared or was removed"


def what_changed(
    conversation: ConversationPlan, current: Sequence[RemoteRecord], sensitive: Iterable[str]
) -> list[str]:
    """One phrase per difference between the records ``conversation`` writes, as planned and as
    ``current`` holds them now; a phrase for the rest when those records did not change."""
    masked = frozenset(sensitive)
    then: dict[str, Any] = {}
    now: dict[str, Any] = {}
    for change in conversation.writes:
        name = f"'{change.label}' ({change.external_id or 'no externalId'})"
        then[name] = change.before.compared() if change.before is not None else None
        held = _held_now(change, current)
        now[name] = _masked(compared_remote(held), masked) if held is not None else None
    found = DeepDiff(then, now, view="tree")
    phrases = [
        _phrase(level.path(output_format="list"), level.t1, level.t2, masked)
        for kind in ("values_changed", "type_changes", "dictionary_item_added")
        for level in found.get(kind, [])
    ]
    return sorted(set(phrases)) or [_UNWRITTEN]


def _held_now(change: Change, current: Sequence[RemoteRecord]) -> RemoteRecord | None:
    """The record the change was planned against (by its id), or for a create, whatever now
    holds its label."""
    if change.remote_id is not None:
        return next((r for r in current if r.id == change.remote_id), None)
    return next((r for r in current if r.label == change.label), None)


def _masked(fields: dict[str, Any], sensitive: frozenset[str]) -> dict[str, Any]:
    """As the plan holds them: RecordFields' form, sensitive values as digests."""
    record = RecordFields.from_compared(fields)
    if sensitive:
        record = record.replaced(
            {name: mask_value(record.value(name)) for name in sensitive if name in fields}
        )
    return record.compared()


def _phrase(path: list[Any], before: Any, after: Any, sensitive: frozenset[str]) -> str:
    name = path[0]
    if len(path) == 1:
        return f"{name}: {'appeared' if before is None else 'was removed'}"
    field = str(path[1])
    if field in sensitive or len(path) > 2:
        return f"{name}: {field} changed"
    return f"{name}: {field} {_shown(before)} → {_shown(after)}"


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"
