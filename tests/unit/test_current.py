"""Reading the current state against the emulator: one list per conversation, the agent only
when a per-agent catalog needs it, and every failure kept per conversation."""

from __future__ import annotations

import asyncio
from uuid import UUID

from plan_factories import AGENT, CID, CID2, METRIC, declared, desired

from reconciler.emulator import Faults, RunningEmulator
from reconciler.model import CatalogEntry, DesiredState
from reconciler.plan.planner import CurrentState
from reconciler.remote.current import read_current
from reconciler.remote.http import Endpoint, HttpSession, HttpSettings, Secret
from reconciler.remote.zelto import ReadResult, ZeltoClient

LIST = ("GET", "/v1/conversations/{id}/customer-metrics")
GET_CONVERSATION = ("GET", "/v1/conversations/{id}")
PER_AGENT = {"A": CatalogEntry(metricId={UUID(AGENT): UUID(METRIC)})}


def _read(
    emulator: RunningEmulator, wanted: DesiredState, *, after_lists: Faults | None = None
) -> CurrentState:
    endpoint = Endpoint(url=emulator.url, token=Secret(emulator.zelto_api_key), name="emu")
    settings = HttpSettings(concurrency=4, max_attempts=1, timeout_seconds=5)
    remaining = len(wanted.conversations)

    def on_read(conversation_id: str, result: ReadResult) -> None:
        nonlocal remaining
        remaining -= 1
        if remaining == 0 and after_lists is not None:
            emulator.set_faults(after_lists)

    async def run() -> CurrentState:
        async with HttpSession(endpoint, settings) as session:
            return await read_current(ZeltoClient(session), wanted, on_read=on_read)

    return asyncio.run(run())


def test_records_are_read_once_and_the_agent_only_for_an_empty_per_agent_conversation(
    emulator: RunningEmulator,
) -> None:
    emulator.store.add_agent(AGENT)
    emulator.store.add_conversation(CID, AGENT)
    emulator.store.add_conversation(CID2, AGENT)
    emulator.store.put_metric(CID2, label="A", externalId="qa-2", verdict="pass")
    wanted = desired([declared("qa-1", "A"), declared("qa-2", "A", cid=CID2)], PER_AGENT)
    state = _read(emulator, wanted)
    assert state.conversations[CID].records == () and state.conversations[CID].agent_id == AGENT
    assert [r.external_id for r in state.conversations[CID2].records] == ["qa-2"]
    assert state.conversations[CID2].agent_id is None
    counts = emulator.request_counts()
    assert counts[LIST] == 2 and counts[GET_CONVERSATION] == 1


def test_no_agent_look_up_without_a_per_agent_catalog(emulator: RunningEmulator) -> None:
    emulator.store.add_conversation(CID)
    _read(emulator, desired([declared("qa-1", "A")]))
    assert GET_CONVERSATION not in emulator.request_counts()


def test_a_failed_agent_look_up_is_that_conversations_error(emulator: RunningEmulator) -> None:
    emulator.store.add_agent(AGENT)
    emulator.store.add_conversation(CID, AGENT)
    wanted = desired([declared("qa-1", "A")], PER_AGENT)
    state = _read(emulator, wanted, after_lists=Faults(error_rate=1.0))
    error = state.conversations[CID].error
    assert error is not None and error.startswith("cannot find the conversation's agent: ")
    assert f"GET /v1/conversations/{CID} (target emu)" in error and "\n" not in error


def test_unknown_conversations_are_errors_not_empty(emulator: RunningEmulator) -> None:
    emulator.store.add_conversation(CID)
    state = _read(emulator, desired([declared("qa-1", "A"), declared("qa-2", "B", cid=CID2)]))
    assert state.conversations[CID].error is None
    assert "404" in (state.conversations[CID2].error or "")


def test_a_refused_key_marks_every_conversation_unread(emulator: RunningEmulator) -> None:
    emulator.store.add_conversation(CID)
    emulator.store.add_conversation(CID2)
    endpoint = Endpoint(url=emulator.url, token=Secret("not-the-key"), name="emu")

    async def run() -> CurrentState:
        async with HttpSession(endpoint, HttpSettings(concurrency=1, max_attempts=1)) as session:
            wanted = desired([declared("qa-1", "A"), declared("qa-2", "B", cid=CID2)])
            return await read_current(ZeltoClient(session), wanted)

    state = asyncio.run(run())
    errors = [state.conversations[cid].error or "" for cid in (CID, CID2)]
    assert "401" in errors[0] and "target emu" in errors[0]
    assert errors[1] == "not read: the credential was refused (401)"
    assert emulator.request_counts()[LIST] == 1
