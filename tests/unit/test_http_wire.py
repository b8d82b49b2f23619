"""The aiohttp wire's cheap parts keep httpx's meaning: the response built without re-reading its
body, and the attempt bounded by the session alone once aiohttp keeps no timers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest

from reconciler.errors import ApiError
from reconciler.remote.http import Endpoint, HttpSession, HttpSettings, Secret
from reconciler.remote.http.wire import answered
from tests.fakes.hostile import raw_server

TOKEN = "zk_test_SECRET_0123456789"


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (200, b'{"data": [{"label": "Tone"}], "nextCursor": null}', b"OK"),
        (503, b"<html>busy</html>", b"Service Unavailable"),
        (204, b"", b"No Content"),
        (200, "caf\u00e9 \u2713".encode(), b"OK"),
    ],
)
def test_an_answered_response_reads_like_httpx_own(status: int, body: bytes, reason: bytes) -> None:
    headers = [(b"Content-Type", b"application/json; charset=utf-8"), (b"Retry-After", b"2")]
    ours = answered(status, headers, body, reason)
    theirs = httpx.Response(
        status, headers=headers, content=body, extensions={"reason_phrase": reason}
    )
    assert ours.status_code == theirs.status_code
    assert ours.content == theirs.content == body
    assert ours.read() == body
    assert ours.text == theirs.text
    assert ours.is_success == theirs.is_success
    assert ours.reason_phrase == theirs.reason_phrase
    assert ours.headers["retry-after"] == "2"
    assert ours.headers.get("content-type") == theirs.headers.get("content-type")
    assert ours.is_closed and ours.is_stream_consumed
    if body.startswith(b"{"):
        assert ours.json() == theirs.json()


def _trickle(_head: bytes) -> Iterator[bytes]:
    """The headers at once, then one body byte every 50 ms until the client goes away (a
    slow-loris answer no timeout per read would ever end)."""
    yield b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"
    while True:
        time.sleep(0.05)
        yield b" "


@pytest.fixture
def trickling_url() -> Iterator[str]:
    with raw_server(_trickle) as server:
        yield server.url


def test_a_trickling_answer_is_cut_at_the_timeout(trickling_url: str) -> None:
    endpoint = Endpoint(url=trickling_url, token=Secret(TOKEN), name="slow")
    settings = HttpSettings(timeout_seconds=0.3, max_attempts=1)

    async def run() -> tuple[ApiError, float]:
        async with HttpSession(endpoint, settings) as session:
            started = time.monotonic()
            with pytest.raises(ApiError) as caught:
                await session.request("GET", "/v1/agents")
            return caught.value, time.monotonic() - started

    error, took = asyncio.run(run())
    assert took < 2.0, took
    assert "timed out" in str(error) or "timeout" in str(error).lower(), str(error)
