"""The Zelto client over real HTTP against the emulator; malformed bodies through a fake."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from reconciler.emulator import Faults
from reconciler.emulator.contract import DEFAULT_ORGANIZATION_ID
from reconciler.errors import ApiError, AuthError
from reconciler.model import RemoteRecord
from reconciler.remote.http import Endpoint, HttpSession, HttpSettings, Secret
from reconciler.remote.zelto import ReadResult, ZeltoClient

UNKNOWN = "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a"
FAST = HttpSettings(concurrency=4, max_attempts=6, backoff_base_seconds=0.001)


def _endpoint(emulator: Any, token: str | None = None) -> Endpoint:
    return Endpoint(emulator.url, Secret(token or emulator.zelto_api_key), "local", "ZELTO_API_KEY")


def _run(emulator: Any, work: Any, *, token: str | None = None) -> Any:
    async def main() -> Any:
        async with HttpSession(_endpoint(emulator, token), FAST) as session:
            return await work(ZeltoClient(session))

    return asyncio.run(main())


def test_list_metrics_returns_remote_records(emulator: Any) -> None:
    cid = emulator.store.add_conversation()
    emulator.store.put_metric(cid, label="Tone", verdict="pass", score=92, externalId="qa-1")
    emulator.store.put_metric(cid, label="Empathy", score=40.5)

    records = _run(emulator, lambda c: c.list_metrics(cid))
    assert [(r.label, r.verdict, r.score, r.external_id) for r in records] == [
        ("Tone", "pass", 92, "qa-1"),
        ("Empathy", None, 40.5, None),
    ]
    assert all(isinstance(r, RemoteRecord) and r.conversation_id == cid for r in records)


def test_get_conversation_has_its_agent(emulator: Any) -> None:
    agent = emulator.store.add_agent(name="Sales bot")
    cid = emulator.store.add_conversation(agent_id=agent)
    conversation = _run(emulator, lambda c: c.get_conversation(cid))
    assert (conversation.id, conversation.agent_id) == (cid, agent)


def test_submit_creates_then_replaces_on_the_label(emulator: Any) -> None:
    cid = emulator.store.add_conversation()

    async def work(client: ZeltoClient) -> tuple[RemoteRecord, RemoteRecord, list[RemoteRecord]]:
        first = await client.submit_metric(cid, {"label": "Tone", "verdict": "pass"})
        second = await client.submit_metric(cid, {"label": "Tone", "score": 70, "note": "ok"})
        return first, second, await client.list_metrics(cid)

    first, second, records = _run(emulator, work)
    assert first.id == second.id
    assert (second.verdict, second.score, second.note) == (None, 70, "ok")  # full replace
    assert len(records) == 1 and records[0].source == "api"


def test_list_agents_follows_the_cursor(emulator: Any) -> None:
    made = {emulator.store.add_agent(name=f"Agent {n}") for n in range(5)}
    agents = _run(emulator, lambda c: c.list_agents(page_size=2))
    ids = [a.id for a in agents]
    assert made <= set(ids) and len(ids) == len(set(ids))
    assert emulator.request_counts()[("GET", "/v1/agents")] >= 3


def test_read_many_captures_per_conversation_errors(emulator: Any) -> None:
    good = [emulator.store.add_conversation() for _ in range(5)]
    for cid in good:
        emulator.store.put_metric(cid, label="Tone", verdict="pass")
    done: list[str] = []

    def on_done(cid: str, result: ReadResult) -> None:
        done.append(cid)

    ids = [good[0], UNKNOWN, *good[1:], good[0]]
    results = _run(emulator, lambda c: c.read_many(ids, on_done=on_done))
    assert list(results) == [good[0], UNKNOWN, *good[1:]]  # input order, duplicates once
    assert sorted(done) == sorted(results)
    missing = results[UNKNOWN]
    assert isinstance(missing, ApiError) and missing.status == 404
    assert missing.conversation_id == UNKNOWN
    assert f"GET /v1/conversations/{UNKNOWN}/customer-metrics (target local)" in str(missing)
    assert all(isinstance(results[cid], list) and len(results[cid]) == 1 for cid in good)  # type: ignore[arg-type]


def test_read_many_with_metrics_disabled_is_a_403_per_conversation(emulator: Any) -> None:
    cid = emulator.store.add_conversation()
    emulator.store.set_metrics_enabled(DEFAULT_ORGANIZATION_ID, False)
    results = _run(emulator, lambda c: c.read_many([cid]))
    error = results[cid]
    assert isinstance(error, ApiError) and error.status == 403
    assert "HTTP 403" in str(error)


def test_read_many_stops_on_401(emulator: Any) -> None:
    ids = [emulator.store.add_conversation() for _ in range(30)]
    token = "zk_wrong_key_not_valid_0000"
    with pytest.raises(AuthError) as caught:
        _run(emulator, lambda c: c.read_many(ids), token=token)
    assert token not in str(caught.value)
    gets = sum(n for (m, _), n in emulator.request_counts().items() if m == "GET")
    assert gets <= FAST.concurrency  # the workers stop taking ids after the first 401


def test_read_many_converges_under_faults(emulator: Any) -> None:
    ids = [emulator.store.add_conversation() for _ in range(30)]
    emulator.set_faults(Faults(error_rate=0.3, throttle_rate=0.1, retry_after_seconds=0.001))
    results = _run(emulator, lambda c: c.read_many(ids))
    assert all(isinstance(r, list) for r in results.values())


def _fake(body: bytes) -> httpx.MockTransport:
    """A server answering 200 with a body the emulator never sends: the emulator implements the
    contract, so a malformed answer can only come from a fake."""
    return httpx.MockTransport(lambda request: httpx.Response(200, content=body))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"<html>oops</html>", "body is not JSON"),
        (b'{"items": []}', 'expected an object with a "data" list'),
        (b'{"data": [{"id": "1"}]}', "malformed response: data.0.organizationId: Field required"),
    ],
)
def test_malformed_responses_name_the_request(body: bytes, expected: str) -> None:
    endpoint = Endpoint("https://api.zelto.ai", Secret("zk_0123456789"), "production")

    async def main() -> None:
        async with HttpSession(endpoint, FAST, transport=_fake(body)) as session:
            await ZeltoClient(session).list_metrics(UNKNOWN)

    with pytest.raises(ApiError) as caught:
        asyncio.run(main())
    assert expected in str(caught.value)
    assert str(caught.value).startswith(
        f"GET /v1/conversations/{UNKNOWN}/customer-metrics (target production): "
    )


def test_a_repeated_list_cursor_is_an_error_not_a_partial_list() -> None:
    """A server whose nextCursor repeats: the emulator never pages the record listing, so only a
    fake server can send this. Before, the client stopped quietly with the first page."""
    page = {"data": [], "nextCursor": "c1"}

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=page)

    endpoint = Endpoint("https://api.zelto.ai", Secret("zelto_key_0123456789"), "api.zelto.ai")

    async def main() -> None:
        transport = httpx.MockTransport(answer)
        async with HttpSession(endpoint, FAST, transport=transport) as http:
            await ZeltoClient(http).list_agents()

    with pytest.raises(ApiError, match="nextCursor 'c1' repeats an earlier page's"):
        asyncio.run(main())
