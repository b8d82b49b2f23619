"""The terminal renderer, against golden files (RECONCILER_UPDATE_GOLDEN=1 rewrites them)."""

from __future__ import annotations

import pytest
from plan_factories import CID, current, declared, desired, remote
from plan_samples import assert_golden, empty_plan, every_action_plan, offline_plan

from reconciler.display import UNSAFE_CHARACTERS
from reconciler.plan.model import Plan
from reconciler.plan.planner import make_plan
from reconciler.render import render, render_text

OTHER_CID = "9a1f6f2e-3a4b-4c5d-8e9f-0a1b2c3d4e5f"


def test_every_action_golden() -> None:
    assert_golden("plan.txt", render_text(every_action_plan()))


def test_verbose_lists_unmanaged_records_golden() -> None:
    text = render_text(every_action_plan(), verbose=True)
    assert_golden("plan-verbose.txt", text)
    assert ". unmanaged Theirs [theirs]" in text
    assert "unmanaged Theirs" not in render_text(every_action_plan())


def test_masked_plan_golden_shows_that_values_change_not_what() -> None:
    text = render_text(every_action_plan(sensitive=("note",)))
    assert_golden("plan-masked.txt", text)
    assert "Disclosure" not in text and "kept" not in text
    assert "sensitive value changes" in text


def test_nothing_to_do_golden() -> None:
    assert_golden("plan-empty.txt", render_text(empty_plan()))


def test_offline_plan_says_so() -> None:
    text = render_text(offline_plan())
    assert "offline: not checked against Zelto" in text
    assert "scope: changed since origin/main" in text


def test_colour_only_when_asked() -> None:
    plan = every_action_plan()
    assert "\x1b[" not in render_text(plan)
    coloured = render_text(plan, color=True)
    assert "\x1b[32m  + create" in coloured and "\x1b[31m  ! conflict" in coloured
    assert render(plan, "text", color=True) == coloured


def test_whitespace_only_note_changes_are_visible() -> None:
    text = render_text(every_action_plan())
    assert 'note: "two·spaces·" → "two··spaces"  (whitespace only)' in text
    assert 'note: "Disclosure read verbatim at 00:41.⏎"' in text


def test_long_notes_are_cut_around_the_difference() -> None:
    line = next(x for x in render_text(every_action_plan()).splitlines() if "328 chars" in x)
    assert 'END." (328 chars) → …' in line and line.count("…") == 2 and len(line) < 220


def test_cleared_fields_and_summary_naming_the_target() -> None:
    text = render_text(every_action_plan())
    assert 'note: "`kept`?" → (cleared)' in text
    assert text.splitlines()[-3].startswith("Plan for target local: 1 to create, 3 to update")


def test_rendering_is_deterministic() -> None:
    assert render_text(every_action_plan()) == render_text(every_action_plan())


def test_line_breaks_in_user_text_stay_on_one_line() -> None:
    plan = make_plan(
        desired([declared("qa-1\nx", "two\nlines")]),
        current([remote("other", "two\nlines")]),
        target="local",
    )
    text = render_text(plan)
    headline = next(line for line in text.splitlines() if "conflict" in line)
    assert "two⏎lines [qa-1⏎x]" in headline
    message = text.splitlines()[text.splitlines().index(headline) + 1]
    assert "label 'two⏎lines' is already held" in message


def test_one_orphan_is_spoken_of_in_the_singular() -> None:
    plan = make_plan(
        desired([declared("qa-1", "Kept")]),
        current([remote("qa-1", "Kept"), remote("qa-2", "Dropped")]),
        target="local",
        ownership_prefix="qa-",
    )
    assert render_text(plan).splitlines()[-1] == (
        "1 orphaned record cannot be deleted through the API: clear it in the Zelto app."
    )


HOSTILE = "Empathy\x1b[1A\x1b[2K\x07\x9b\u202e\x00"


def _hostile_plan() -> Plan:
    """Remote values are untrusted: a label, an externalId, a note and an error message from
    the server, each carrying ESC, BEL, C1, a bidi override and NUL."""
    return make_plan(
        desired([declared("qa-1", "Empathy", note="ours")]),
        current(
            [
                remote("qa-1", "Empathy", note=f"theirs{HOSTILE}"),
                remote(f"x{HOSTILE}", HOSTILE),
            ],
            errors={OTHER_CID: f"server said {HOSTILE}"},
            conversations=(CID, OTHER_CID),
        ),
        target="local",
        ownership_prefix="",
    )


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_remote_text_cannot_control_the_terminal(fmt: str) -> None:
    """Issue 12 item 12: control characters from the server reached the terminal raw."""
    shown = render(_hostile_plan(), fmt, verbose=True)
    assert UNSAFE_CHARACTERS.search(shown) is None
    assert "Empathy\\x1b[1A\\x1b[2K\\x07\\x9b\\u202e\\x00" in shown
