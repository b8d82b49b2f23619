"""A minimal fast HTTP/1.1 server that answers like the emulator: a plan's reads, an apply's writes.

Why it exists: bench_plan_estate.py and bench_apply.py measure the client. The emulator
(Starlette + uvicorn + SQLite) spends more CPU per request than the client (~350-450 us per POST
against ~300 us) and shares the machine's 2 cores with it, so against it the client's own time
cannot be judged; issue 15's goals were stated against a minimal fast server. This one opens the
emulator's database with the emulator's own code (``create_app``), goes on from a copy of it in
memory (``Store.into_memory``: the file's locks cost as much CPU as the statements), and:

- **reads**: renders every conversation's ``GET /v1/conversations/{id}`` and
  ``.../customer-metrics`` answer once, status line, headers and body, as bytes (the store's
  methods, ``ZeltoApi.metrics_page``, the Starlette ``JSONResponse`` the handlers return), and
  serves them from memory;
- **writes** (any other method): hands them to the emulator's own ASGI app in this process
  (Starlette routing, validation, the SQLite upsert), so answers and upsert semantics are the
  emulator's; only uvicorn is left out. A write is handled when it arrives and answered after
  the latency (the emulator waits first: see ``_Http.on_message_complete`` for why not here). A
  write to a conversation marks its rendered reads stale, and the next read renders them again,
  so a read-back sees the writes;
- **faults**: latency, 503s and 429s are drawn by the emulator's ``FaultInjector`` (the same
  seeded sequence, in arrival order) and answered with the emulator's ``fault_response`` bytes;
  ``PUT /__bench/faults`` (``FastServer.set_faults``) sets them. Dropped connections and lost
  responses are not served (refused when set).

It serves with ``asyncio.Protocol``, ``httptools``' parser and ``uvloop``: keep-alive,
``Content-Length``, the latency as ``loop.call_later`` (no task or thread per read). Any other
GET (a wrong ``Authorization`` key: 401; an unknown id: 404; another route) also goes through the
emulator's app. ``GET /__bench/requests`` counts the requests served (not the control ones).
``tests/integration/test_fast_server.py`` checks the answers against the emulator's.

    .venv/bin/python bench/_fast_server.py STATE.sqlite [--latency-ms 20] [--port 8788]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import re
import socket
import sys
import time
import urllib.request
from collections import deque
from collections.abc import Callable, Coroutine, MutableMapping
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import Any, cast
from urllib.parse import unquote

import httptools
import uvloop

from reconciler.emulator import EmulatorApp, EmulatorConfig, Faults, create_app
from reconciler.emulator.app import fault_response
from reconciler.emulator.contract import DEFAULT_ZELTO_API_KEY, ROUTE_SIRO_VALUES
from reconciler.emulator.faults import Decision, Fate, FaultInjector

try:  # as bench scripts import it: bench/ is on sys.path
    from _fast_answers import Reads, http_bytes, render_reads, rendered
except ModuleNotFoundError:  # as the tests import it: bench._fast_server
    from bench._fast_answers import Reads, http_bytes, render_reads, rendered

STATS_PATH = b"/__bench/requests"
FAULTS_PATH = b"/__bench/faults"
_START_TIMEOUT_SECONDS = 600.0  # rendering 100,000 conversations takes a while
# The conversation a write goes to (any method but GET): its rendered reads are then stale.
_WRITE_PATH = re.compile(rb"^/v1/conversations/([^/?]+)")


def _drive(coroutine: Coroutine[Any, Any, bytes], done: Callable[[bytes], None]) -> None:
    """Run ``coroutine`` now, in this callback, and pass its result to ``done``; where it really
    waits (the emulator's write path never does), go on when what it waits for is done.

    Why not a task: a task's first step and its done-callback each wait for a later iteration
    of the loop, which on a loaded server takes milliseconds. Resuming with ``send(None)`` is
    what a task does when the future it awaited is done: the ``await`` then reads that future's
    result, or raises its exception.
    """
    try:
        waited = coroutine.send(None)
    except StopIteration as finished:
        done(finished.value)
        return
    loop = asyncio.get_running_loop()
    if waited is None:  # a bare yield (asyncio.sleep(0)): go on in the next iteration
        loop.call_soon(_drive, coroutine, done)
        return
    waited._asyncio_future_blocking = False
    waited.add_done_callback(lambda _: _drive(coroutine, done))


class _Http(asyncio.Protocol):
    """One keep-alive connection; answers leave in request order, each ``latency`` after it."""

    def __init__(self, server: _Server) -> None:
        self.server = server
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.authorization = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
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
                self.transport.write(http_bytes(400, [(b"content-length", b"0")], b""))
                self.transport.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.url, self.authorization, self.headers, self.body = b"", b"", [], []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"authorization":
            self.authorization = value
        self.headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        server = self.server
        slot = [None, self.parser.should_keep_alive()]
        self.pending.append(slot)
        method = self.parser.get_method()
        body = b"".join(self.body)
        if self.url.startswith(b"/__bench/"):
            self._ready(slot, server.control(method, self.url, body))
            return
        server.requests += 1
        decision = server.injector.decide(method.decode())
        if decision.fate is not Fate.SERVE:
            self._later(slot, decision.delay_seconds, server.fault(decision, self.url))
            return
        if method == b"GET":
            answer = server.read(self.url, self.authorization)
            if answer is not None:
                self._later(slot, decision.delay_seconds, answer)
                return
        else:
            server.wrote(self.url)
        # Handled now, answered after the latency; the emulator waits first, then handles. On one
        # thread that order keeps the requests in flight in one wave: every write whose wait
        # ends at the same moment is handled back to back while no new request is read, and
        # those then start their waits together (a write's handling started 7.8 ms after its
        # latency on average, 64 in flight, 20 ms; the apply took 1.78x its floor instead of
        # 1.46x). A server with more than one core does not serialise the requests in flight.
        coroutine = server.through_app(method, self.url, self.headers, body)
        _drive(coroutine, lambda answer: self._later(slot, decision.delay_seconds, answer))

    def _later(self, slot: list[Any], delay: float, answer: bytes) -> None:
        if delay:
            self.server.loop.call_later(delay, self._ready, slot, answer)
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
    reads: Reads
    answers: dict[bytes, bytes]
    auth: bytes
    injector: FaultInjector
    loop: asyncio.AbstractEventLoop
    requests: int = 0
    # Conversations written to since their reads were rendered.
    stale: set[str] = field(default_factory=set)

    def read(self, url: bytes, authorization: bytes) -> bytes | None:
        """The rendered answer of a GET, rendered again first when a write made it stale;
        None when only the emulator's app can answer it."""
        if authorization != self.auth:
            return None
        if self.stale and (match := _WRITE_PATH.match(url)):
            cid = match.group(1).decode()
            if cid in self.stale:
                self.stale.discard(cid)
                fresh = self.reads.answers(cid)
                for path in (
                    f"/v1/conversations/{cid}".encode(),
                    match.group(0) + b"/customer-metrics",
                ):
                    self.answers.pop(path, None)
                self.answers.update(fresh)
        return self.answers.get(url)

    def wrote(self, url: bytes) -> None:
        """A write is coming: its conversation's reads are stale from now on (whatever it
        answers: the emulator may have created the conversation on the way). A write anywhere
        else may change anything, so every read goes through the emulator's app after it."""
        if match := _WRITE_PATH.match(url):
            self.stale.add(unquote(match.group(1).decode()).lower())
        else:
            self.answers.clear()

    def fault(self, decision: Decision, url: bytes) -> bytes:
        """The emulator's answer to an injected 503 or 429."""
        path = unquote(url.partition(b"?")[0].decode())
        return rendered(fault_response(decision, is_siro=path == ROUTE_SIRO_VALUES))

    def control(self, method: bytes, url: bytes, body: bytes) -> bytes:
        """``GET /__bench/requests``, ``PUT /__bench/faults``: the bench steering its server."""
        status, answer = 404, {"error": "no such control"}
        if (method, url) == (b"GET", STATS_PATH):
            status, answer = 200, {"requests": self.requests}
        elif (method, url) == (b"PUT", FAULTS_PATH):
            try:
                faults = Faults(**json.loads(body))
            except (ValueError, TypeError) as exc:  # EmulatorError is a ValueError
                status, answer = 422, {"error": str(exc)}
            else:
                if faults.drop_rate or faults.lost_response_rate:
                    status, answer = 422, {"error": "drops and lost responses are not served"}
                else:
                    self.injector.set(faults)
                    status, answer = 200, asdict(faults)
        data = json.dumps(answer).encode()
        return http_bytes(status, [(b"content-length", str(len(data)).encode())], data)

    async def through_app(
        self, method: bytes, url: bytes, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> bytes:
        """What the emulator's own app answers: every write, and reads the server has not
        rendered (401, 404, ...)."""
        parsed = httptools.parse_url(url)
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": method.decode(), "scheme": "http", "path": unquote(parsed.path.decode()),
            "raw_path": parsed.path, "query_string": parsed.query or b"", "root_path": "",
            "headers": headers, "client": None, "server": None,
        }  # fmt: skip
        start: dict[str, Any] = {}
        chunks: list[bytes] = []
        unread = [body]

        async def receive() -> dict[str, Any]:
            if unread:
                return {"type": "http.request", "body": unread.pop(), "more_body": False}
            return {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            else:
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return http_bytes(start["status"], list(start.get("headers", [])), b"".join(chunks))


@dataclass(frozen=True)
class _Settings:
    db: str
    api_key: str
    latency_ms: float
    host: str
    port: int


def _serve(settings: _Settings, conn: Connection) -> None:
    """The server process: render, bind, report ready, serve until terminated."""
    api_key = settings.api_key
    try:
        app = create_app(EmulatorConfig(db_path=settings.db, zelto_api_key=api_key))
        app.store.into_memory()  # the file's locks cost as much CPU as the statements
        t0 = time.perf_counter()
        reads, answers = render_reads(app, settings.db, api_key)
        took = time.perf_counter() - t0
        sock = socket.create_server((settings.host, settings.port))
    except BaseException as exc:
        conn.send(("error", repr(exc)))
        raise
    conn.send(("ready", f"http://{settings.host}:{sock.getsockname()[1]}", len(answers), took))
    conn.close()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        injector = FaultInjector(Faults(latency_ms=settings.latency_ms))
        server = _Server(app, reads, answers, f"Bearer {api_key}".encode(), injector, loop)
        listening = await loop.create_server(lambda: _Http(server), sock=sock, backlog=1024)
        await listening.serve_forever()

    uvloop.run(main())


class FastServer:
    """The fast server in another process (its own GIL and core), with the emulator's names:
    ``url``, ``zelto_api_key``, ``set_faults()``, ``request_counts()``,
    ``reset_request_counts()``, ``stop()``."""

    def __init__(self, db: Path, *, latency_ms: float = 0.0, api_key: str = DEFAULT_ZELTO_API_KEY,
                 host: str = "127.0.0.1", port: int = 0) -> None:  # fmt: skip
        self.zelto_api_key = api_key
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe(duplex=False)
        args = (_Settings(str(db), api_key, latency_ms, host, port), child)
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

    def set_faults(self, faults: Faults) -> None:
        """As the emulator's: latency and faults from now on, the seeded sequence restarted."""
        data = json.dumps(asdict(faults)).encode()
        request = urllib.request.Request(self.url + FAULTS_PATH.decode(), data=data, method="PUT")
        with urllib.request.urlopen(request, timeout=10):
            pass

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
