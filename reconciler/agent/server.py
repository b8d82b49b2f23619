"""The agent's HTTP face: probes, metrics, status and the push webhook, served by uvicorn.

The reconcile loop runs in a worker thread; the server owns the main thread and its signals.
On SIGTERM or SIGINT uvicorn stops accepting, lets in-flight requests finish, then the
application's shutdown stops the loop, whose apply lets its in-flight POSTs finish and sends
nothing more; the process then exits 0. A restart re-plans and converges, because every write
is an idempotent upsert.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from types import FrameType

import uvicorn
from prometheus_client import Counter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reconciler.agent.loop import Reconciler
from reconciler.agent.metrics import CONTENT_TYPE_LATEST
from reconciler.agent.webhook import SIGNATURE_HEADER, judge_push
from reconciler.errors import ConfigError

__all__ = ["bind", "create_app", "serve"]

_ROUTES = ("/healthz", "/readyz", "/metrics", "/status", "/hook")
_MAX_HOOK_BYTES = 25 * 1024 * 1024  # GitHub caps webhook payloads at 25 MB


def create_app(reconciler: Reconciler, *, webhook_secret: bytes = b"") -> Starlette:
    """The ASGI app; its lifespan starts the loop thread and, on shutdown, stops and joins it."""
    metrics = reconciler.metrics

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def readyz(request: Request) -> Response:
        if reconciler.passes == 0:
            return PlainTextResponse("no reconcile pass has completed yet\n", status_code=503)
        return PlainTextResponse("ok\n")

    async def metrics_endpoint(request: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    async def status(request: Request) -> Response:
        return JSONResponse(reconciler.status.to_json_dict())

    async def hook(request: Request) -> Response:
        body = await _bounded_body(request)
        if body is None:
            return PlainTextResponse("payload too large\n", status_code=413)
        verdict = judge_push(
            webhook_secret,
            body,
            request.headers.get(SIGNATURE_HEADER),
            request.headers.get("X-GitHub-Event"),
            reconciler.settings.branch,
        )
        if verdict.trigger:
            reconciler.wake()
        return PlainTextResponse(verdict.message + "\n", status_code=verdict.status)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        worker = threading.Thread(target=reconciler.run, name="reconcile-loop")
        worker.start()
        try:
            yield
        finally:
            reconciler.shutdown()
            await asyncio.to_thread(worker.join)

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/status", status, methods=["GET"]),
        Route("/hook", hook, methods=["POST"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.add_middleware(_CountRequests, counter=metrics.http_requests)
    return app


class _CountRequests:
    """Count every answer by route and status, unknown paths (404, 405) included, under the
    route ``other`` so that a scanner cannot make the label set grow."""

    def __init__(self, app: ASGIApp, counter: Counter) -> None:
        self.app = app
        self.counter = counter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        route = path if path in _ROUTES else "other"

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.counter.labels(route=route, status=str(message["status"])).inc()
            await send(message)

        await self.app(scope, receive, counting_send)


async def _bounded_body(request: Request) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > _MAX_HOOK_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def bind(listen: str) -> socket.socket:
    """A listening socket for ``HOST:PORT`` (port 0 picks a free one); ConfigError if taken."""
    host, sep, port_text = listen.rpartition(":")
    if not sep or not port_text.isdigit():
        raise ConfigError(f"--listen {listen}: expected HOST:PORT, e.g. 127.0.0.1:9090")
    host = host.strip("[]") or "0.0.0.0"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, int(port_text)))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"--listen {listen}: {exc.strerror or exc}") from None
    return sock


class _Server(uvicorn.Server):
    """uvicorn's server, except that a signal also stops the reconcile loop at once (so an
    apply stops while the HTTP side drains), and a SIGTERM ends the process normally (exit 0)
    after the graceful shutdown instead of being raised again at the process."""

    def __init__(self, config: uvicorn.Config, reconciler: Reconciler) -> None:
        super().__init__(config)
        self._reconciler = reconciler

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._reconciler.shutdown(f"stopped ({signal.Signals(sig).name})")
        super().handle_exit(sig, frame)

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def serve(app: Starlette, sock: socket.socket, reconciler: Reconciler) -> None:
    """Serve until SIGTERM/SIGINT, then shut down gracefully (see the module docstring)."""
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=30
    )
    _Server(config, reconciler).run(sockets=[sock])
