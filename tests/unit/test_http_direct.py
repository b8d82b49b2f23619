"""The direct wire (reconciler/remote/http/direct.py) against peers that misbehave on purpose.

The transport-parametrized tests of test_http.py and test_http_hostile.py cover what every wire
must do (caps, gzip bombs, certificates, unresolvable hosts, redaction); these cover what only
a hand-framed HTTP/1.1 client can get wrong: framing of what it sends, and the life of a
keep-alive connection. The peers are tests/fakes/hostile.py's raw servers (one connection at a
time, each closed after its answer), because the emulator, run by uvicorn, frames HTTP properly.
"""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from collections.abc import Iterable
from typing import Any

import pytest

from reconciler.errors import ApiError
from reconciler.remote.http import Endpoint, HttpSession, HttpSettings, Secret
from reconciler.remote.http.direct import MAX_HEAD_BYTES, DirectWire
from reconciler.remote.http.wiring import open_wire
from tests.fakes.hostile import http_answer, raw_server

TOKEN = "zk_live_Q7fR2xPz9LmN4vB8kT1wY6cD3sA5eH0j"


def _session(url: str, **settings: Any) -> HttpSession:
    endpoint = Endpoint(url=url, token=Secret(TOKEN), name="peer")
    values: dict[str, Any] = {"max_attempts": 1, "transport": "direct", **settings}
    return HttpSession(endpoint, HttpSettings(**values))


async def _get(url: str, path: str = "/v1/agents", times: int = 1) -> list[bytes]:
    async with _session(url) as session:
        return [(await session.request("GET", path)).content for _ in range(times)]


def test_the_default_wire_is_the_direct_one_unless_a_proxy_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def wire() -> object:
        return open_wire("direct", None, base_url="https://api.zelto.example", connections=4,
                         timeout_seconds=5, headers={}, max_body_bytes=1000)  # fmt: skip

    assert HttpSettings().transport == "direct"
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert isinstance(wire(), DirectWire)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    assert type(wire()).__name__ == "AiohttpWire"  # the direct wire does not speak CONNECT


def test_a_body_delimited_by_the_end_of_the_connection_is_read_whole() -> None:
    answer = b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n[1, 2, 3]"
    with raw_server(lambda head: answer) as server:
        assert asyncio.run(_get(server.url)) == [b"[1, 2, 3]"]


def test_an_interim_answer_is_skipped() -> None:
    answer = b"HTTP/1.1 100 Continue\r\n\r\n" + http_answer("200 OK", b"{}")
    with raw_server(lambda head: answer) as server:
        assert asyncio.run(_get(server.url)) == [b"{}"]


def test_a_keep_alive_connection_the_server_closed_is_replaced_not_failed() -> None:
    """The peer promises keep-alive and closes anyway, after each answer: every request after the
    first finds its idle connection dead and must go on a new one, with no attempt spent."""
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
    with raw_server(lambda head: answer) as server:
        assert asyncio.run(_get(server.url, times=5)) == [b"{}"] * 5
    assert len(server.heads) == 5


def test_endless_headers_are_refused_at_the_cap_with_bounded_memory() -> None:
    def answer(head: bytes) -> Iterable[bytes]:
        yield b"HTTP/1.1 200 OK\r\nX-Padding: "
        for _ in range(4_000):  # 256 MB of one header value, if the client kept reading
            yield b"a" * 65_536

    tracemalloc.start()
    try:
        with raw_server(answer) as server, pytest.raises(ApiError) as caught:
            asyncio.run(_get(server.url))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert f"response headers over {MAX_HEAD_BYTES} bytes" in str(caught.value)
    assert peak < 10_000_000


def test_a_malformed_answer_is_a_one_line_error() -> None:
    answer = b"HTTP/1.1 2OO OK\r\n\r\n"
    with raw_server(lambda head: answer) as server, pytest.raises(ApiError) as caught:
        asyncio.run(_get(server.url))
    assert "malformed response" in str(caught.value) and "\n" not in str(caught.value)


def test_the_request_target_cannot_break_the_request_line() -> None:
    """A path (a conversation id, a server's Link) with spaces or line breaks is percent-encoded:
    raw, it would end the request line and let the rest be read as headers."""
    with raw_server(lambda head: http_answer("200 OK", b"{}")) as server:
        asyncio.run(_get(server.url, "/v1/conversations/a b\r\nX-Evil: 1/metrics?q=x y"))
    request_line, _, headers = server.heads[0].partition(b"\r\n")
    # urllib drops line breaks and tabs from URLs (WHATWG's rule); the space is encoded
    assert request_line == b"GET /v1/conversations/a%20bX-Evil:%201/metrics?q=x%20y HTTP/1.1"
    assert b"X-Evil" not in headers


def test_a_credential_with_a_line_break_is_never_sent() -> None:
    with raw_server(lambda head: http_answer("200 OK", b"{}")) as server:
        endpoint = Endpoint(url=server.url, token=Secret("tok\r\nX-Evil: 1"), name="peer")

        async def run() -> None:
            async with HttpSession(endpoint, HttpSettings(transport="direct")) as session:
                await session.request("GET", "/v1/agents")

        with pytest.raises(ApiError) as caught:
            asyncio.run(run())
    assert "line break" in str(caught.value) and server.heads == []
    assert "tok" not in str(caught.value)


def test_a_cancelled_exchange_never_hands_its_connection_on() -> None:
    """A request cancelled mid-answer (the session's attempt timeout) leaves bytes in flight; the
    next request must not read them as its own answer."""
    first = b'HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n{"n": 1, "m": 2}'

    def answer(head: bytes) -> Iterable[bytes]:
        if b"/one" in head:  # the head and half the body, then silence on an open connection
            yield first[:-8]
            time.sleep(1.0)
            yield first[-8:]
        else:
            yield http_answer("200 OK", b'"two"')

    async def run(url: str) -> bytes:
        wire = DirectWire(url, connections=2, headers={}, max_body_bytes=1000)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                await wire.send("GET", url + "/one", json=None, params=None, credentials={})
        second = await wire.send("GET", url + "/two", json=None, params=None, credentials={})
        await wire.aclose()
        return second.content

    with raw_server(answer) as server:
        assert asyncio.run(run(server.url)) == b'"two"'


def test_a_url_of_another_origin_is_not_sent() -> None:
    async def run() -> None:
        wire = DirectWire("http://127.0.0.1:9", connections=1, headers={}, max_body_bytes=10)
        await wire.send("GET", "http://127.0.0.2:9/x", json=None, params=None, credentials={})

    with pytest.raises(Exception, match=r"sends only to 127\.0\.0\.1"):
        asyncio.run(run())
