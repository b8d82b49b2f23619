"""The planner's decisions, one table row and one tricky identity case per test (no network)."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from plan_factories import (
    AGENT,
    CID,
    CID2,
    METRIC,
    OTHER_AGENT,
    current,
    declared,
    desired,
    remote,
)

from reconciler.model import CatalogEntry
from reconciler.plan.fingerprint import fingerprint
from reconciler.plan.model import Action, Change, ConversationPlan, Plan
from reconciler.plan.planner import make_plan


def _plan(records: list[Any], remotes: list[Any], **kwargs: Any) -> tuple[Plan, ConversationPlan]:
    catalog = kwargs.pop("catalog", None)
    state = kwargs.pop("state", None) or current(remotes)
    plan = make_plan(desired(records, catalog), state, target="local", **kwargs)
    return plan, plan.conversations[0]


def _actions(conversation: ConversationPlan) -> list[tuple[str, str, str | None]]:
    return [(c.action.value, c.label, c.external_id) for c in conversation.changes]


def _only(conversation: ConversationPlan) -> Change:
    assert len(conversation.changes) == 1, conversation.changes
    return conversation.changes[0]


def test_equal_records_are_noops_and_not_listed() -> None:
    plan, conv = _plan(
        [declared("qa-1", "Empathy", score=92, metricId=METRIC.upper())],
        [remote("qa-1", "Empathy", score=92.0, verdict=None, metricId=METRIC.upper())],
    )
    assert conv.changes == () and conv.noop == 1
    assert plan.summary.noop == 1 and not plan.has_changes
    assert plan.writes() == []


def test_metric_id_case_and_integer_scores_are_not_changes() -> None:
    _, conv = _plan(
        [declared("qa-1", "A", score=85, metricId=METRIC)],
        [remote("qa-1", "A", score=85.0, verdict=None, metricId=METRIC.upper())],
    )
    assert conv.noop == 1


def test_update_diffs_field_by_field_and_shows_what_the_post_clears() -> None:
    _, conv = _plan(
        [declared("qa-1", "Empathy", score=85)],
        [remote("qa-1", "Empathy", score=80, verdict=None, note="kept?", rid="r1")],
    )
    change = _only(conv)
    assert change.action is Action.UPDATE and change.remote_id == "r1"
    diffs = {d.field: d for d in change.diff}
    assert set(diffs) == {"score", "note"}
    assert (diffs["score"].before, diffs["score"].after) == (80, 85)
    assert diffs["note"].clears and diffs["note"].before == "kept?"
    assert change.source == "specs/a.yaml:1:7"
    assert change.after is not None and change.after.post_body() == {
        "label": "Empathy",
        "externalId": "qa-1",
        "score": 85,
    }


def test_note_trailing_newline_is_a_difference() -> None:
    _, conv = _plan(
        [declared("qa-1", "A", note="Read verbatim.\n")],
        [remote("qa-1", "A", note="Read verbatim.")],
    )
    assert [d.field for d in _only(conv).diff] == ["note"]


def test_create_when_neither_label_nor_external_id_exists() -> None:
    _, conv = _plan([declared("qa-1", "A")], [])
    change = _only(conv)
    assert change.action is Action.CREATE and change.before is None and change.remote_id is None
    assert [d.field for d in change.diff] == ["label", "verdict", "externalId"]


def test_relabel_writes_the_new_label_and_leaves_the_old_record_as_an_orphan() -> None:
    _, conv = _plan([declared("qa-1", "New")], [remote("qa-1", "Old", rid="old")])
    assert _actions(conv) == [("relabel", "New", "qa-1"), ("orphan", "Old", "qa-1")]
    relabel, orphan = conv.changes
    assert relabel.remote_id is None and relabel.before is not None
    assert relabel.before.label == "Old" and "moves from label 'Old'" in (relabel.message or "")
    assert orphan.remote_id == "old" and "left behind" in (orphan.message or "")


def test_conflict_when_the_label_is_held_by_another_external_id() -> None:
    plan, conv = _plan([declared("qa-1", "A")], [remote("hand-made", "A", rid="x")])
    change = _only(conv)
    assert change.action is Action.CONFLICT and change.remote_id == "x"
    assert "adopt: true" in (change.message or "") and "--adopt" in (change.message or "")
    assert plan.summary.failed and not plan.writes()


def test_conflict_with_a_record_without_external_id() -> None:
    _, conv = _plan([declared("qa-1", "A")], [remote(None, "A")])
    assert _only(conv).action is Action.CONFLICT
    assert "without externalId" in (_only(conv).message or "")


def test_adopt_true_on_the_record_or_adopt_all_turns_a_conflict_into_adopt() -> None:
    _, by_record = _plan([declared("qa-1", "A", adopt=True)], [remote("other", "A")])
    _, by_flag = _plan([declared("qa-1", "A")], [remote("other", "A")], adopt_all=True)
    for conv, why in ((by_record, "adopt: true"), (by_flag, "--adopt")):
        change = _only(conv)
        assert change.action is Action.ADOPT and change.is_write
        assert why in (change.message or "")
        assert [d.field for d in change.diff] == ["externalId"]


def test_orphan_needs_the_ownership_prefix_else_unmanaged() -> None:
    remotes = [remote("qa-gone", "Gone"), remote("theirs", "Theirs"), remote(None, "Bare")]
    _, owned = _plan([declared("qa-1", "A")], remotes, ownership_prefix="qa-")
    assert _actions(owned) == [
        ("create", "A", "qa-1"),
        ("unmanaged", "Bare", None),
        ("orphan", "Gone", "qa-gone"),
        ("unmanaged", "Theirs", "theirs"),
    ]
    _, unowned = _plan([declared("qa-1", "A")], remotes)
    assert [c.action for c in unowned.changes].count(Action.UNMANAGED) == 3


def test_read_errors_are_kept_per_conversation_and_fail_the_plan() -> None:
    records = [declared("qa-1", "A"), declared("qa-2", "B", cid=CID2)]
    state = current([], errors={CID2: "GET ... (target local): 404 unknown conversation"})
    plan, conv = _plan(records, [], state=state)
    assert _actions(conv) == [("create", "A", "qa-1")]
    failed = plan.conversations[1]
    assert failed.error and "404" in failed.error and failed.fingerprint is None
    assert plan.summary.error == 1 and plan.summary.failed


def test_a_conversation_with_no_current_state_is_an_error_not_empty() -> None:
    plan = make_plan(desired([declared("qa-1", "A")]), current(conversations=()), target="local")
    assert plan.conversations[0].error is not None and plan.summary.create == 0


def test_swapped_labels_are_two_conflicts_not_silent_overwrites() -> None:
    """E1 on A and E2 on B declared; Zelto holds A/E2 and B/E1: each POST would overwrite the
    other's record, so both are conflicts until adopted, and nothing is orphaned."""
    _, conv = _plan(
        [declared("E1", "A"), declared("E2", "B")], [remote("E2", "A"), remote("E1", "B")]
    )
    assert _actions(conv) == [("conflict", "A", "E1"), ("conflict", "B", "E2")]


def test_declared_label_held_by_other_id_while_own_id_sits_under_another_label() -> None:
    """E1 on A declared; Zelto holds A/E2 and B/E1. Writing A would overwrite E2's record
    (conflict); B/E1 is not touched by any write and is left behind (orphan)."""
    _, conv = _plan([declared("E1", "A")], [remote("E2", "A", rid="a"), remote("E1", "B", rid="b")])
    assert _actions(conv) == [("conflict", "A", "E1"), ("orphan", "B", "E1")]
    assert [c.remote_id for c in conv.changes] == ["a", "b"]


def test_relabel_whose_old_label_is_claimed_by_another_declared_record() -> None:
    """E1 moves from A to B while E2 is declared on A: the old record is E2's conflict, not an
    orphan, and is accounted for once."""
    _, conv = _plan([declared("E1", "B"), declared("E2", "A")], [remote("E1", "A", rid="a")])
    assert _actions(conv) == [("conflict", "A", "E2"), ("relabel", "B", "E1")]
    assert [c.remote_id for c in conv.changes] == ["a", None]


def test_an_external_id_under_its_label_and_also_left_under_an_old_one() -> None:
    _, conv = _plan([declared("E1", "A")], [remote("E1", "A"), remote("E1", "Old")])
    assert conv.noop == 1 and _actions(conv) == [("orphan", "Old", "E1")]


def test_catalog_metric_id_is_inherited_unless_the_record_sets_its_own() -> None:
    own = "11111111-1111-4111-8111-111111111111"
    catalog = {"A": CatalogEntry(metricId=UUID(METRIC)), "B": CatalogEntry(metricId=UUID(METRIC))}
    _, conv = _plan([declared("E1", "A"), declared("E2", "B", metricId=own)], [], catalog=catalog)
    assert [c.after.metric_id for c in conv.changes if c.after] == [METRIC, own]


def test_per_agent_catalog_uses_the_agent_of_the_remote_records() -> None:
    other_metric = "22222222-2222-4222-8222-222222222222"
    catalog = {
        "A": CatalogEntry(
            metricId={UUID(AGENT): UUID(METRIC), UUID(OTHER_AGENT): UUID(other_metric)}
        )
    }
    _, conv = _plan(
        [declared("E1", "A")], [remote("x", "Other", agent=OTHER_AGENT)], catalog=catalog
    )
    assert conv.agent_id == OTHER_AGENT
    assert conv.changes[0].after is not None and conv.changes[0].after.metric_id == other_metric


def test_per_agent_catalog_uses_the_looked_up_agent_when_there_are_no_records() -> None:
    catalog = {"A": CatalogEntry(metricId={UUID(AGENT): UUID(METRIC)})}
    state = current([], agents={CID: AGENT})
    _, conv = _plan([declared("E1", "A")], [], catalog=catalog, state=state)
    assert _only(conv).after is not None and _only(conv).after.metric_id == METRIC


def test_per_agent_catalog_without_the_agent_is_an_error_naming_agent_and_label() -> None:
    catalog = {"A": CatalogEntry(metricId={UUID(OTHER_AGENT): UUID(METRIC)})}
    plan, conv = _plan([declared("E1", "A")], [remote("E1", "A", rid="held")], catalog=catalog)
    change = _only(conv)
    assert change.action is Action.ERROR and change.remote_id == "held"
    assert AGENT in (change.message or "") and "'A'" in (change.message or "")
    assert plan.summary.failed and not plan.writes()


def test_sensitive_fields_are_masked_everywhere_but_still_diff() -> None:
    plan, conv = _plan(
        [declared("qa-1", "A", note="secret new")],
        [remote("qa-1", "A", note="secret old")],
        sensitive=["note"],
    )
    change = _only(conv)
    assert change.action is Action.UPDATE and [d.field for d in change.diff] == ["note"]
    text = json.dumps(plan.to_json_dict())
    assert "secret" not in text and '"sensitive": "sha256:' in text
    assert plan.sensitive_fields == ("note",)
    assert Plan.from_json_dict(json.loads(text)) == plan


def test_fingerprints_existing_managed_and_unchanged_conversations_are_recorded() -> None:
    remotes = [remote("qa-1", "A"), remote("qa-old", "B"), remote("theirs", "C")]
    plan, conv = _plan([declared("qa-1", "A")], remotes, ownership_prefix="qa-")
    assert conv.fingerprint == fingerprint(remotes)
    assert plan.existing_managed == 2
    assert plan.spec_digest == "sha256:specs" and plan.target == "local"


def test_same_inputs_give_byte_identical_json() -> None:
    records = [declared("E2", "B"), declared("E1", "A", cid=CID2), declared("E3", "C")]
    remotes = [remote("E3", "C", score=3), remote("z", "Z")]
    first = json.dumps(_plan(records, remotes)[0].to_json_dict())
    second = json.dumps(_plan(list(reversed(records)), list(reversed(remotes)))[0].to_json_dict())
    assert first == second
