"""The policy's values: credentials, endpoints, settings, and the retry arithmetic.

Kept apart from the session so that configuration code can build them without any I/O.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import httpx

from reconciler.config.sections import ApplySettings, PlanSettings
from reconciler.contract.zelto import TRANSIENT_STATUSES as ZELTO_TRANSIENT_STATUSES
from reconciler.errors import ApiError
from reconciler.remote.http.redaction import REDACTED, Secret, redact

__all__ = [
    "BEARER",
    "MAX_RESPONSE_BYTES",
    "REDACTED",
    "TRANSIENT_STATUSES",
    "Attempt",
    "AuthScheme",
    "Deadline",
    "Endpoint",
    "HttpSettings",
    "RequestContext",
    "RequestStoppedError",
    "Secret",
    "SessionStats",
    "TransportName",
    "backoff_delay",
    "is_transient",
    "parse_retry_after",
    "redact",
    "response_json",
    "server_wait",
]

#: Statuses that say "try again later"; every other 4xx/5xx is final. An assumption: it lives in
#: the Zelto registry (``transient_statuses``), which Siro's client shares.
TRANSIENT_STATUSES: frozenset[int] = ZELTO_TRANSIENT_STATUSES

TransportName = Literal["direct", "aiohttp", "httpx"]
#: The default cap on a response body, decoded: far above any listing the clients read (a
#: conversation's metrics, a page of comments), far below what would exhaust memory.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
#: How long transient failures of one request are retried, by default.
DEFAULT_RETRY_SECONDS = 120.0


@dataclass(frozen=True)
class AuthScheme:
    """How a credential travels (Zelto: bearer header; Siro: its own header) and what a 401
    should tell the user to check."""

    header: str
    prefix: str
    refused_hint: str

    def headers(self, token: Secret) -> dict[str, str]:
        return {self.header: f"{self.prefix}{token.reveal()}"}


BEARER = AuthScheme(
    header="Authorization",
    prefix="Bearer ",
    refused_hint="the API key is missing, wrong or revoked",
)


@dataclass(frozen=True)
class Endpoint:
    """Where requests go and with which credential. ``name`` is what plans and reports print;
    ``token_source`` says where the token came from (a variable name or file), for messages.
    Nothing here is specific to one API: which API a URL serves is the caller's business."""

    url: str
    token: Secret
    name: str
    token_source: str = ""


@dataclass(frozen=True)
class Deadline:
    """A moment on the ``time.monotonic`` clock after which no request starts, and the
    ``seconds`` it was set as (what messages name). One deadline serves every session of a
    command: an apply's reads and writes share it."""

    seconds: float
    at: float

    @classmethod
    def after(cls, seconds: float, clock: Callable[[], float] = time.monotonic) -> Deadline:
        if seconds <= 0:
            raise ValueError("a deadline is a positive number of seconds")
        return cls(seconds, clock() + seconds)


@dataclass(frozen=True)
class HttpSettings:
    """The knobs of the shared policy; built from PlanSettings/ApplySettings by the callers."""

    concurrency: int = 8
    requests_per_second: float | None = None
    timeout_seconds: float = 30.0
    #: None: no count; ``retry_seconds`` alone bounds the retries of a request.
    max_attempts: int | None = None
    #: Transient failures are retried until this long after the request's first attempt: a
    #: budget in time outlasts a bad minute, where a count runs out in seconds.
    retry_seconds: float = DEFAULT_RETRY_SECONDS
    #: The first retry waits up to this (full jitter), doubling per attempt up to the cap. 0.1 s,
    #: not 0.25: under random 5xx every failure costs one more attempt whatever the wait, so the
    #: base only sets how long the last writes' retry chains hold the end of a run (simulated,
    #: 20,000 writes with 10 % 503s at 64 in flight: 1.16x the floor on average and up to 1.34x
    #: with 0.25 s; 1.05x and up to 1.14x with 0.1 s). An overloaded server is relieved by the
    #: limiter and by its own Retry-After, which still wins; a request that keeps failing makes
    #: about one more attempt in its 120 s budget than with 0.25 s.
    backoff_base_seconds: float = 0.1
    backoff_cap_seconds: float = 30.0
    #: The longest single wait, whatever ``Retry-After`` asks.
    retry_after_cap_seconds: float = 60.0
    #: An overall deadline for all the work (``--deadline``), shared by every session.
    deadline: Deadline | None = None
    transport: TransportName = "direct"
    max_response_bytes: int = MAX_RESPONSE_BYTES
    #: Adapt in-flight requests and the start rate to 429s and latency (limiter.py), under the
    #: configured concurrency and requests_per_second; False keeps both fixed.
    adaptive: bool = True

    def __post_init__(self) -> None:
        if self.concurrency < 1 or self.timeout_seconds <= 0:
            raise ValueError("concurrency and timeout_seconds must be positive")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError("max_attempts must be positive or None")
        if self.retry_seconds < 0 or self.max_response_bytes < 1:
            raise ValueError("retry_seconds and max_response_bytes must be positive")

        if self.requests_per_second is not None and self.requests_per_second <= 0:
            raise ValueError("requests_per_second must be positive or None")

    @classmethod
    def from_config(cls, settings: PlanSettings | ApplySettings, **overrides: Any) -> HttpSettings:
        """The policy for plan's reads or apply's writes, as reconciler.yaml sets it."""
        values: dict[str, Any] = {
            "concurrency": settings.concurrency,
            "requests_per_second": settings.requests_per_second,
            "timeout_seconds": settings.timeout_seconds,
            "max_attempts": settings.max_attempts,
            "retry_seconds": settings.retry_seconds,
        }
        values.update(overrides)
        return cls(**values)


@dataclass(frozen=True)
class Attempt:
    """One attempt of one request, as reported to :attr:`RequestContext.on_attempt`."""

    request: str
    number: int
    outcome: str
    retry_in: float | None


@dataclass(frozen=True)
class RequestContext:
    """What a caller knows about a request that the error message and its reports need."""

    conversation_id: str | None = None
    on_attempt: Callable[[Attempt], None] | None = None


@dataclass
class SessionStats:
    """Counters over a session's life: the applier and benchmarks report them."""

    requests: int = 0
    attempts: int = 0
    retries: int = 0
    failures: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


class RequestStoppedError(ApiError):
    """The session was stopped (Ctrl-C, or a 401 on any request) before this request could start
    or be retried, so the caller can tell "never sent" from "sent and failed"."""


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date.

    Returns None when the header is absent or unreadable, so the caller falls back to backoff.
    """
    if value is None:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def server_wait(response: httpx.Response, *, now: float | None = None) -> float | None:
    """Seconds the server asked us to wait: ``Retry-After``, or else, when a rate-limit window
    is spent (``x-ratelimit-remaining: 0``, as GitHub sends), until ``x-ratelimit-reset``."""
    headers = response.headers
    retry_after = parse_retry_after(headers.get("Retry-After"), now=now)
    if retry_after is not None or headers.get("x-ratelimit-remaining") != "0":
        return retry_after
    try:
        reset = float(headers.get("x-ratelimit-reset", ""))
    except ValueError:
        return None
    return max(0.0, reset - (time.time() if now is None else now))


def is_transient(response: httpx.Response) -> bool:
    """Worth another attempt: a transient status, or a 403 that is a rate limit with a known
    end (GitHub answers its rate limits with 403 and says when to come back)."""
    status = response.status_code
    return status in TRANSIENT_STATUSES or (status == 403 and server_wait(response) is not None)


def backoff_delay(settings: HttpSettings, attempt: int, rng: random.Random) -> float:
    """Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): uniform in
    [0, min(cap, base·2^(attempt-1))], so that many clients retrying at once spread out."""
    ceiling = min(settings.backoff_cap_seconds, settings.backoff_base_seconds * 2 ** (attempt - 1))
    return rng.uniform(0.0, ceiling)


def response_json(response: httpx.Response, request: str, target: str) -> Any:
    """The parsed JSON body, or an ApiError naming the request when it is not JSON."""
    try:
        return response.json()
    except (ValueError, RecursionError) as exc:  # a hostile body nests deeper than the stack
        raise ApiError(
            f"malformed response: HTTP {response.status_code} body is not JSON",
            target=target,
            request=request,
            status=response.status_code,
        ) from exc
