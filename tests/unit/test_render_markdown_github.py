"""The pull-request comment as a reviewer sees it: rendered by cmark-gfm, GitHub's own parser.

Reading the Markdown source proves little: ``- **~ update**`` looks right as text, yet cmark-gfm
reads the ``~`` as strikethrough syntax and GitHub shows the asterisks literally. So every check
here is on the HTML that cmark-gfm makes, parsed back with the standard library.
"""

from __future__ import annotations

from html.parser import HTMLParser

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options
from plan_factories import current, declared, desired, remote
from plan_samples import every_action_plan, many_conversations_plan, offline_plan

from reconciler.plan.model import Plan
from reconciler.plan.planner import make_plan
from reconciler.render import render_markdown

HOSTILE = "~~gone~~ **b** </details> <img src=x> @octocat [l](http://x) ```"
# The tags the comment itself writes; anything else came from user text.
OURS = {
    "h3", "table", "thead", "tbody", "tr", "th", "td", "p", "strong", "em", "sub", "details",
    "summary", "code", "pre", "blockquote",
}  # fmt: skip


class _Seen(HTMLParser):
    """What a reader sees: the tags opened and closed, and the text outside code."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.opened: list[str] = []
        self.stack: list[str] = []
        self.prose: list[str] = []
        self.diff_blocks = 0
        self._in_code = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.opened.append(tag)
        self.stack.append(tag)
        if tag in {"code", "pre"}:
            self._in_code += 1
        if tag == "pre" and ("lang", "diff") in attrs:  # cmark-gfm's mark of a ```diff fence
            self.diff_blocks += 1

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()
        if tag in {"code", "pre"}:
            self._in_code -= 1

    def handle_data(self, data: str) -> None:
        if not self._in_code:
            self.prose.append(data)


def _seen(markdown: str) -> _Seen:
    # UNSAFE keeps raw HTML (<details>) as GitHub does before its sanitizer; the safe default
    # would drop it and hide exactly the tags this test must balance.
    rendered = cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)
    seen = _Seen()
    seen.feed(rendered.replace("<!-- reconciler:plan -->", ""))
    seen.close()
    assert not seen.stack, f"left open: {seen.stack}"
    return seen


def _hostile_plan() -> Plan:
    records = [
        declared("qa-h", HOSTILE, note=f"\n# heading\n</details>{HOSTILE}", verdict="pass"),
        declared("qa-u", "Plain", score=2, note=HOSTILE),
    ]
    remotes = [remote("qa-u", "Plain", score=1.0, verdict=None, note="old", rid="r-u")]
    return make_plan(desired(records), current(remotes), target="local")


PLANS = {
    "every-action": every_action_plan,
    "hostile": _hostile_plan,
    "offline": offline_plan,
    "cut": lambda: many_conversations_plan(40),
}


@pytest.mark.parametrize("name", PLANS)
def test_what_a_reviewer_sees_has_no_stray_markup_and_nothing_injected(name: str) -> None:
    markdown = render_markdown(PLANS[name](), limit=6_000 if name == "cut" else 60_000)
    seen = _seen(markdown)
    prose = "".join(seen.prose)
    assert "**" not in prose, "literal asterisks: some emphasis did not render"
    assert "~~" not in prose
    assert "del" not in seen.opened, "strikethrough"
    assert set(seen.opened) <= OURS, f"user text became HTML: {set(seen.opened) - OURS}"
    assert "@octocat" not in prose, "a mention outside code pings someone"
    assert seen.opened.count("details") == markdown.count("<details")


def test_each_conversation_lists_its_changes_in_a_diff_block_github_colours() -> None:
    plan = every_action_plan()
    seen = _seen(render_markdown(plan))
    assert seen.diff_blocks == seen.opened.count("details") == len(plan.conversations) - 1
    rendered = cmarkgfm.github_flavored_markdown_to_html(render_markdown(plan))
    assert "\n! update Empathy [qa-empathy]  (specs/a.yaml:8:7)\n-     score: 80\n" in rendered
    assert "\n+ create Compliance Check [qa-new]" in rendered
    assert "<code>- conflict **Bold** &lt;b&gt;x&lt;/b&gt; @octocat [qa-conflict]" in rendered
