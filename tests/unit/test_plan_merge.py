"""reconciler.plan.merge: shard plans merge into exactly the unsharded plan, or refuse clearly."""

from __future__ import annotations

import uuid

import pytest

from reconciler.errors import Location
from reconciler.model import DeclaredRecord, DesiredState, MetricRecord, RemoteRecord
from reconciler.plan.fields import RecordFields
from reconciler.plan.merge import PlanMergeError, merge_plans, scope_label, split_scope
from reconciler.plan.model import Action, Change, ConversationPlan, Plan
from reconciler.plan.planner import ConversationState, CurrentState, make_plan
from reconciler.plan.shard import Shard, restrict, select_shard
from reconciler.render import render_json

IDS = [str(uuid.UUID(int=i * 104729 + 7)) for i in range(200)]


def _conversation(conversation_id: str, n: int) -> ConversationPlan:
    after = RecordFields(label=f"L{n % 3}", external_id=f"qa-{n}", score=n % 100)
    action = Action.CREATE if n % 2 else Action.UPDATE
    before = None if action is Action.CREATE else after.model_copy(update={"score": 1})
    change = Change(
        action=action, label=after.label, external_id=after.external_id, before=before, after=after
    )
    return ConversationPlan(id=conversation_id, noop=n % 4, changes=(change,))


WHOLE = {i: _conversation(i, n) for n, i in enumerate(IDS)}


def _plan(ids: list[str], scope: str | None, **overrides: object) -> Plan:
    fields: dict[str, object] = {
        "target": "production",
        "spec_digest": "sha256:abc",
        "conversations": [WHOLE[i] for i in ids],
        "existing_managed": 2 * len(ids),
        "scope": scope,
    }
    fields.update(overrides)
    return Plan.build(**fields)  # type: ignore[arg-type]


def _shards(count: int, base: str | None = None) -> list[tuple[str, Plan]]:
    return [
        (
            f"shard-{i}.json",
            _plan(select_shard(IDS, i, count), scope_label(base, Shard(i, count))),
        )
        for i in range(1, count + 1)
    ]


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8])
def test_merged_shard_plans_equal_the_unsharded_plan(count: int) -> None:
    merged = merge_plans(_shards(count))
    whole = _plan(IDS, None)
    assert merged == whole
    assert merged.to_json_dict() == whole.to_json_dict()


def test_the_base_scope_survives_the_merge() -> None:
    merged = merge_plans(list(reversed(_shards(4, "origin/main"))))
    assert merged.scope == "changed since origin/main"


def test_scope_labels_round_trip() -> None:
    assert scope_label() is None
    assert split_scope(scope_label("main", Shard(2, 4))) == ("changed since main", Shard(2, 4))
    assert split_scope("changed since main") == ("changed since main", None)
    assert split_scope(None) == (None, None)


def test_a_missing_shard_is_refused() -> None:
    parts = _shards(4)
    del parts[2]
    with pytest.raises(PlanMergeError, match="missing shard plans: 3/4"):
        merge_plans(parts)


def test_a_shard_given_twice_is_refused() -> None:
    parts = _shards(2)
    with pytest.raises(PlanMergeError, match="both shard 1/2"):
        merge_plans([*parts, ("copy.json", parts[0][1])])


def test_mixed_shard_counts_are_refused() -> None:
    with pytest.raises(PlanMergeError, match="different shard counts"):
        merge_plans([*_shards(2), *_shards(3)])


@pytest.mark.parametrize(
    ("override", "what"),
    [
        ({"target": "staging"}, "target"),
        ({"spec_digest": "sha256:other"}, "specDigest"),
        ({"offline": True}, "offline"),
        ({"sensitive_fields": ("note",)}, "sensitive fields"),
    ],
)
def test_plans_of_different_runs_are_refused(override: dict[str, object], what: str) -> None:
    parts = _shards(2)
    name, first = parts[1]
    odd = _plan([c.id for c in first.conversations], first.scope, **override)
    with pytest.raises(PlanMergeError, match=what) as info:
        merge_plans([parts[0], (name, odd)])
    assert "shard-2.json" in str(info.value)


def test_overlapping_unsharded_plans_are_refused() -> None:
    with pytest.raises(PlanMergeError, match=f"conversation {IDS[5]} is in both a.json and b.json"):
        merge_plans([("a.json", _plan(IDS[:10], None)), ("b.json", _plan(IDS[5:20], None))])


def test_shard_and_non_shard_plans_do_not_mix() -> None:
    with pytest.raises(PlanMergeError, match="not a shard plan"):
        merge_plans([*_shards(2), ("whole.json", _plan([], None))])


def test_nothing_to_merge() -> None:
    with pytest.raises(PlanMergeError, match="at least one"):
        merge_plans([])


# --- with the real planner: merged shard plans == the unsharded plan ---------------------------


def _remote(conversation_id: str, n: int, external_id: str, label: str, score: int) -> RemoteRecord:
    return RemoteRecord(
        id=f"r-{conversation_id[:8]}-{n}",
        organization_id="org",
        conversation_id=conversation_id,
        agent_id="agent",
        label=label,
        source="api",
        created_at="2026-01-01T00:00:00Z",
        updated_at="2026-01-01T00:00:00Z",
        external_id=external_id,
        score=score,
        note=f"secret note {n}",
    )


def _estate(size: int) -> tuple[DesiredState, CurrentState]:
    declared: dict[str, tuple[DeclaredRecord, ...]] = {}
    current: dict[str, ConversationState] = {}
    for n in range(size):
        cid = str(uuid.UUID(int=n * 7907 + 3))
        record = MetricRecord(external_id=f"qa-{n}", label="Empathy", score=n % 100, note="x")
        declared[cid] = (DeclaredRecord.of(cid, record, Location("specs/a.yaml", n + 1, 5)),)
        remote = []
        if n % 3:  # exists; every other one differs
            remote.append(_remote(cid, n, f"qa-{n}", "Empathy", n % 100 + (n % 2)))
        if n % 5 == 0:  # an orphan this repository left behind
            remote.append(_remote(cid, n + 1, f"qa-old-{n}", "Tone", 1))
        current[cid] = ConversationState(records=tuple(remote))
    desired = DesiredState(conversations=declared, spec_digest="sha256:estate")
    return desired, CurrentState(conversations=current)


def test_merged_planner_shards_equal_the_unsharded_plan() -> None:
    desired, current = _estate(120)
    options = {"target": "production", "ownership_prefix": "qa-", "sensitive": ["note"]}
    whole = make_plan(desired, current, **options)  # type: ignore[arg-type]
    assert whole.summary.orphan == 24 and whole.summary.update > 0
    for count in range(1, 9):
        parts = []
        for index in range(1, count + 1):
            ids = select_shard(desired.conversations, index, count)
            scope = scope_label(None, Shard(index, count))
            part = make_plan(restrict(desired, ids), current, scope=scope, **options)  # type: ignore[arg-type]
            parts.append((f"plan-{index}.json", Plan.from_json_dict(part.to_json_dict())))
        merged = merge_plans(parts)
        assert merged == whole, f"{count} shards"
        assert render_json(merged) == render_json(whole)
