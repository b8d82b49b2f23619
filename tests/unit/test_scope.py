"""plan.shard and spec.history: shards that partition exactly; the offline desired-state diff."""

from __future__ import annotations

import json
import uuid
from collections import Counter

import pytest

from reconciler.errors import Location, ReconcilerError
from reconciler.model import CatalogEntry, DeclaredRecord, DesiredState, MetricRecord
from reconciler.plan.model import Action, Change, ConversationPlan, Plan
from reconciler.plan.offline import OFFLINE_TARGET, mark_removed, offline_plan
from reconciler.plan.shard import Shard, parse_shard, restrict, select_shard, shard_of
from reconciler.spec.delta import RemovedRecord, differing_conversations, removed_records

IDS = [str(uuid.UUID(int=i * 7919 + 12345)) for i in range(10_000)]


# --- shards ------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", range(1, 9))
def test_shards_partition_ten_thousand_conversations_exactly(count: int) -> None:
    shards = [select_shard(IDS, index, count) for index in range(1, count + 1)]
    everything = [i for shard in shards for i in shard]
    assert len(everything) == len(IDS)  # no overlap ...
    assert set(everything) == set(IDS)  # ... and nothing missed
    if count > 1:
        sizes = [len(s) for s in shards]
        assert min(sizes) > 0.8 * len(IDS) / count  # the hash spreads evenly


def test_shard_of_is_stable_across_processes_and_versions() -> None:
    # Fixed values: a change here would move conversations between the jobs of a running matrix.
    assert [shard_of(i, 4) for i in IDS[:8]] == [shard_of(i.upper(), 4) for i in IDS[:8]]
    assert shard_of("3c90c3cc-0d44-4b50-8888-8dd25736052a", 8) == 7
    assert shard_of("3c90c3cc-0d44-4b50-8888-8dd25736052a", 3) == 2
    assert Counter(shard_of(i, 2) for i in IDS[:1000]) == Counter({1: 504, 2: 496})


def test_select_shard_is_sorted_and_one_shard_is_everything() -> None:
    assert select_shard(reversed(IDS[:50]), 1, 1) == sorted(IDS[:50])


@pytest.mark.parametrize(
    ("text", "expected"), [("1/1", Shard(1, 1)), ("3/8", Shard(3, 8)), (" 2 / 4 ", Shard(2, 4))]
)
def test_parse_shard(text: str, expected: Shard) -> None:
    assert parse_shard(text) == expected
    assert str(expected) == text.replace(" ", "")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2", "not of the form I/N"),
        ("a/b", "not of the form I/N"),
        ("0/4", "I must be from 1 to 4"),
        ("5/4", "I must be from 1 to 4"),
        ("1/0", "N must be from 1 to 1024"),
        ("1/5000", "N must be from 1 to 1024"),
        ("-1/4", "not of the form I/N"),
    ],
)
def test_bad_shard_is_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(ReconcilerError, match=message):
        parse_shard(text)


def test_shard_count_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        shard_of(IDS[0], 0)


# --- desired states built by hand (the spec loader has its own tests) --------------------------

C1 = "11111111-1111-4111-8111-111111111111"
C2 = "22222222-2222-4222-8222-222222222222"
C3 = "33333333-3333-4333-8333-333333333333"
METRIC_A = "0b6a1c1e-5f7d-4c1a-9b1e-2f4d8c9e7a10"
METRIC_B = "9a6a1c1e-5f7d-4c1a-9b1e-2f4d8c9e7a11"


def _rec(conversation: str, line: int, **fields: object) -> DeclaredRecord:
    record = MetricRecord.model_validate(fields)
    return DeclaredRecord.of(conversation, record, Location("specs/qa.yaml", line, 7))


def _state(
    *records: DeclaredRecord, catalog: dict[str, CatalogEntry] | None = None
) -> DesiredState:
    grouped: dict[str, list[DeclaredRecord]] = {}
    for record in records:
        grouped.setdefault(record.conversation_id, []).append(record)
    conversations = {k: tuple(sorted(v, key=lambda r: r.record.label)) for k, v in grouped.items()}
    return DesiredState(conversations=conversations, catalog=catalog or {}, spec_digest="sha256:x")


BEFORE = _state(
    _rec(C1, 3, externalId="qa-1", label="Compliance", verdict="pass"),
    _rec(C1, 6, externalId="qa-2", label="Empathy", score=80),
    _rec(C2, 9, externalId="qa-3", label="Compliance", verdict="fail", note="old secret"),
    _rec(C3, 12, externalId="qa-4", label="Tone", score=50),
)


def test_restrict_keeps_only_the_named_conversations() -> None:
    narrowed = restrict(BEFORE, [C2, "not-declared"])
    assert list(narrowed.conversations) == [C2]
    assert narrowed.spec_digest == BEFORE.spec_digest


def test_a_moved_record_is_not_a_change() -> None:
    moved = _state(
        *(
            DeclaredRecord.of(r.conversation_id, r.record, Location("specs/other.yaml", 99, 1))
            for records in BEFORE.conversations.values()
            for r in records
        )
    )
    assert differing_conversations(BEFORE, moved) == set()


def test_catalog_change_touches_every_conversation_using_the_label() -> None:
    def catalog(metric: str) -> dict[str, CatalogEntry]:
        return {
            "Compliance": CatalogEntry.model_validate({"metricId": metric}),
            "Empathy": CatalogEntry(),
            "Tone": CatalogEntry(),
        }

    old = _state(
        *(r for rs in BEFORE.conversations.values() for r in rs), catalog=catalog(METRIC_A)
    )
    new = _state(
        *(r for rs in BEFORE.conversations.values() for r in rs), catalog=catalog(METRIC_B)
    )
    assert differing_conversations(old, new) == {C1, C2}


AFTER = _state(
    _rec(C1, 3, externalId="qa-1", label="Compliance", verdict="pass"),  # unchanged
    _rec(C1, 6, externalId="qa-2", label="Empathy", score=85),  # update
    _rec(C2, 9, externalId="qa-3", label="Compliance Check", verdict="fail", note="new secret"),
    _rec(C2, 12, externalId="qa-5", label="Tone", score=70),  # create
    # C3 removed entirely
)


def test_removed_records_are_listed_with_where_they_were() -> None:
    assert removed_records(BEFORE, AFTER) == (
        RemovedRecord(C3, "qa-4", "Tone", Location("specs/qa.yaml", 12, 7)),
    )


def test_offline_plan_shows_the_desired_state_change() -> None:
    plan = offline_plan(BEFORE, AFTER, ref="origin/main")
    assert plan.offline
    assert plan.target == OFFLINE_TARGET
    assert plan.scope == "changed since origin/main"
    assert [c.id for c in plan.conversations] == [C1, C2, C3]
    actions = {
        (c.id, ch.external_id, ch.label): ch.action for c in plan.conversations for ch in c.changes
    }
    assert actions == {
        (C1, "qa-2", "Empathy"): Action.UPDATE,
        (C2, "qa-3", "Compliance Check"): Action.RELABEL,
        (C2, "qa-3", "Compliance"): Action.ORPHAN,  # the relabel leaves it behind, as online
        (C2, "qa-5", "Tone"): Action.CREATE,
        (C3, "qa-4", "Tone"): Action.ORPHAN,
    }
    summary = plan.summary
    assert (summary.create, summary.update, summary.relabel, summary.orphan) == (1, 1, 1, 2)
    assert summary.noop == 1
    removed = plan.conversations[2].changes[0]
    assert plan.conversations[1].changes[0].message == (
        "left behind: externalId 'qa-3' is now declared under label 'Compliance Check'; clear "
        "this record in the Zelto app"
    )
    assert removed.message is not None and "no DELETE" in removed.message
    assert removed.source == "specs/qa.yaml:12:7"
    update = plan.conversations[0].changes[0]
    assert [(d.field, d.before, d.after) for d in update.diff] == [("score", 80, 85)]


def test_offline_plan_round_trips_as_a_saved_plan() -> None:
    plan = offline_plan(BEFORE, AFTER, ref="origin/main")
    assert Plan.from_json_dict(json.loads(json.dumps(plan.to_json_dict()))) == plan


def test_offline_plan_masks_sensitive_fields() -> None:
    plan = offline_plan(BEFORE, AFTER, ref="origin/main", sensitive=("note",))
    text = json.dumps(plan.to_json_dict())
    assert "old secret" not in text and "new secret" not in text
    assert plan.sensitive_fields == ("note",)
    relabel = next(ch for c in plan.conversations for ch in c.changes if ch.action == "relabel")
    assert "note" in {d.field for d in relabel.diff}  # that it changed is still shown


def test_offline_plan_of_identical_states_is_empty() -> None:
    plan = offline_plan(BEFORE, BEFORE, ref="HEAD")
    assert plan.conversations == ()
    assert not plan.has_changes


def test_offline_plan_shows_a_per_agent_catalog_metric() -> None:
    agent = "44444444-4444-4444-8444-444444444444"
    entry = CatalogEntry.model_validate({"metricId": {agent: METRIC_A}})
    after = _state(
        _rec(C1, 3, externalId="qa-1", label="Compliance", verdict="pass"),
        catalog={"Compliance": entry},
    )
    plan = offline_plan(_state(), after, ref="HEAD")
    created = plan.conversations[0].changes[0]
    assert created.after is not None
    assert created.after.metric_id == f"per agent: {agent}→{METRIC_A}"


def test_mark_removed_turns_a_dropped_record_into_an_orphan_with_the_reason() -> None:
    unmanaged = Change(action=Action.UNMANAGED, label="Tone", external_id="qa-4")
    theirs = Change(action=Action.UNMANAGED, label="Other", external_id="theirs")
    plan = Plan.build(
        target="t",
        spec_digest="sha256:x",
        conversations=[ConversationPlan(id=C3, changes=(unmanaged, theirs))],
    )
    removed = removed_records(BEFORE, AFTER)
    marked = mark_removed(plan, removed, ref="origin/main")
    changes = {c.external_id: c for c in marked.conversations[0].changes}
    assert changes["qa-4"].action is Action.ORPHAN
    assert changes["qa-4"].source == "specs/qa.yaml:12:7"
    assert "removed from specs since origin/main" in (changes["qa-4"].message or "")
    assert changes["theirs"] == theirs  # never ours: left alone
    assert (marked.summary.orphan, marked.summary.unmanaged) == (1, 1)
    assert mark_removed(plan, (), ref="x") is plan
