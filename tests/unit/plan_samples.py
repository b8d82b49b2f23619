"""Sample plans for the renderer golden files, and the golden-file comparison itself.

The main sample holds every action of semantics.md §3 plus the display hazards: a note that
differs only in whitespace, a trailing newline, a long note changed near its end, a field the
POST clears, Markdown/HTML/@mention in user text, a per-agent catalog error and a conversation
that could not be read. Set RECONCILER_UPDATE_GOLDEN=1 to rewrite the golden files after an
intended change, then review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path
from uuid import UUID

from plan_factories import AGENT, CID, CID2, METRIC, OTHER_AGENT, current, declared, desired, remote

from reconciler.model import CatalogEntry
from reconciler.plan.model import Plan
from reconciler.plan.planner import make_plan

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
UPDATE_ENV = "RECONCILER_UPDATE_GOLDEN"

CID3 = "9e9e9e9e-3333-4333-8333-333333333333"
CID4 = "4a4a4a4a-4444-4444-8444-444444444444"
LONG = "Agent read the disclosure. " * 12


def assert_golden(name: str, actual: str) -> None:
    """Compare with tests/golden/<name>; rewrite it instead when RECONCILER_UPDATE_GOLDEN=1."""
    path = GOLDEN / name
    if os.environ.get(UPDATE_ENV) == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"{path} is missing; run with {UPDATE_ENV}=1 to create it"
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{name} differs from the golden file; {UPDATE_ENV}=1 rewrites it"


def every_action_plan(*, sensitive: tuple[str, ...] = ()) -> Plan:
    """One plan with every action and display hazard (see the module docstring)."""
    catalog = {
        "Compliance Check": CatalogEntry(metricId=UUID(METRIC), kind="verdict"),
        "Per Agent": CatalogEntry(metricId={UUID(OTHER_AGENT): UUID(METRIC)}),
    }
    records = [
        declared("qa-new", "Compliance Check", note="Disclosure read verbatim at 00:41.\n", line=3),
        declared("qa-empathy", "Empathy", score=85, line=8),
        declared("qa-ws", "Whitespace", note="two  spaces", line=12),
        declared("qa-long", "Long note", note=LONG + "end.", line=16),
        declared("qa-moved", "Renamed", verdict="fail", line=20),
        declared("qa-adopt", "Taken", verdict="pass", adopt=True, line=24),
        declared("qa-conflict", "**Bold** <b>x</b> @octocat", verdict="pass", line=28),
        declared("qa-agent", "Per Agent", verdict="pass", line=32),
        declared("qa-unread", "Empathy", cid=CID2, score=1, line=40),
        declared("qa-same", "Same", cid=CID3, verdict="pass", line=44),
    ]
    remotes = [
        remote("qa-empathy", "Empathy", score=80.0, verdict=None, note="`kept`?", rid="r-emp"),
        remote("qa-ws", "Whitespace", note="two spaces ", rid="r-ws"),
        remote("qa-long", "Long note", note=LONG + "END.", rid="r-long"),
        remote("qa-moved", "Old name", verdict="fail", rid="r-old"),
        remote("hand-made", "Taken", verdict="fail", rid="r-taken"),
        remote(None, "**Bold** <b>x</b> @octocat", verdict="fail", rid="r-bold"),
        remote("qa-retired", "Retired", score=10, verdict=None, rid="r-retired"),
        remote("theirs", "Theirs", rid="r-theirs"),
        remote("qa-same", "Same", cid=CID3, rid="r-same", agent=AGENT),
    ]
    state = current(
        remotes,
        errors={
            CID2: f"GET /v1/conversations/{CID2}/customer-metrics (target local): "
            "404 unknown conversation"
        },
        conversations=(CID, CID2, CID3),
    )
    return make_plan(
        desired(records, catalog),
        state,
        target="local",
        ownership_prefix="qa-",
        sensitive=sensitive,
    )


def many_conversations_plan(count: int) -> Plan:
    """A plan big enough that the Markdown cap must cut conversations; one of them fails."""
    records = []
    remotes = []
    cids = [f"{n:08x}-0000-4000-8000-{n:012x}" for n in range(count)]
    for n, cid in enumerate(cids):
        for k in range(5):
            records.append(declared(f"qa-{n}-{k}", f"Label {k}", cid=cid, score=k, line=k + 1))
        if n == count - 1:
            remotes.append(remote("someone-else", "Label 0", cid=cid))
    return make_plan(desired(records), current(remotes, conversations=cids), target="production")


def empty_plan() -> Plan:
    return make_plan(
        desired([declared("qa-1", "A", cid=CID4)]),
        current([remote("qa-1", "A", cid=CID4)], conversations=(CID4,)),
        target="local",
    )


def offline_plan() -> Plan:
    planned = make_plan(desired([declared("qa-1", "A")]), current([]), target="local")
    return Plan.build(
        target=planned.target,
        spec_digest=planned.spec_digest,
        conversations=planned.conversations,
        offline=True,
        scope="changed since origin/main",
    )
