"""How values, symbols and change headlines look, shared by the text and Markdown renderers.

A reviewer must see every difference the planner saw. Notes compare exactly, so whitespace is
made visible (``⏎`` for a newline, ``⇥`` for a tab, ``·`` for a trailing or — in a
whitespace-only change — every space); long notes are cut to a window around the first
difference, so the part that changes is always on screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reconciler.display import escape_controls
from reconciler.plan.fields import FieldDiff, as_masked
from reconciler.plan.model import Action, Change, ConversationPlan, Plan

SYMBOLS: dict[Action, str] = {
    Action.CREATE: "+",
    Action.UPDATE: "~",
    Action.RELABEL: "±",
    Action.ADOPT: ">",
    Action.CONFLICT: "!",
    Action.ORPHAN: "?",
    Action.UNMANAGED: ".",
    Action.ERROR: "x",
    Action.NOOP: "=",
}

#: Characters of a string value shown before it is cut to a window around its first difference.
VALUE_WIDTH = 72
#: Characters of unchanged text kept before the first difference in a cut value.
LEAD = 24

_ESCAPES = {"\n": "⏎", "\t": "⇥", "\r": "␍"}


@dataclass(frozen=True)
class ShownDiff:
    """One field difference as displayed: old and new, and a remark (cleared, whitespace)."""

    field: str
    before: str
    after: str
    remark: str = ""


def listed_changes(conversation: ConversationPlan, *, verbose: bool) -> tuple[Change, ...]:
    """The changes a preview lists: everything but unmanaged records, which need --verbose."""
    if verbose:
        return conversation.changes
    return tuple(c for c in conversation.changes if c.action is not Action.UNMANAGED)


def shown_conversations(plan: Plan, *, verbose: bool) -> tuple[ConversationPlan, ...]:
    """Conversations with something to show; unchanged ones are only counted."""
    return tuple(
        c for c in plan.conversations if c.error is not None or listed_changes(c, verbose=verbose)
    )


def visible(text: str, *, all_spaces: bool = False) -> str:
    """Control whitespace as symbols; trailing spaces (or all spaces) as ``·``; every other
    terminal control or bidi character as an escape (:func:`reconciler.display.escape_controls`):
    labels, notes and server messages are untrusted."""
    body = escape_controls("".join(_ESCAPES.get(ch, ch) for ch in text))
    if all_spaces:
        return body.replace(" ", "·")
    stripped = body.rstrip(" ")
    return stripped + "·" * (len(body) - len(stripped))


def show_value(value: Any, *, all_spaces: bool = False, start: int = 0) -> str:
    """One value for display: strings quoted with whitespace visible and cut when long."""
    if value is None:
        return "(none)"
    masked = as_masked(value)
    if masked is not None:
        return f"(sensitive, {masked.sensitive[:15]}…)"
    if isinstance(value, str):
        return _quoted(value, all_spaces=all_spaces, start=start)
    return str(value)


def _quoted(text: str, *, all_spaces: bool, start: int) -> str:
    if len(text) <= VALUE_WIDTH:
        return '"' + visible(text, all_spaces=all_spaces) + '"'
    begin = min(start, max(0, len(text) - VALUE_WIDTH))
    window = text[begin : begin + VALUE_WIDTH]
    head = "…" if begin > 0 else ""
    tail = "…" if begin + VALUE_WIDTH < len(text) else ""
    return f'{head}"{visible(window, all_spaces=all_spaces)}"{tail} ({len(text):,} chars)'


def whitespace_only(before: Any, after: Any) -> bool:
    """Two strings that differ only in whitespace: the change a reader would otherwise miss."""
    if not (isinstance(before, str) and isinstance(after, str)) or before == after:
        return False
    return before.split() == after.split()


def _first_difference(before: str, after: str) -> int:
    for index, (a, b) in enumerate(zip(before, after, strict=False)):
        if a != b:
            return index
    return min(len(before), len(after))


def shown_diff(diff: FieldDiff, action: Action) -> ShownDiff:
    """A field difference for display, with both sides cut to the same window."""
    spaces = whitespace_only(diff.before, diff.after)
    start = 0
    if isinstance(diff.before, str) and isinstance(diff.after, str):
        start = max(0, _first_difference(diff.before, diff.after) - LEAD)
    before = show_value(diff.before, all_spaces=spaces, start=start)
    after = show_value(diff.after, all_spaces=spaces, start=start)
    remark = "whitespace only" if spaces else ""
    if as_masked(diff.before) is not None and as_masked(diff.after) is not None:
        remark = "sensitive value changes"
    if diff.clears:
        after = "(not on the new record)" if action is Action.RELABEL else "(cleared)"
    return ShownDiff(field=diff.field, before=before, after=after, remark=remark)


def new_values(change: Change) -> tuple[ShownDiff, ...]:
    """For a create: the record's declared fields (label and externalId are in the headline)."""
    return tuple(
        ShownDiff(field=d.field, before="", after=show_value(d.after))
        for d in change.diff
        if d.field not in {"label", "externalId"} and d.after is not None
    )


def details(change: Change) -> tuple[ShownDiff, ...]:
    """The field lines under a change's headline: new values, or old → new per field.

    Orphans, unmanaged records and errors have none (their message says it all); a conflict's
    fields are what adopting it would change, and say so.
    """
    if change.action is Action.CREATE:
        return new_values(change)
    if change.action in {Action.ORPHAN, Action.UNMANAGED, Action.ERROR}:
        return ()
    shown = tuple(shown_diff(d, change.action) for d in change.diff)
    if change.action is Action.CONFLICT:
        return tuple(
            ShownDiff(f"if adopted, {d.field}", d.before, d.after, d.remark) for d in shown
        )
    return shown


def headline(change: Change) -> str:
    """``label [externalId]``: the two identities of a record, the way a reviewer names it."""
    ident = f" [{visible(change.external_id)}]" if change.external_id is not None else ""
    ident = ident or " [no externalId]"
    return f"{visible(change.label)}{ident}"


def summary_title(plan: Plan) -> str:
    """The one-line summary that names the target (and says when nothing was checked)."""
    offline = " (offline: not checked against Zelto)" if plan.offline else ""
    return f"Plan for target {plan.target}{offline}: {plan.summary.line()}"


def verdict_line(plan: Plan) -> str:
    """What the plan means for apply, in one sentence."""
    summary = plan.summary
    if summary.failed:
        parts = []
        if summary.conflict:
            parts.append(f"{summary.conflict} conflict{'s' if summary.conflict != 1 else ''}")
        if summary.error:
            parts.append(f"{summary.error} error{'s' if summary.error != 1 else ''}")
        return f"The plan failed: {' and '.join(parts)} must be resolved before apply."
    if summary.writes == 0:
        return "Nothing to apply: Zelto already holds what the specs declare."
    return f"Apply would write {summary.writes} record{'s' if summary.writes != 1 else ''}."
