"""A minimal fast HTTP/1.1 server that answers a plan's reads exactly like the emulator.

Why it exists: bench_plan_estate.py measures the client. The emulator (Starlette + uvicorn +
SQLite) spends about as much CPU per request as the client and shares the machine's 2 cores with
it, so against it the client's own time cannot be judged; issue 15's goals were stated against a
minimal fast server. This one answers from memory: at start it opens the emulator's database
with the emulator's own code (``create_app``'s store, ``ZeltoApi.metrics_page``, the Starlette
``JSONResponse`` the emulator's handlers return) and renders every conversation's
``GET /v1/conversations/{id}`` and ``.../customer-metrics`` answer once, status line, headers
and body, as bytes. It then serves them with ``asyncio.Protocol``, ``httptools``' parser and
``uvloop``: keep-alive, ``Content-Length``, and a fixed injected latency (``loop.call_later``,
no task or thread per request).

Any other GET (a wrong ``Authorization`` key: 401; an unknown id: 404; another route) goes
through the emulator's own ASGI app in this process, so those answers are the emulator's too,
only slower. Only reads are served: a write would leave the rendered answers stale, so other
methods get a 405. ``GET /__bench/requests`` counts the requests served (not itself).
``tests/integration/test_fast_server.py`` checks the answers are byte-identical to the emulator's.

    .venv/bin/python bench/_fast_server.py STATE.sqlite [--latency-ms 20] [--port 8788]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import socket
import sqlite3
import sys
import time
import urllib.request
from collections import deque
from collections.abc import MutableMapping
from dataclasses import dataclass
from http import HTTPStatus
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import Any, cast

import httptools
import uvloop
from starlette.responses import JSONResponse

from reconciler.emulator import EmulatorApp, EmulatorConfig, create_app
from reconciler.emulator.contract import DEFAULT_ZELTO_API_KEY
from reconciler.emulator.zelto_api import ZeltoApi, zelto_error

STATS_PATH = b"/__bench/requests"
_START_TIMEOUT_SECONDS = 600.0  # rendering 100,000 conversations takes a while


def _http_bytes(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> bytes:
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}".encode()]
    lines += [name + b": " + value for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _rendered(response: JSONResponse) -> bytes:
    return _http_bytes(response.status_code, response.raw_headers, bytes(response.body))


def render_reads(app: EmulatorApp, db: str, api_key: str) -> dict[bytes, bytes]:
    """Every conversation's two GET answers for ``api_key``'s organization, by request path.

    The bodies come from the emulator's own store methods and ``ZeltoApi.metrics_page``, put
    into the ``JSONResponse`` its handlers return: not a second rendering of the JSON shape.
    """
    store = app.store
    org = store.organization_for_key(api_key)
    if org is None:
        raise SystemExit("the API key has no organization in this database")
    api = ZeltoApi(store)
    # Which conversations exist is the one thing the store has no method for.
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as listing:
        query = "SELECT id FROM conversations WHERE organization_id = ? ORDER BY id"
        ids = [row[0] for row in listing.execute(query, (org.id,))]
    answers: dict[bytes, bytes] = {}
    for cid in ids:
        conversation = store.get_conversation(org.id, cid)
        assert conversation is not None
        base = f"/v1/conversations/{cid}"
        answers[base.encode()] = _rendered(JSONResponse(conversation))
        if org.metrics_enabled:  # else the emulator's 403, through the fallback
            page = api.metrics_page(conversation["id"])
            answers[f"{base}/customer-metrics".encode()] = _rendered(JSONResponse(page))
    return answers


class _Http(asyncio.Protocol):
    """One keep-alive connection; answers leave in request order, each ``latency`` after it."""

    def __init__(self, server: _Server) -> None:
        self.server = server
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.authorization = b""
        self.headers: list[tuple[bytes, bytes]] = []
        # Each request's slot: [answer or None, keep-alive]; filled when its latency is over.
        self.pending: deque[list[Any]] = deque()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.write(_http_bytes(400, [(b"content-length", b"0")], b""))
                self.transport.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.url, self.authorization, self.headers = b"", b"", []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"authorization":
            self.authorization = value
        self.headers.append((name, value))

    def on_message_complete(self) -> None:
        server = self.server
        slot = [None, self.parser.should_keep_alive()]
        self.pending.append(slot)
        method = self.parser.get_method()
        if self.url == STATS_PATH:
            body = json.dumps({"requests": server.requests}).encode()
            headers = [(b"content-length", str(len(body)).encode())]
            self._ready(slot, _http_bytes(200, headers, body))
            return
        server.requests += 1
        answer = server.answers.get(self.url) if self.authorization == server.auth else None
        if answer is None or method != b"GET":
            task = asyncio.ensure_future(server.fallback(method, self.url, self.headers))
            task.add_done_callback(lambda done: self._later(slot, done.result()))
            return
        self._later(slot, answer)

    def _later(self, slot: list[Any], answer: bytes) -> None:
        if self.server.latency:
            self.server.loop.call_later(self.server.latency, self._ready, slot, answer)
        else:
            self._ready(slot, answer)

    def _ready(self, slot: list[Any], answer: bytes) -> None:
        slot[0] = answer
        while self.pending and self.pending[0][0] is not None:
            answer, keep_alive = self.pending.popleft()
            if self.transport is None:
                return
            self.transport.write(answer)
            if not keep_alive:
                self.transport.close()
                return


@dataclass
class _Server:
    app: EmulatorApp
    answers: dict[bytes, bytes]
    auth: bytes
    latency: float
    loop: asyncio.AbstractEventLoop
    requests: int = 0

    async def fallback(
        self, method: bytes, url: bytes, headers: list[tuple[bytes, bytes]]
    ) -> bytes:
        """What the emulator's own app answers (401, 404, ...); reads only."""
        if method != b"GET":
            error = zelto_error(405, "http_error", "the fast bench server serves reads only")
            return _rendered(error)
        parsed = httptools.parse_url(url)
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "GET", "scheme": "http", "path": parsed.path.decode(),
            "raw_path": parsed.path, "query_string": parsed.query or b"", "root_path": "",
            "headers": headers, "client": None, "server": None,
        }  # fmt: skip
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            else:
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return _http_bytes(start["status"], list(start.get("headers", [])), b"".join(chunks))


@dataclass(frozen=True)
class _Settings:
    db: str
    api_key: str
    latency: float  # seconds
    host: str
    port: int


def _serve(settings: _Settings, conn: Connection) -> None:
    """The server process: render, bind, report ready, serve until terminated."""
    api_key = settings.api_key
    try:
        app = create_app(EmulatorConfig(db_path=settings.db, zelto_api_key=api_key))
        t0 = time.perf_counter()
        answers = render_reads(app, settings.db, api_key)
        took = time.perf_counter() - t0
        sock = socket.create_server((settings.host, settings.port))
    except BaseException as exc:
        conn.send(("error", repr(exc)))
        raise
    conn.send(("ready", f"http://{settings.host}:{sock.getsockname()[1]}", len(answers), took))
    conn.close()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = _Server(app, answers, f"Bearer {api_key}".encode(), settings.latency, loop)
        listening = await loop.create_server(lambda: _Http(server), sock=sock, backlog=1024)
        await listening.serve_forever()

    uvloop.run(main())


class FastServer:
    """The fast server in another process (its own GIL and core), with the emulator's names:
    ``url``, ``zelto_api_key``, ``request_counts()``, ``reset_request_counts()``, ``stop()``."""

    def __init__(self, db: Path, *, latency_ms: float = 0.0, api_key: str = DEFAULT_ZELTO_API_KEY,
                 host: str = "127.0.0.1", port: int = 0) -> None:  # fmt: skip
        self.zelto_api_key = api_key
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe(duplex=False)
        args = (_Settings(str(db), api_key, latency_ms / 1000.0, host, port), child)
        self.process = context.Process(target=_serve, args=args, daemon=True)
        self.process.start()
        child.close()
        if not parent.poll(_START_TIMEOUT_SECONDS):
            self.process.kill()
            raise RuntimeError("the fast server did not start")
        try:
            message = parent.recv()
        except EOFError:
            message = ("error", f"it exited first (exit code {self.process.exitcode})")
        if message[0] != "ready":
            self.process.join(5)
            raise RuntimeError(f"the fast server could not start: {message[1]}")
        self.url: str = message[1]
        self.rendered: int = message[2]
        self.render_seconds: float = message[3]
        self._base = 0

    def _served(self) -> int:
        with urllib.request.urlopen(self.url + STATS_PATH.decode(), timeout=10) as response:
            count: int = json.load(response)["requests"]
        return count

    def request_counts(self) -> dict[tuple[str, str], int]:
        return {("*", "*"): self._served() - self._base}

    def reset_request_counts(self) -> None:
        self._base = self._served()

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()

    def __enter__(self) -> FastServer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("db", type=Path)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--port", type=int, default=8788)
    args = parser.parse_args()
    with FastServer(args.db, latency_ms=args.latency_ms, port=args.port) as server:
        print(f"{server.url}: {server.rendered} answers rendered in {server.render_seconds:.1f} s",
              file=sys.stderr)  # fmt: skip
        with contextlib.suppress(KeyboardInterrupt):
            server.process.join()


if __name__ == "__main__":
    main()
