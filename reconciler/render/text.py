"""The terminal preview of a plan: per conversation, one line per change, fields old → new.

Pure: Plan in, str out. Colour is an argument (the CLI decides from the TTY and ``NO_COLOR``)
so golden files stay plain text and a log file never fills with escape codes.
"""

from __future__ import annotations

from collections.abc import Callable

import click

from reconciler.plan.model import Action, Change, ConversationPlan, Plan
from reconciler.render._values import (
    SYMBOLS,
    ShownDiff,
    details,
    headline,
    listed_changes,
    shown_conversations,
    summary_title,
    verdict_line,
    visible,
)

__all__ = ["render_text"]

_COLOURS: dict[Action, str] = {
    Action.CREATE: "green",
    Action.UPDATE: "yellow",
    Action.RELABEL: "cyan",
    Action.ADOPT: "magenta",
    Action.CONFLICT: "red",
    Action.ORPHAN: "yellow",
    Action.UNMANAGED: "bright_black",
    Action.ERROR: "red",
}

Paint = Callable[[str, Action | None], str]


def render_text(plan: Plan, *, color: bool = False, verbose: bool = False) -> str:
    """The whole plan as terminal text, ending with a newline."""
    paint = _painter(color)
    lines = [f"Plan for target {plan.target} (specs {_short(plan.spec_digest)})"]
    if plan.offline:
        lines.append("offline: not checked against Zelto (no current state was read)")
    if plan.scope:
        lines.append(f"scope: {plan.scope}")
    if plan.sensitive_fields:
        lines.append(f"masked (sensitive): {', '.join(plan.sensitive_fields)}")
    for conversation in shown_conversations(plan, verbose=verbose):
        lines.append("")
        lines.extend(_conversation(conversation, paint, verbose=verbose))
    lines.append("")
    lines.append(paint(summary_title(plan), Action.ERROR if plan.summary.failed else None))
    lines.append(verdict_line(plan))
    if plan.summary.orphan:
        count = plan.summary.orphan
        records, them = ("record", "it") if count == 1 else ("records", "them")
        lines.append(
            f"{count} orphaned {records} cannot be deleted through the API: "
            f"clear {them} in the Zelto app."
        )
    return "\n".join(lines) + "\n"


def _short(digest: str) -> str:
    return digest[:19] if digest.startswith("sha256:") else digest or "(none)"


def _painter(color: bool) -> Paint:
    def paint(text: str, action: Action | None) -> str:
        if not color:
            return text
        if action is None:
            return click.style(text, bold=True)
        return click.style(text, fg=_COLOURS.get(action))

    return paint


def _conversation(conversation: ConversationPlan, paint: Paint, *, verbose: bool) -> list[str]:
    lines = [paint(f"conversation {conversation.id}", None)]
    if conversation.error is not None:
        lines.append(paint(f"  x error: {visible(conversation.error)}", Action.ERROR))
    for change in listed_changes(conversation, verbose=verbose):
        lines.extend(_change(change, paint))
    return lines


def _change(change: Change, paint: Paint) -> list[str]:
    where = f"  ({change.source})" if change.source else ""
    head = f"  {SYMBOLS[change.action]} {change.action.value} {headline(change)}{where}"
    lines = [paint(head, change.action)]
    if change.message:
        lines.append(f"      {visible(change.message)}")
    lines.extend(f"      {_field_line(d)}" for d in details(change))
    return lines


def _field_line(diff: ShownDiff) -> str:
    remark = f"  ({diff.remark})" if diff.remark else ""
    if not diff.before:
        return f"{diff.field}: {diff.after}{remark}"
    return f"{diff.field}: {diff.before} → {diff.after}{remark}"
