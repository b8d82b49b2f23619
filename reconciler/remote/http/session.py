"""The async session that applies the shared HTTP policy to every request.

A request goes through four gates, in this order: the *stop gate* (after :meth:`HttpSession.stop`,
or once any response was a 401, nothing new starts), a *slot* and then the *pace* (the
:class:`~reconciler.remote.http.limiter.Limiter`: at most ``concurrency`` in flight and at most
``requests_per_second``, both lowered while the server throttles or slows), then the wire. A
request waiting out a retry's backoff holds no slot; once it has waited, it queues again at the
head of the line. Transient failures (connect errors, timeouts, dropped connections, 408/425/429/5xx
gateways) are retried with exponential backoff and full jitter, honouring ``Retry-After``, for
``retry_seconds`` after the request's first attempt, within the session's deadline
(:mod:`~reconciler.remote.http.retry` decides); everything else becomes an
:class:`~reconciler.errors.ApiError` that names the request and the target, with the
server's own message. Retrying is safe for our writes because Zelto's POST upserts on
(conversation, label).

A 401 closes the stop gate from inside the attempt, before its slot is freed: a session holds one
credential, so once it is refused no other request can succeed, and a request queued for that
slot must not go out (it raises RequestStoppedError, never sent). Requests already on the wire
still finish.

Transport: callers get ``httpx.Response`` objects and the policy's errors; the wire underneath
is chosen once per session by :func:`~reconciler.remote.http.wiring.open_wire` (measured in
docs/performance.md).

Credentials live in :class:`Secret`, whose ``repr`` and ``str`` never show the value, travel
per request (never as a default header, which aiohttp would copy onto a proxy's CONNECT), and
only to the endpoint's own origin (the session builds every URL from it). Every message built
here is passed through :func:`redact` before it is cut or raised.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

from reconciler import __version__
from reconciler.errors import ApiError, AuthError
from reconciler.remote.http.limiter import Feedback, Limiter
from reconciler.remote.http.messages import (
    describe_transport_error,
    server_message,
    status_text,
)
from reconciler.remote.http.policy import (
    BEARER,
    Attempt,
    AuthScheme,
    Endpoint,
    HttpSettings,
    RequestContext,
    RequestStoppedError,
    SessionStats,
    is_transient,
    redact,
    server_wait,
)
from reconciler.remote.http.retry import (
    TRANSIENT_EXCEPTIONS,
    RetryClock,
    Sleep,
    is_final_failure,
    pause,
)
from reconciler.remote.http.urls import request_url
from reconciler.remote.http.wire import BodyTooLargeError
from reconciler.remote.http.wiring import open_wire

__all__ = ["HttpSession"]


class HttpSession:
    """One endpoint, one credential, one policy. Use as ``async with HttpSession(...) as s``.

    ``rng``, ``sleep`` and ``clock`` are injectable so that tests of the retry policy are exact
    and instant. ``transport`` overrides the measured default (for faults no server produces).
    """

    def __init__(
        self,
        endpoint: Endpoint,
        settings: HttpSettings | None = None,
        *,
        auth: AuthScheme = BEARER,
        rng: random.Random | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.settings = settings or HttpSettings()
        self.stats = SessionStats()
        self._auth = auth
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._timing = RetryClock(self.settings, self._rng, clock)
        self._clock = clock
        self._limiter = Limiter(
            self.settings.concurrency,
            self.settings.requests_per_second,
            adaptive=self.settings.adaptive,
            clock=clock,
        )
        self._stopping = asyncio.Event()
        self._stop_reason = "stopping"
        self._in_flight: set[asyncio.Task[httpx.Response]] = set()
        self._base = endpoint.url.rstrip("/")
        self._headers = {
            "Accept": "application/json",
            "Accept-Encoding": "gzip, deflate",
            "User-Agent": f"reconciler/{__version__}",
            **(headers or {}),
        }
        self._credentials = auth.headers(endpoint.token)
        self._wire = open_wire(
            self.settings.transport,
            transport,
            base_url=self._base,
            connections=self.settings.concurrency,
            timeout_seconds=self.settings.timeout_seconds,
            headers=self._headers,
            max_body_bytes=self.settings.max_response_bytes,
        )

    def __repr__(self) -> str:
        return f"HttpSession({self.endpoint.name!r}, {self.endpoint.url!r})"

    @property
    def target(self) -> str:
        return self.endpoint.name

    async def __aenter__(self) -> HttpSession:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Let requests already on the wire finish (their callers may be gone), then close."""
        self.stop()
        if self._in_flight:
            await asyncio.wait(set(self._in_flight))
        await self._wire.aclose()

    def stop(self) -> None:
        """No new request starts and nothing is retried; requests on the wire still finish."""
        self._stopping.set()

    def _refused(self) -> None:
        """Stop because the credential was refused; the reason is what unsent requests say."""
        if not self.stopping:
            self._stop_reason = "the credential was refused (HTTP 401)"
        self.stop()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def redact(self, text: str) -> str:
        return redact(text, self.endpoint.token)

    def _error(
        self, cls: type[ApiError], message: str, request: str, context: RequestContext, **kw: Any
    ) -> ApiError:
        return cls(
            self.redact(message),
            target=self.endpoint.name,
            request=request,
            conversation_id=context.conversation_id,
            **kw,
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        context: RequestContext | None = None,
    ) -> httpx.Response:
        """Send one request under the policy; return the 2xx response or raise ApiError.

        ``path`` is a path under the endpoint's URL, or an absolute URL the server gave (a
        pagination ``Link``): that one is sent only when it has the endpoint's origin, since
        the credential goes with it.

        The response's body is already read. From the aiohttp wire it carries no ``.request``
        (building one costs as much CPU as the rest of the exchange), so use the status and
        body, not ``raise_for_status()``: errors have been raised here already.
        """
        ctx = context or RequestContext()
        url, shown = self._url(path)
        name = f"{method.upper()} {shown}"
        self.stats.requests += 1
        attempt = 0
        started = self._timing.now()
        while True:
            attempt += 1
            await self._take_slot(name, ctx, attempt)
            outcome, response, cause = await self._exchange(
                method, url, json=json, params=params, name=name, ctx=ctx
            )
            if response is not None and response.is_success:
                self._report(ctx, name, attempt, outcome, None)
                return response
            if response is not None and not is_transient(response):
                self._report(ctx, name, attempt, outcome, None)
                raise self._final_error(name, ctx, response)
            delay, why_not = self._retry_delay(attempt, started, response, cause)
            self._report(ctx, name, attempt, outcome, delay)
            if delay is None:
                raise self._give_up(name, ctx, outcome, attempt, response, why_not) from cause
            await self._backoff(delay, name, ctx, outcome)

    async def _exchange(
        self,
        method: str,
        url: str,
        *,
        json: Any,
        params: Mapping[str, Any] | None,
        name: str,
        ctx: RequestContext,
    ) -> tuple[str, httpx.Response | None, BaseException | None]:
        """One attempt: (what happened in a few words, the response if any, the failure if
        none). Transient transport failures are returned for the retry loop; others raise."""
        try:
            response = await self._launch(method, url, json=json, params=params)
        except BodyTooLargeError as exc:
            self.stats.failures += 1
            raise self._error(ApiError, f"response refused: {exc}", name, ctx) from None
        except TRANSIENT_EXCEPTIONS as exc:
            text = describe_transport_error(
                exc,
                self.settings.timeout_seconds,
                self.endpoint.token,
                host=urlsplit(url).hostname or "",
            )
            return text, None, exc
        except httpx.HTTPError as exc:
            self.stats.failures += 1
            text = f"request failed: {type(exc).__name__}: {exc}"
            raise self._error(ApiError, text, name, ctx) from exc
        status = response.status_code
        self.stats.statuses[status] = self.stats.statuses.get(status, 0) + 1
        return (str(status) if response.is_success else status_text(response)), response, None

    async def _take_slot(self, name: str, ctx: RequestContext, attempt: int) -> None:
        """Hold a slot and pass the rate limiter, unless the session stops meanwhile.

        The stop gate is checked after every wait: a request queued for a slot when Ctrl-C
        arrives must not start once a slot frees.
        """
        verb = "sent" if attempt == 1 else "retried"
        if self._timing.deadline_passed() and not self.stopping:
            self._stop_reason = self._timing.deadline_text()
            self.stop()
        if self.stopping:
            raise self._error(RequestStoppedError, f"not {verb}: {self._stop_reason}", name, ctx)
        await self._limiter.acquire(retry=attempt > 1)
        try:
            if not self.stopping:
                await pause(self._limiter.reserve(), self._sleep, self._stopping)
            while not self.stopping and (hold := self._limiter.held()) > 0:
                await pause(
                    hold, self._sleep, self._stopping
                )  # the server said to wait while this one was paced
            if self.stopping:
                text = f"not {verb}: {self._stop_reason}"
                raise self._error(RequestStoppedError, text, name, ctx)
        except BaseException:
            self._limiter.release(None)
            raise

    def _launch(
        self, method: str, url: str, *, json: Any, params: Mapping[str, Any] | None
    ) -> asyncio.Future[httpx.Response]:
        """Start one attempt in its own task; the task releases the slot when it ends.

        Callers await it through :func:`asyncio.shield`: if a caller is cancelled, the request
        still completes (a POST is never torn in half) and :meth:`aclose` waits for it.
        """
        self.stats.attempts += 1
        task = asyncio.ensure_future(self._send(method, url, json=json, params=params))
        self._in_flight.add(task)
        task.add_done_callback(functools.partial(self._release, self._clock()))
        return asyncio.shield(task)

    def _release(self, sent_at: float, task: asyncio.Task[httpx.Response]) -> None:
        self._in_flight.discard(task)
        failed = task.cancelled() or task.exception() is not None  # marks it retrieved, too
        self._limiter.release(None if failed else self._feedback(sent_at, task.result()))

    def _feedback(self, sent_at: float, response: httpx.Response) -> Feedback:
        """What the limiter learns from one answer (limiter.py)."""
        throttled = response.status_code == 429
        wait = server_wait(response) if throttled else None
        if wait is not None:
            wait = min(wait, self.settings.retry_after_cap_seconds)
        return Feedback(
            sent_at=sent_at,
            rtt=self._clock() - sent_at,
            ok=response.is_success,
            throttled=throttled,
            retry_after=wait,
        )

    async def _send(
        self, method: str, url: str, *, json: Any, params: Mapping[str, Any] | None
    ) -> httpx.Response:
        # A hard deadline for the whole attempt: per-phase timeouts alone let a server that
        # trickles bytes hold a slot forever. The session's deadline shortens it further.
        async with asyncio.timeout(self._timing.attempt_seconds()):
            response = await self._wire.send(
                method,
                url,
                json=json,
                params=params,
                credentials=self._credentials,
            )
        if response.status_code == 401:
            # Here, not in the caller: this task's done-callback frees the slot, which wakes a
            # queued request before the caller even sees the 401. The gate must be shut first.
            self._refused()
        return response

    def _url(self, path: str) -> tuple[str, str]:
        """(The URL to send to, what messages call it); see :func:`request_url`."""
        try:
            return request_url(path, self._base)
        except ValueError as exc:
            raise ApiError(str(exc), target=self.endpoint.name, request=self.redact(path)) from None

    def _retry_delay(
        self,
        attempt: int,
        started: float,
        response: httpx.Response | None,
        cause: BaseException | None,
    ) -> tuple[float | None, str]:
        """Seconds before the next attempt, or (None, why not) when there must be none."""
        if self.stopping or (cause is not None and is_final_failure(cause)):
            return None, ""
        wait = server_wait(response) if response is not None else None
        return self._timing.next_delay(attempt, started, wait)

    def _report(
        self, ctx: RequestContext, name: str, number: int, outcome: str, retry_in: float | None
    ) -> None:
        if retry_in is not None:
            self.stats.retries += 1
        if ctx.on_attempt is not None:
            ctx.on_attempt(Attempt(name, number, outcome, retry_in))

    async def _backoff(self, delay: float, name: str, ctx: RequestContext, outcome: str) -> None:
        await pause(delay, self._sleep, self._stopping)
        if self.stopping:
            self.stats.failures += 1
            raise self._error(
                RequestStoppedError,
                f"not retried: {self._stop_reason} (last: {outcome})",
                name,
                ctx,
            )

    def _give_up(  # noqa: PLR0917 - private; every argument is a different fact of the failure
        self,
        name: str,
        ctx: RequestContext,
        outcome: str,
        attempts: int,
        response: httpx.Response | None,
        why: str = "",
    ) -> ApiError:
        self.stats.failures += 1
        detail = server_message(response, self.endpoint.token) if response is not None else ""
        text = f"{outcome}: {detail}" if detail else outcome
        tries = f"after {attempts} attempt{'s' if attempts != 1 else ''}"
        tries = f"{tries}; {why}" if why else tries
        status = response.status_code if response is not None else None
        return self._error(ApiError, f"{text} ({tries})", name, ctx, status=status, transient=True)

    def _final_error(self, name: str, ctx: RequestContext, response: httpx.Response) -> ApiError:
        self.stats.failures += 1
        status = response.status_code
        detail = server_message(response, self.endpoint.token)
        if status == 401:
            source = (
                f" (token from {self.endpoint.token_source})" if self.endpoint.token_source else ""
            )
            text = f"HTTP 401: {self._auth.refused_hint}{source}"
            text = f"{text}; server said: {detail}" if detail else text
            return self._error(AuthError, text, name, ctx, status=status)
        text = f"{status_text(response)}: {detail}" if detail else status_text(response)
        return self._error(ApiError, text, name, ctx, status=status)
