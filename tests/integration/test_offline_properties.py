"""Property: the offline preview's summary equals the online plan's, for every action.

Random specs at an old ref are applied to the emulator on 127.0.0.1 (as the merge of that ref
would have done), then edited at random: labels swapped, relabelled, records moved between files,
removed, added, re-identified, rescored, catalog metricIds changed. The online plan reads the
emulator; the offline plan reads nothing. Both plan the conversations that changed, as
``plan --changed-since`` does, and must count the same creates, updates, relabels, conflicts,
orphans, unmanaged, errors and unchanged records.

Catalog metricIds here are plain UUIDs: a per-agent map cannot be resolved offline (no agent is
read), so the preview shows the whole map instead (docs/plan.md).
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.applier import Applier
from reconciler.emulator import RunningEmulator
from reconciler.errors import Location
from reconciler.model import CatalogEntry, DeclaredRecord, DesiredState, MetricRecord
from reconciler.plan.model import Plan
from reconciler.plan.offline import mark_removed, offline_plan
from reconciler.plan.planner import make_plan
from reconciler.plan.shard import exactly
from reconciler.remote.current import read_current
from reconciler.remote.http import Endpoint, HttpSession, HttpSettings, Secret
from reconciler.remote.zelto import ZeltoClient
from reconciler.spec.delta import differing_conversations, removed_records

AGENT = "a0a0a0a0-0000-4000-8000-00000000000a"
METRICS = ("0b6a1c1e-5f7d-4c1a-9b1e-2f4d8c9e7a10", "9a6a1c1e-5f7d-4c1a-9b1e-2f4d8c9e7a11")
LABELS = ("Greeting", "Empathy", "Tone", "Compliance", "Closing")
FILES = ("specs/a.yaml", "specs/b.yaml")
PREFIX = "qa-"
FAST = HttpSettings(concurrency=8, max_attempts=3, backoff_base_seconds=0.01, timeout_seconds=5)
_fresh = itertools.count(1)


@dataclass
class _Rec:
    external_id: str
    label: str
    score: int
    file: str


@dataclass
class _Specs:
    """Specs as plain mutable values, so that edits are easy to write; frozen by :meth:`state`."""

    conversations: dict[str, list[_Rec]]
    catalog: dict[str, str | None] = field(default_factory=dict)

    def copy(self) -> _Specs:
        return _Specs(
            {c: [_Rec(**vars(r)) for r in rs] for c, rs in self.conversations.items()},
            dict(self.catalog),
        )

    def state(self) -> DesiredState:
        conversations = {
            cid: tuple(
                DeclaredRecord.of(
                    cid,
                    MetricRecord(external_id=r.external_id, label=r.label, score=r.score),
                    Location(r.file, line, 7),
                )
                for line, r in enumerate(sorted(records, key=lambda r: r.label), start=1)
            )
            for cid, records in self.conversations.items()
            if records
        }
        catalog = {
            label: CatalogEntry.model_validate({"metricId": metric})
            for label, metric in self.catalog.items()
        }
        return DesiredState(conversations=conversations, catalog=catalog, spec_digest="sha256:x")


@st.composite
def _old_specs(draw: st.DrawFn) -> _Specs:
    conversations: dict[str, list[_Rec]] = {}
    for index in range(draw(st.integers(1, 3))):
        labels = draw(st.lists(st.sampled_from(LABELS), unique=True, max_size=4))
        conversations[f"c{index}"] = [
            _Rec(f"{PREFIX}{index}-{n}", label, draw(st.sampled_from((10, 50))), draw(_files))
            for n, label in enumerate(labels)
        ]
    catalog = draw(st.dictionaries(st.sampled_from(LABELS), st.sampled_from((None, *METRICS))))
    return _Specs(conversations, catalog)


_files = st.sampled_from(FILES)
EDITS = ("swap", "relabel", "move", "remove", "add", "reidentify", "rescore", "catalog")


def _edit(draw: st.DrawFn, specs: _Specs, edit: str) -> None:
    cid = draw(st.sampled_from(sorted(specs.conversations)))
    records = specs.conversations[cid]
    free = [label for label in LABELS if label not in {r.label for r in records}]
    if edit == "catalog":
        specs.catalog[draw(st.sampled_from(LABELS))] = draw(st.sampled_from((None, *METRICS)))
    elif edit == "add" and free:
        new_id = f"{PREFIX}new-{draw(st.integers(0, 3))}"
        if new_id not in {r.external_id for r in records}:
            records.append(_Rec(new_id, draw(st.sampled_from(free)), 50, draw(_files)))
    elif not records:
        return
    elif edit == "swap" and len(records) >= 2:
        first, second = draw(
            st.lists(st.sampled_from(records), min_size=2, max_size=2, unique_by=id)
        )
        first.label, second.label = second.label, first.label
    elif edit == "relabel" and free:
        draw(st.sampled_from(records)).label = draw(st.sampled_from(free))
    elif edit == "move":
        chosen = draw(st.sampled_from(records))
        chosen.file = FILES[1 - FILES.index(chosen.file)]
    elif edit == "remove":
        records.remove(draw(st.sampled_from(records)))
    elif edit == "reidentify":
        chosen = draw(st.sampled_from(records))
        chosen.external_id = f"{chosen.external_id}-again"
    elif edit == "rescore":
        chosen = draw(st.sampled_from(records))
        chosen.score = 100 - chosen.score


@st.composite
def _old_and_new(draw: st.DrawFn) -> tuple[_Specs, _Specs]:
    old = draw(_old_specs())
    new = old.copy()
    for edit in draw(st.lists(st.sampled_from(EDITS), min_size=1, max_size=4)):
        _edit(draw, new, edit)
    return old, new


def _on_fresh_conversations(specs: _Specs, names: dict[str, str]) -> _Specs:
    """The same specs on conversation UUIDs no earlier example used (one emulator for all)."""
    return _Specs({names[c]: rs for c, rs in specs.conversations.items()}, specs.catalog)


async def _online(emulator: RunningEmulator, desired: DesiredState, prefix: str | None) -> Plan:
    endpoint = Endpoint(emulator.url, Secret(emulator.zelto_api_key), name="local")
    async with HttpSession(endpoint, FAST) as session:
        current = await read_current(ZeltoClient(session), desired)
    return make_plan(desired, current, target="local", ownership_prefix=prefix)


async def _apply(emulator: RunningEmulator, plan: Plan) -> None:
    endpoint = Endpoint(emulator.url, Secret(emulator.zelto_api_key), name="local")
    async with HttpSession(endpoint, FAST) as session:
        report = await Applier(ZeltoClient(session)).run(plan)
    assert report.ok, report.summary.line()


@pytest.mark.slow  # 60 examples: 12 s to 31 s on the shared 2-core machine
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(specs=_old_and_new(), prefix=st.sampled_from((PREFIX, None)))
def test_offline_summary_equals_online_summary(
    emulator: RunningEmulator, specs: tuple[_Specs, _Specs], prefix: str | None
) -> None:
    emulator.store.add_agent(AGENT, metric_ids=METRICS)
    names = {f"c{i}": str(uuid.UUID(int=next(_fresh))) for i in range(3)}
    for conversation in names.values():
        emulator.store.add_conversation(conversation, AGENT)
    old = _on_fresh_conversations(specs[0], names).state()
    new = _on_fresh_conversations(specs[1], names).state()
    applied = asyncio.run(_online(emulator, old, prefix))
    asyncio.run(_apply(emulator, applied))

    removed = removed_records(old, new)
    ids = differing_conversations(old, new) | {r.conversation_id for r in removed}
    online = asyncio.run(_online(emulator, exactly(new, ids), prefix))
    online = mark_removed(online, removed, ref="old")
    offline = offline_plan(old, new, ref="old", conversations=ids, ownership_prefix=prefix)

    assert offline.summary == online.summary
    assert _actions(offline) == _actions(online)


def _actions(plan: Plan) -> list[tuple[str, str, str | None, str]]:
    """Every listed change, by record: the summaries could agree by accident, these cannot."""
    return [
        (c.id, ch.label, ch.external_id, ch.action.value)
        for c in plan.conversations
        for ch in c.changes
    ]
