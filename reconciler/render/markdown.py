"""The pull-request comment: summary table first, one collapsible block per conversation.

Each conversation's changes sit in a fenced ``diff`` block, as Atlantis and tfcmt show Terraform
plans: GitHub colours a line by its first character (``+`` green, ``-`` red, ``!`` orange), and
nothing inside a fence is Markdown or HTML. Marked-up list items were fragile: cmark-gfm, GitHub's
parser, read ``**~ update**`` as the start of a strikethrough and showed the asterisks literally
(docs/plan.md, "The pull-request comment").

User text (labels, externalIds, notes, server messages) is untrusted: it is shown inside the fence
(one line each, so it can never start a line and close the fence), in code spans, or escaped
(where Markdown, HTML and @mentions are inert), so a note cannot restyle the comment,
inject a link or ping anyone. The comment has a hard size cap below GitHub's 65,536 characters;
when a plan is larger, whole conversations are left out (conflicts and errors kept first) and
the comment says how many and how to see everything.
"""

from __future__ import annotations

import html
import re
from collections import Counter

from reconciler.display import escape_controls
from reconciler.plan.model import ACTION_ORDER, Action, Change, ConversationPlan, Plan
from reconciler.render._values import (
    ShownDiff,
    details,
    headline,
    listed_changes,
    shown_conversations,
    verdict_line,
    visible,
)

__all__ = ["DEFAULT_LIMIT", "PLAN_MARKER", "render_markdown"]

#: The hidden line a CI step finds to update one comment in place (``reconciler comment``).
PLAN_MARKER = "<!-- reconciler:plan -->"
#: Characters; GitHub refuses comments over 65,536, and the comment step adds its own lines.
DEFAULT_LIMIT = 60_000
#: A conversation block starts open when it lists at most this many changes.
OPEN_UP_TO = 10

_SUMMARY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("create", "create"),
    ("update", "update"),
    ("relabel", "relabel"),
    ("adopt", "adopt"),
    ("conflict", "conflict"),
    ("orphan", "orphan"),
    ("unmanaged", "unmanaged"),
    ("error", "error"),
    ("noop", "unchanged"),
)
#: The first character of a change's lines in the ``diff`` fence, which decides GitHub's colour:
#: green for what is added, orange for what changes (Atlantis writes Terraform's ``~`` as ``!``),
#: red for what needs a person (conflicts, errors, orphans to clear by hand), none for the rest.
_DIFF_MARKERS: dict[Action, str] = {
    Action.CREATE: "+",
    Action.UPDATE: "!",
    Action.RELABEL: "!",
    Action.ADOPT: "!",
    Action.CONFLICT: "-",
    Action.ORPHAN: "-",
    Action.ERROR: "-",
}
# Room kept for the note that says what was cut (it lists no ids, so its size is bounded).
_CUT_NOTE_RESERVE = 600
# Escaped wherever user text sits mid-line; line-start syntax (lists, headings, quotes) cannot
# occur because such text never starts a line.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def render_markdown(plan: Plan, *, verbose: bool = False, limit: int = DEFAULT_LIMIT) -> str:
    """The plan as a GitHub comment body of at most ``limit`` characters."""
    head = _head(plan)
    blocks = [
        (c, _conversation(c, verbose=verbose)) for c in shown_conversations(plan, verbose=verbose)
    ]
    budget = limit - len(head) - _CUT_NOTE_RESERVE
    kept = _fit(blocks, budget)
    body = [head, *(text for conversation, text in blocks if conversation.id in kept)]
    cut = [conversation for conversation, _ in blocks if conversation.id not in kept]
    if cut:
        body.append(_cut_note(cut))
    return "".join(body)


def code(text: str) -> str:
    """An inline code span that holds any text literally, whitespace made visible."""
    shown = visible(text).replace("\n", " ")
    longest = max((len(run) for run in re.findall(r"`+", shown)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if shown.startswith("`") or shown.endswith("`") or not shown.strip() else ""
    return f"{fence}{pad}{shown}{pad}{fence}"


def escape(text: str) -> str:
    """Prose with user or server text in it: no Markdown, no HTML, one line."""
    one_line = escape_controls(" ".join(text.split()))
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(one_line, quote=False)).replace("@", "&#64;")


def _head(plan: Plan) -> str:
    lines = [PLAN_MARKER, f"### reconciler plan for target {code(plan.target)}", ""]
    if plan.offline:
        lines += ["> **Offline plan: not checked against Zelto.** No current state was read.", ""]
    if plan.scope:
        lines += [f"Scope: {escape(plan.scope)}", ""]
    summary = plan.summary.model_dump()
    lines += [
        "| " + " | ".join(title for _, title in _SUMMARY_COLUMNS) + " |",
        "|" + "---:|" * len(_SUMMARY_COLUMNS),
        "| " + " | ".join(str(summary[key]) for key, _ in _SUMMARY_COLUMNS) + " |",
        "",
        f"**{escape(verdict_line(plan))}**",
        "",
        f"<sub>{escape(plan.summary.line())} · specs {code(plan.spec_digest[:19])}</sub>",
        "",
    ]
    if plan.sensitive_fields:
        lines += [f"Masked (sensitive): {', '.join(code(f) for f in plan.sensitive_fields)}", ""]
    return "\n".join(lines) + "\n"


def _fit(blocks: list[tuple[ConversationPlan, str]], budget: int) -> set[str]:
    """Which conversations fit: failing ones (conflicts, errors) first, then in plan order."""
    ordered = sorted(blocks, key=lambda item: (not _failing(item[0]), item[0].id))
    kept: set[str] = set()
    used = 0
    for conversation, text in ordered:
        if used + len(text) <= budget:
            kept.add(conversation.id)
            used += len(text)
    return kept


def _failing(conversation: ConversationPlan) -> bool:
    failing = {Action.CONFLICT, Action.ERROR}
    return conversation.error is not None or any(c.action in failing for c in conversation.changes)


def _cut_note(cut: list[ConversationPlan]) -> str:
    changes = sum(len(c.changes) + (1 if c.error else 0) for c in cut)
    return (
        f"\n**{len(cut):,} conversation{'s' if len(cut) != 1 else ''} ({changes:,} listed "
        "change(s)) not shown: this comment is capped below GitHub's size limit.** The summary "
        "above counts everything. See the whole plan with `reconciler plan --format text`, or "
        "in the plan artifact of this CI run.\n"
    )


def _conversation(conversation: ConversationPlan, *, verbose: bool) -> str:
    changes = listed_changes(conversation, verbose=verbose)
    opened = " open" if len(changes) <= OPEN_UP_TO else ""
    lines: list[str] = []
    if conversation.error is not None:
        lines.append(f"- error: {visible(conversation.error)}")
    for change in changes:
        lines.extend(_change(change))
    return (
        "\n".join(
            [
                f"<details{opened}>",
                f"<summary><code>{html.escape(conversation.id)}</code>: "
                f"{_counts(conversation, changes)}</summary>",
                "",
                *_fenced("diff", lines),
                "",
                "</details>",
                "",
            ]
        )
        + "\n"
    )


def _fenced(language: str, lines: list[str]) -> list[str]:
    """A fenced code block that no line of ``lines`` can close, whatever backticks it holds."""
    longest = max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{language}", *lines, fence]


def _counts(conversation: ConversationPlan, changes: tuple[Change, ...]) -> str:
    """``1 to create, 2 to update``-style counts in the order a reviewer reads actions."""
    counted = Counter(change.action for change in changes)
    if conversation.error is not None:
        counted[Action.ERROR] += 1
    counted[Action.NOOP] = conversation.noop
    names = {Action.NOOP: "unchanged"}
    return ", ".join(
        f"{counted[action]} {names.get(action, action.value)}"
        for action in ACTION_ORDER
        if counted[action]
    )


def _change(change: Change) -> list[str]:
    """A headline, then what it says and each field as ``-`` old / ``+`` new lines."""
    marker = _DIFF_MARKERS.get(change.action, " ")
    where = f"  ({visible(change.source)})" if change.source else ""
    lines = [f"{marker} {change.action.value} {headline(change)}{where}"]
    if change.message:
        lines.append(f"      {visible(change.message)}")
    for diff in details(change):
        lines.extend(_field_lines(diff))
    return lines


def _field_lines(diff: ShownDiff) -> list[str]:
    remark = f"  ({diff.remark})" if diff.remark else ""
    after = f"+     {diff.field}: {diff.after}{remark}"
    if not diff.before:
        return [after]
    return [f"-     {diff.field}: {diff.before}", after]
