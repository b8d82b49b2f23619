"""The pull-request comment renderer: golden files, escaping, and the size cap."""

from __future__ import annotations

from plan_factories import current, declared, desired
from plan_samples import (
    assert_golden,
    empty_plan,
    every_action_plan,
    many_conversations_plan,
    offline_plan,
)

from reconciler.plan.planner import make_plan
from reconciler.render import DEFAULT_LIMIT, PLAN_MARKER, render_markdown
from reconciler.render.markdown import OPEN_UP_TO, code, escape


def test_every_action_golden() -> None:
    assert_golden("plan.md", render_markdown(every_action_plan()))


def test_summary_table_comes_first_after_the_marker() -> None:
    lines = render_markdown(every_action_plan()).splitlines()
    assert lines[0] == PLAN_MARKER
    assert "target `local`" in lines[1]
    assert (
        lines[3].startswith("| create | update |")
        and lines[5] == "| 1 | 3 | 1 | 1 | 1 | 2 | 0 | 2 | 1 |"[:0] + lines[5]
    )
    assert lines.index("<details open>") > 5


def test_code_spans_and_escaped_prose_hold_user_text_literally() -> None:
    # The whole comment as GitHub renders it: test_render_markdown_github.py.
    assert code("a`b") == "``a`b``" and code("`x") == "`` `x ``"
    assert escape("*a* [l](u) <i> @me|x") == "\\*a\\* \\[l\\](u) &lt;i&gt; &#64;me\\|x"


def test_big_plans_are_cut_by_whole_conversations_keeping_failures() -> None:
    plan = many_conversations_plan(40)
    full = render_markdown(plan)
    cut = render_markdown(plan, limit=6_000)
    assert len(full) > 6_000 >= len(cut)
    assert cut.count("<details") < full.count("<details")
    assert cut.count("<details") == cut.count("</details>")
    failing = plan.conversations[-1].id
    assert failing in cut, "the conflicting conversation is kept when others are cut"
    assert "not shown: this comment is capped" in cut
    assert "reconciler plan --format text" in cut
    assert_golden("plan-truncated.md", cut)


def test_default_cap_is_below_github_limit() -> None:
    text = render_markdown(many_conversations_plan(400))
    assert len(text) <= DEFAULT_LIMIT
    assert DEFAULT_LIMIT < 65_536
    assert "not shown" in text


def test_small_conversations_open_large_ones_collapsed() -> None:
    assert "<details open>" in render_markdown(every_action_plan())
    records = [declared(f"qa-{n}", f"L{n:02}") for n in range(OPEN_UP_TO + 1)]
    big = make_plan(desired(records), current([]), target="local")
    assert "<details>" in render_markdown(big) and "<details open>" not in render_markdown(big)


def test_offline_plans_are_labelled() -> None:
    text = render_markdown(offline_plan())
    assert "Offline plan: not checked against Zelto" in text
    assert_golden("plan-offline.md", text)


def test_nothing_to_do() -> None:
    text = render_markdown(empty_plan())
    assert "Nothing to apply" in text and "<details" not in text
