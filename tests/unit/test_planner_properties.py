"""The planner's laws (architecture.md), checked with hypothesis over small random estates.

Labels and externalIds come from tiny alphabets so that the interesting collisions (a label
held by another id, an id under another label, ids without labels) happen often.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st
from plan_factories import AGENT, CID, CID2, METRIC, OTHER_AGENT, declared, desired, remote

from reconciler.model import CatalogEntry, DeclaredRecord, RemoteRecord
from reconciler.plan.model import Action, Plan
from reconciler.plan.planner import ConversationState, CurrentState, make_plan

LABELS = ("A", "B", "C", "D")
IDS = ("qa-1", "qa-2", "qa-3", "x-1")
CONVERSATIONS = (CID, CID2)
AGENTS = {CID: AGENT, CID2: OTHER_AGENT}
# "D" maps its metric per agent and lacks CID2's agent: those records are errors, always.
CATALOG = {
    "A": CatalogEntry(metricId=UUID(METRIC)),
    "D": CatalogEntry(metricId={UUID(AGENT): UUID(METRIC)}),
}

fields = st.fixed_dictionaries(
    {
        "verdict": st.sampled_from([None, "pass", "fail"]),
        "score": st.sampled_from([None, 0, 50, 50.0, 99.5]),
        "note": st.sampled_from([None, "", "x", "x\n", " x"]),
    }
)


def _valid(values: dict[str, Any]) -> dict[str, Any]:
    clean = {k: v for k, v in values.items() if v is not None}
    if "verdict" not in clean and "score" not in clean:
        clean["verdict"] = "pass"
    return clean


@st.composite
def declared_records(draw: st.DrawFn) -> list[DeclaredRecord]:
    records = []
    for cid in CONVERSATIONS:
        pairs = draw(
            st.lists(
                st.tuples(st.sampled_from(LABELS), st.sampled_from(IDS)),
                unique_by=(lambda p: p[0], lambda p: p[1]),
                max_size=4,
            )
        )
        for label, external_id in pairs:
            values = _valid(draw(fields))
            adopt = draw(st.booleans())
            records.append(declared(external_id, label, cid=cid, adopt=adopt, **values))
    return records


@st.composite
def remote_records(draw: st.DrawFn) -> list[RemoteRecord]:
    records = []
    for cid in CONVERSATIONS:
        labels = draw(st.lists(st.sampled_from((*LABELS, "Z")), unique=True, max_size=5))
        for n, label in enumerate(labels):
            external_id = draw(st.sampled_from((None, *IDS)))
            values = _valid(draw(fields))
            metric = draw(st.sampled_from([None, METRIC, METRIC.upper()]))
            records.append(
                remote(
                    external_id,
                    label,
                    cid=cid,
                    rid=f"{cid[:4]}-{n}",
                    agent=AGENTS[cid],
                    metricId=metric,
                    **values,
                )
            )
    return records


def _state(records: list[RemoteRecord]) -> CurrentState:
    grouped: dict[str, list[RemoteRecord]] = {cid: [] for cid in CONVERSATIONS}
    for record in records:
        grouped[record.conversation_id].append(record)
    return CurrentState(
        conversations={
            cid: ConversationState(records=tuple(items), agent_id=AGENTS[cid])
            for cid, items in grouped.items()
        }
    )


def _plan(
    records: list[DeclaredRecord], remotes: list[RemoteRecord], *, adopt_all: bool = False
) -> Plan:
    return make_plan(
        desired(records, CATALOG),
        _state(remotes),
        target="local",
        ownership_prefix="qa-",
        adopt_all=adopt_all,
    )


def _apply(plan: Plan, remotes: list[RemoteRecord]) -> list[RemoteRecord]:
    """What Zelto holds after the plan's POSTs: upsert on (conversation, label), full replace."""
    state = {(r.conversation_id, r.label): r for r in remotes}
    for n, (conversation, change) in enumerate(plan.writes()):
        assert change.after is not None
        body = change.after.post_body()
        key = (conversation.id, body["label"])
        old = state.get(key)
        rid = old.id if old is not None else f"new-{n}"
        body.setdefault("verdict", None)
        state[key] = remote(
            body.pop("externalId", None),
            body.pop("label"),
            cid=conversation.id,
            rid=rid,
            agent=AGENTS[conversation.id],
            **body,
        )
    return list(state.values())


def _actions(plan: Plan) -> Counter[tuple[str, str, str, str | None]]:
    return Counter(
        (conv.id, change.action.value, change.label, change.external_id)
        for conv in plan.conversations
        for change in conv.changes
    )


@settings(max_examples=100, deadline=None)
@given(declared_records(), remote_records(), st.randoms(use_true_random=False))
def test_planning_is_deterministic(
    records: list[DeclaredRecord], remotes: list[RemoteRecord], rng: random.Random
) -> None:
    first = json.dumps(_plan(records, remotes).to_json_dict())
    shuffled_records, shuffled_remotes = list(records), list(remotes)
    rng.shuffle(shuffled_records)
    rng.shuffle(shuffled_remotes)
    assert json.dumps(_plan(shuffled_records, shuffled_remotes).to_json_dict()) == first


@settings(max_examples=120, deadline=None)
@given(declared_records(), remote_records(), st.booleans())
def test_every_record_is_accounted_for_exactly_once(
    records: list[DeclaredRecord], remotes: list[RemoteRecord], adopt_all: bool
) -> None:
    plan = _plan(records, remotes, adopt_all=adopt_all)
    for conversation in plan.conversations:
        mine = [d for d in records if d.conversation_id == conversation.id]
        theirs = {r.id for r in remotes if r.conversation_id == conversation.id}
        for_declared = [c for c in conversation.changes if c.source is not None]
        for_remote = [c.remote_id for c in conversation.changes if c.remote_id is not None]
        assert len(for_declared) + conversation.noop == len(mine)
        assert {(c.label, c.external_id) for c in for_declared} <= {
            (d.record.label, d.record.external_id) for d in mine
        }
        assert len({(c.label, c.external_id) for c in for_declared}) == len(for_declared)
        assert len(set(for_remote)) == len(for_remote) and set(for_remote) <= theirs
        assert len(for_remote) + conversation.noop == len(theirs)
        remote_only = {Action.ORPHAN, Action.UNMANAGED}
        assert all((c.source is None) == (c.action in remote_only) for c in conversation.changes)


@settings(max_examples=120, deadline=None)
@given(declared_records(), remote_records())
def test_applying_an_adopting_plan_converges(
    records: list[DeclaredRecord], remotes: list[RemoteRecord]
) -> None:
    plan = _plan(records, remotes, adopt_all=True)
    after = _apply(plan, remotes)
    again = _plan(records, after, adopt_all=True)
    assert not again.writes() and not again.has_changes
    leftover = {Action.ORPHAN, Action.UNMANAGED, Action.ERROR}
    assert all(c.action in leftover for conv in again.conversations for c in conv.changes)
    errors = Counter(k for k in _actions(plan) if k[1] == "error")
    assert Counter(k for k in _actions(again) if k[1] == "error") == errors
    assert again.summary.noop == plan.summary.noop + plan.summary.writes


@settings(max_examples=120, deadline=None)
@given(declared_records(), remote_records())
def test_without_adoption_only_the_same_conflicts_remain(
    records: list[DeclaredRecord], remotes: list[RemoteRecord]
) -> None:
    plan = _plan(records, remotes)
    again = _plan(records, _apply(plan, remotes))
    assert not again.writes()
    blocked = {Action.CONFLICT, Action.ERROR}
    before = Counter(k for k in _actions(plan) if Action(k[1]) in blocked)
    assert Counter(k for k in _actions(again) if Action(k[1]) in blocked) == before


@settings(max_examples=100, deadline=None)
@given(declared_records(), remote_records())
def test_no_op_plans_hold_no_writes(
    records: list[DeclaredRecord], remotes: list[RemoteRecord]
) -> None:
    plan = _plan(records, remotes)
    assert (plan.summary.writes == 0) == (plan.writes() == [])
    assert plan.has_changes == bool(plan.writes())
    assert len(plan.writes()) == plan.summary.writes
