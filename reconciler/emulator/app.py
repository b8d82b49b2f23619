"""The ASGI application: Zelto and Siro routes behind request counting and fault injection.

The outer layer is plain ASGI, not Starlette middleware, so that it sits outside Starlette's
error handling: a dropped connection must reach uvicorn as a half-sent response.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections import Counter
from dataclasses import asdict, dataclass

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reconciler.emulator.config import EmulatorConfig
from reconciler.emulator.contract import (
    ADMIN_PREFIX,
    DEFAULT_ORGANIZATION_ID,
    ERROR_CODE_NOT_FOUND,
    ERROR_CODE_RATE_LIMITED,
    ERROR_CODE_UNAVAILABLE,
    ROUTE_AGENTS,
    ROUTE_CONVERSATION,
    ROUTE_CUSTOMER_METRICS,
    ROUTE_SIRO_VALUES,
    ROUTE_WEBHOOK_CALLS,
)
from reconciler.emulator.errors import EmulatorError
from reconciler.emulator.faults import Decision, Fate, FaultInjector, Faults, format_retry_after
from reconciler.emulator.seed import apply_seed
from reconciler.emulator.siro_api import SiroApi, SiroPaging, siro_error
from reconciler.emulator.store import Store
from reconciler.emulator.zelto_api import ZeltoApi, zelto_error

__all__ = [
    "EmulatorApp",
    "InjectedDropError",
    "RequestCounter",
    "create_app",
    "fault_response",
    "route_of",
]

_ROUTE_PATTERNS = [
    (re.compile("^" + re.sub(r"\{id\}", "[^/]+", template) + "$"), template)
    for template in (
        ROUTE_CONVERSATION,
        ROUTE_CUSTOMER_METRICS,
        ROUTE_AGENTS,
        ROUTE_WEBHOOK_CALLS,
        ROUTE_SIRO_VALUES,
    )
]


def route_of(path: str) -> str:
    """The documented route template a path belongs to; the path itself when none does."""
    for pattern, template in _ROUTE_PATTERNS:
        if pattern.match(path):
            return template
    return path


class InjectedDropError(Exception):
    """Raised after a half-sent response so uvicorn closes the socket (an injected fault)."""


class RequestCounter:
    """Requests seen per (METHOD, route template); tests assert on how many calls a client made."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()

    def add(self, method: str, route: str) -> None:
        with self._lock:
            self._counts[(method, route)] += 1

    def snapshot(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


@dataclass
class EmulatorApp:
    """The whole emulator as one ASGI callable, with its state reachable for in-process tests."""

    store: Store
    injector: FaultInjector
    counter: RequestCounter
    inner: ASGIApp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith(ADMIN_PREFIX):
            await self._admin(scope, receive, send)
            return
        self.counter.add(scope["method"], route_of(path))
        decision = self.injector.decide(scope["method"])
        if decision.delay_seconds:
            await asyncio.sleep(decision.delay_seconds)
        if decision.fate is Fate.SERVE:
            await self.inner(scope, receive, send)
            return
        if decision.fate is Fate.LOSE_RESPONSE:
            await self.inner(scope, receive, _cut_after_half(send))
            return
        await self._fault(decision, path, scope, receive, send)

    async def _fault(
        self, decision: Decision, path: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if decision.fate is Fate.DROP:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
                }
            )
            await send({"type": "http.response.body", "body": b'{"data": [', "more_body": True})
            raise InjectedDropError("injected dropped connection")
        response = fault_response(decision, is_siro=path == ROUTE_SIRO_VALUES)
        await response(scope, receive, send)

    async def _admin(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = await _admin_response(self, request)
        await response(scope, receive, send)


def _cut_after_half(send: Send) -> Send:
    """A send that passes the status line and half the body, then drops the connection."""

    async def cutting(message: Message) -> None:
        if message["type"] == "http.response.body":
            body: bytes = message.get("body", b"")
            half = body[: len(body) // 2]
            await send({"type": "http.response.body", "body": half, "more_body": True})
            raise InjectedDropError("injected lost response")
        await send(message)

    return cutting


def fault_response(decision: Decision, *, is_siro: bool) -> Response:
    """The answer of an injected 503 or 429; public so that bench/_fast_server.py, which injects
    the same seeded faults itself, answers them with these very bytes."""
    if decision.fate is Fate.ERROR:
        message = "injected fault: service unavailable"
        if is_siro:
            return siro_error(503, message)
        return zelto_error(503, ERROR_CODE_UNAVAILABLE, message)
    retry_after = format_retry_after(decision.retry_after_seconds)
    message = (
        "injected fault: too many requests"
        if decision.fate is Fate.THROTTLE
        else "request rate limit exceeded"
    )
    response = (
        siro_error(429, message) if is_siro else zelto_error(429, ERROR_CODE_RATE_LIMITED, message)
    )
    response.headers["Retry-After"] = retry_after
    return response


async def _admin_response(app: EmulatorApp, request: Request) -> Response:
    """Control endpoints for an emulator in another process (benchmarks, the CLI)."""
    route = (request.method, request.url.path.removeprefix(ADMIN_PREFIX))
    if route == ("GET", "health"):
        return JSONResponse({"ok": True})
    if route == ("GET", "requests"):
        counts = [
            {"method": m, "route": r, "count": c}
            for (m, r), c in sorted(app.counter.snapshot().items())
        ]
        return JSONResponse({"counts": counts})
    if route == ("DELETE", "requests"):
        app.counter.reset()
        return JSONResponse({"counts": []})
    if route == ("GET", "faults"):
        return JSONResponse(asdict(app.injector.faults))
    if route == ("PUT", "faults"):
        try:
            app.injector.set(Faults(**json.loads(await request.body())))
        except (ValueError, TypeError, EmulatorError) as exc:
            return JSONResponse({"error": {"code": "invalid_faults", "message": str(exc)}}, 422)
        return JSONResponse(asdict(app.injector.faults))
    return JSONResponse(
        {"error": {"code": ERROR_CODE_NOT_FOUND, "message": "no such control"}}, 404
    )


async def _error_response(request: Request, exc: Exception) -> Response:
    """Routing errors and bugs still answer in each API's JSON error shape."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    message = f"{request.method} {request.url.path}: " + (
        exc.detail if isinstance(exc, HTTPException) else "internal error"
    )
    if request.url.path.startswith("/v1/core/"):
        response = siro_error(status, message)
    else:
        code = ERROR_CODE_NOT_FOUND if status == 404 else "http_error"
        response = zelto_error(status, code, message)
    if isinstance(exc, HTTPException) and exc.headers:
        response.headers.update(exc.headers)  # 405 names the allowed methods in Allow
    return response


def create_app(config: EmulatorConfig | None = None) -> EmulatorApp:
    """Open (and seed) the state, then wire the routes and the fault layer around it."""
    config = config or EmulatorConfig()
    store = Store(config.db_path)
    try:
        store.ensure_organization(DEFAULT_ORGANIZATION_ID, config.zelto_api_key)
        store.add_siro_token(config.siro_token)
        if config.seed is not None:
            apply_seed(store, config.seed)
    except BaseException:
        store.close()
        raise
    zelto = ZeltoApi(
        store, auto_create_conversations=config.auto_create_conversations, strict=config.strict
    )
    siro = SiroApi(
        store,
        [config.siro_token],
        config.siro_requests_per_minute,
        paging=SiroPaging(config.siro_page_size, config.siro_broken_cursor),
        unknown_recording=config.siro_unknown_recording,
        strict=config.strict,
    )
    inner = Starlette(
        routes=[*zelto.routes(), *siro.routes()],
        exception_handlers={HTTPException: _error_response, Exception: _error_response},
    )
    return EmulatorApp(store, FaultInjector(config.faults), RequestCounter(), inner)
