"""When to try again, and for how long: the one retry decision of every client.

Kept apart from :mod:`~reconciler.remote.http.session` (which sends) so that the arithmetic of
time is in one small place:

- *retry budget* (``retry_seconds``): transient failures of one request are retried until this
  long after its first attempt. A count ran out within seconds under a bad minute (issue 12: with
  30 % 5xx, 10 % 429 and 5 % drops, 2–11 of 500 reads failed after 5 attempts); time does not.
- *one wait* is at most ``retry_after_cap_seconds``, whatever ``Retry-After`` asks; a
  ``Retry-After`` beyond the budget or the deadline ends the request at once, saying so.
- *deadline* (``deadline``, ``--deadline``): no attempt starts, and none lasts, past it.
- *which transport failures* are worth another attempt (``TRANSIENT_EXCEPTIONS``) and which
  no attempt can mend (``is_final_failure``: certificate, proxy refusal, unknown host name).

Pacing (``requests_per_second``) and the requests in flight are the limiter's
(:mod:`~reconciler.remote.http.limiter`), which also adapts them to the server's answers.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

import aiohttp
import httpx

from reconciler.remote.http.messages import (
    is_certificate_error,
    is_proxy_refusal,
    is_unresolvable_host,
)
from reconciler.remote.http.policy import HttpSettings, backoff_delay

__all__ = ["TRANSIENT_EXCEPTIONS", "RetryClock", "Sleep", "is_final_failure", "pause"]


#: Transport-level failures worth another attempt. aiohttp errors normally arrive translated by
#: httpx-aiohttp, but it re-raises the ones it has no mapping for.
TRANSIENT_EXCEPTIONS: tuple[type[BaseException], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    aiohttp.ClientError,
    TimeoutError,
    ConnectionError,
)


def is_final_failure(cause: BaseException) -> bool:
    """Transport failures that another attempt cannot mend: an untrusted certificate stays
    untrusted, a proxy that refused the CONNECT (403, 407) refuses it again, and a host name
    that does not resolve is a typo in the URL far more often than a bad minute of DNS (it
    used to be retried for the whole budget: two minutes of silence for a misspelt --api-url).
    """
    return is_certificate_error(cause) or is_proxy_refusal(cause) or is_unresolvable_host(cause)


Sleep = Callable[[float], Awaitable[None]]


async def pause(delay: float, sleep: Sleep, stopping: asyncio.Event) -> None:
    """Sleep ``delay`` seconds, waking early when ``stopping`` is set (Ctrl-C during a long
    ``Retry-After`` must not wait it out)."""
    if delay <= 0:
        return
    sleeper = asyncio.ensure_future(sleep(delay))
    stopper = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in (sleeper, stopper):
            waiter.cancel()


def _seconds(value: float) -> str:
    """``99,999,999`` or ``0.5``: a number of seconds as people read it."""
    return f"{value:,.0f}" if value >= 10 else f"{value:g}"


class RetryClock:
    """The retry budget and the session's deadline, read from one injectable clock."""

    def __init__(
        self, settings: HttpSettings, rng: random.Random, clock: Callable[[], float]
    ) -> None:
        self.settings = settings
        self.now = clock
        self._rng = rng
        self._deadline = None if settings.deadline is None else settings.deadline.at

    def deadline_passed(self) -> bool:
        return self._deadline is not None and self.now() >= self._deadline

    def deadline_text(self) -> str:
        return f"the --deadline of {self._deadline_seconds()} s passed"

    def _deadline_seconds(self) -> str:
        deadline = self.settings.deadline
        return _seconds(deadline.seconds) if deadline is not None else "?"

    def attempt_seconds(self) -> float:
        """How long one attempt may last: the timeout, cut short by the deadline."""
        limit = self.settings.timeout_seconds
        if self._deadline is None:
            return limit
        return max(0.0, min(limit, self._deadline - self.now()))

    def next_delay(
        self, attempt: int, started: float, retry_after: float | None
    ) -> tuple[float | None, str]:
        """Seconds before attempt ``attempt + 1``, or (None, why not) when there is none."""
        limits = self.settings
        if limits.max_attempts is not None and attempt >= limits.max_attempts:
            return None, ""
        left = started + limits.retry_seconds - self.now()
        deadline_left = None if self._deadline is None else self._deadline - self.now()
        if retry_after is not None:
            if retry_after > left or (deadline_left is not None and retry_after > deadline_left):
                return None, self._wait_refused(retry_after, left, deadline_left)
            return min(retry_after, limits.retry_after_cap_seconds), ""
        if left <= 0:
            return None, f"retried for {limits.retry_seconds:g} s (retrySeconds)"
        if deadline_left is not None and deadline_left <= 0:
            return None, self.deadline_text()
        delay = min(backoff_delay(limits, attempt, self._rng), left)
        return (delay if deadline_left is None else min(delay, deadline_left)), ""

    def _wait_refused(self, retry_after: float, left: float, deadline_left: float | None) -> str:
        asked = f"the server asked to wait {_seconds(retry_after)} s (Retry-After)"
        if deadline_left is not None and deadline_left < left:
            return f"{asked}, past the --deadline of {self._deadline_seconds()} s"
        return (
            f"{asked}, more than the {max(0.0, left):.0f} s left of the "
            f"{self.settings.retry_seconds:g} s retry budget (retrySeconds; one wait is at "
            f"most {self.settings.retry_after_cap_seconds:g} s)"
        )
