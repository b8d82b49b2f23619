"""Fault injection: what a flaky network and a busy server do to a client, on demand.

Fates are drawn from ``random.Random(seed)`` in the order requests arrive: every request draws
the same three numbers whatever the rates (a fourth when lost_response_rate is set), so the n-th
request meets the same fate under the same seed and the same settings. Sequential clients
therefore see a reproducible sequence; concurrent ones see the same multiset of fates (arrival
order decides who gets which).
"""

from __future__ import annotations

import enum
import math
import random
import threading
import time
from collections import deque
from dataclasses import dataclass

from reconciler.emulator.contract import DEFAULT_RETRY_AFTER_SECONDS
from reconciler.emulator.errors import EmulatorError

__all__ = ["Decision", "Fate", "FaultInjector", "Faults", "format_retry_after"]


@dataclass(frozen=True)
class Faults:
    """Per-run fault settings. All off by default; rates are fractions of requests (0–1)."""

    latency_ms: float = 0.0
    error_rate: float = 0.0
    throttle_rate: float = 0.0
    retry_after_seconds: float = DEFAULT_RETRY_AFTER_SECONDS
    drop_rate: float = 0.0
    # The request is served (a POST is stored), then its response is cut: what a client retry
    # must survive without duplicating or diverging.
    lost_response_rate: float = 0.0
    max_requests_per_second: float | None = None
    seed: int = 0
    # Only requests with these HTTP methods meet faults (e.g. ("POST",) to fail writes while
    # reads verify); empty = every request. Other requests skip the sequence entirely.
    methods: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_methods(self.methods)
        object.__setattr__(self, "methods", tuple(m.upper() for m in self.methods))
        _check_non_negative("latency_ms", self.latency_ms)
        _check_non_negative("retry_after_seconds", self.retry_after_seconds)
        for name in ("error_rate", "throttle_rate", "drop_rate", "lost_response_rate"):
            _check_fraction(name, getattr(self, name))
        limit = self.max_requests_per_second
        if limit is not None and not (_is_number(limit) and math.isfinite(limit) and limit > 0):
            raise EmulatorError(
                f"faults.max_requests_per_second must be a number above 0 or None, got {limit!r}"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise EmulatorError(f"faults.seed must be an integer, got {self.seed!r}")

    @property
    def active(self) -> bool:
        """Whether any fault can happen; lets the hot path skip all bookkeeping when not."""
        return bool(
            self.latency_ms
            or self.error_rate
            or self.throttle_rate
            or self.drop_rate
            or self.lost_response_rate
            or self.max_requests_per_second
        )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_non_negative(name: str, value: object) -> None:
    if not (isinstance(value, int | float) and _is_number(value) and math.isfinite(value)):
        raise EmulatorError(f"faults.{name} must be a finite number >= 0, got {value!r}")
    if value < 0:
        raise EmulatorError(f"faults.{name} must be a finite number >= 0, got {value!r}")


def _check_fraction(name: str, value: object) -> None:
    if not (isinstance(value, int | float) and _is_number(value) and 0 <= value <= 1):
        raise EmulatorError(f"faults.{name} must be a fraction between 0 and 1, got {value!r}")


_HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


def _check_methods(methods: object) -> None:
    if isinstance(methods, str) or not isinstance(methods, tuple | list):
        raise EmulatorError(f"faults.methods must be a list of HTTP methods, got {methods!r}")
    for method in methods:
        if not isinstance(method, str) or method.upper() not in _HTTP_METHODS:
            allowed = ", ".join(sorted(_HTTP_METHODS))
            raise EmulatorError(f"faults.methods: {method!r} is not one of {allowed}")


class Fate(enum.Enum):
    """What happens to one request before the API sees it."""

    SERVE = "serve"
    DROP = "drop"  # the connection closes after the status line: a transport error client-side
    ERROR = "error"  # 503
    THROTTLE = "throttle"  # 429 with Retry-After
    RATE_LIMITED = "rate_limited"  # 429: beyond max_requests_per_second
    LOSE_RESPONSE = "lose_response"  # served, then the connection closes mid-response


@dataclass(frozen=True)
class Decision:
    """A request's fate, and how long to wait before meeting it."""

    fate: Fate
    delay_seconds: float
    retry_after_seconds: float


_SERVE = Decision(Fate.SERVE, 0.0, 0.0)


def format_retry_after(seconds: float) -> str:
    """Whole seconds as HTTP says; fractions kept (e.g. "0.05") so fault tests can stay fast."""
    if seconds == int(seconds):
        return str(int(seconds))
    return f"{seconds:g}"


class FaultInjector:
    """Thread-safe source of per-request decisions for one running emulator."""

    def __init__(self, faults: Faults) -> None:
        self._lock = threading.Lock()
        self._faults = faults
        self._random = random.Random(faults.seed)
        self._accepted: deque[float] = deque()

    @property
    def faults(self) -> Faults:
        return self._faults

    def set(self, faults: Faults) -> None:
        """Replace the settings and restart the seeded sequence and the rate window."""
        with self._lock:
            self._faults = faults
            self._random = random.Random(faults.seed)
            self._accepted.clear()

    def decide(self, method: str = "GET") -> Decision:
        """The fate of the next request (call once per request, in arrival order)."""
        faults = self._faults
        if not faults.active or (faults.methods and method not in faults.methods):
            return _SERVE
        with self._lock:
            draws = [self._random.random(), self._random.random(), self._random.random()]
            if faults.lost_response_rate:  # a fourth draw only then: older sequences stay put
                draws.append(self._random.random())
            limited_for = self._rate_limited_for(faults.max_requests_per_second)
        delay = faults.latency_ms / 1000.0
        if limited_for is not None:
            return Decision(Fate.RATE_LIMITED, delay, max(1.0, math.ceil(limited_for)))
        if draws[0] < faults.drop_rate:
            return Decision(Fate.DROP, delay, 0.0)
        if draws[1] < faults.error_rate:
            return Decision(Fate.ERROR, delay, 0.0)
        if draws[2] < faults.throttle_rate:
            return Decision(Fate.THROTTLE, delay, faults.retry_after_seconds)
        if faults.lost_response_rate and draws[3] < faults.lost_response_rate:
            return Decision(Fate.LOSE_RESPONSE, delay, 0.0)
        return Decision(Fate.SERVE, delay, 0.0)

    def _rate_limited_for(self, limit: float | None) -> float | None:
        """Seconds until a slot frees when the last second already holds ``limit`` requests."""
        if limit is None:
            return None
        now = time.monotonic()
        window = self._accepted
        while window and now - window[0] >= 1.0:
            window.popleft()
        if len(window) >= limit:
            return 1.0 - (now - window[0])
        window.append(now)
        return None
