"""What a refused stale plan says changed: the plan's records then, Zelto's now (deepdiff)."""

from __future__ import annotations

from plan_factories import current, declared, desired, remote

from reconciler.plan.model import ConversationPlan
from reconciler.plan.planner import make_plan
from reconciler.plan.staleness import what_changed


def _plan(sensitive: tuple[str, ...] = ()) -> ConversationPlan:
    records = [declared("qa-1", "Empathy", score=85), declared("qa-2", "Tone", score=5)]
    remotes = [remote("qa-1", "Empathy", score=80.0, verdict=None, note="secret", rid="r-1")]
    plan = make_plan(desired(records), current(remotes), target="local", sensitive=sensitive)
    [conversation] = plan.conversations
    return conversation


def test_a_changed_field_and_a_record_that_appeared_are_named() -> None:
    now = [
        remote("qa-1", "Empathy", score=95.0, verdict=None, note="secret", rid="r-1"),
        remote("hand-made", "Tone", score=1.0, verdict=None, rid="r-2"),
    ]
    assert what_changed(_plan(), now, ()) == [
        "'Empathy' (qa-1): score 80 → 95",
        "'Tone' (qa-2): appeared",
    ]


def test_a_removed_record_is_named() -> None:
    assert what_changed(_plan(), [], ()) == ["'Empathy' (qa-1): was removed"]


def test_a_change_among_records_the_plan_does_not_write_is_said_as_such() -> None:
    now = [
        remote("qa-1", "Empathy", score=80.0, verdict=None, note="secret", rid="r-1"),
        remote("theirs", "Other", rid="r-3"),
    ]
    assert what_changed(_plan(), now, ()) == [
        "a record the plan does not write changed, appeared or was removed"
    ]


def test_sensitive_values_are_compared_masked_and_never_shown() -> None:
    plan = _plan(sensitive=("note",))
    unchanged = [remote("qa-1", "Empathy", score=80.0, verdict=None, note="secret", rid="r-1")]
    assert "note" not in " ".join(what_changed(plan, unchanged, ("note",)))
    changed = [remote("qa-1", "Empathy", score=80.0, verdict=None, note="other", rid="r-1")]
    phrases = what_changed(plan, changed, ("note",))
    assert phrases == ["'Empathy' (qa-1): note changed"]
    assert "other" not in phrases[0] and "secret" not in phrases[0]
