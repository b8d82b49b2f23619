"""How many requests may be in flight, and how fast they may start: adapted to what the server says.

Zelto publishes no rate limit, and users rarely know theirs. A fixed setting either leaves
throughput unused or runs into the limit and collects 429s (measured: 7.6 % of requests at a
200 req/s limit with the default 8 in flight). The :class:`Limiter` learns the limit from the
answers instead, with the loss-based AIMD rule of TCP congestion control and of Netflix's
concurrency-limits (``AIMDLimit``: multiply by 0.9 on a drop, add while it goes well), applied to
two quantities:

* the **start rate** (requests per second): unpaced until the first throttle; then paced at
  0.9 × what the server actually accepted over the last second (the delivery rate is the best
  estimate of a rate limit one can get without being told it), back quickly to 0.98 × that rate,
  where it *cruises*: it grows by a step that starts at 0.01 % of that rate per second and
  doubles every second (the probe of TCP BBR and CUBIC: slow near the limit last seen, fast
  beyond it), so the limit just seen is probed again about seven seconds later for a few 429s,
  and a limit four times higher than the estimate is found within about fifteen seconds.
  The rate grows only while the pace is what holds starts back (BBR probes only while
  cwnd-limited, RFC 7661 the same for TCP: a rate the session does not use says nothing about
  the server). A session younger than one second is paced only once its answers show the
  server's window full (below) and mostly of its own requests: what the window holds is then
  the limit (before, a young session's delivery rate says nothing);
* the **in-flight limit**: cut by the same factor on a throttle, and by the latency gradient when
  the server slows (a short-term round-trip average above twice the long-term one, as in
  Gradient2), growing back by one per round trip up to the configured ``concurrency``.

One decrease per *round* and at most one per second (the server's own window): answers to
requests sent before the last decrease describe the old rate, so they are not counted again
(TCP's rule for one loss window). When most answers since a decrease are still 429s, the
server's window is full (a burst at the start filled it): only then does the whole session hold
new starts for the ``Retry-After`` the server gave, paced from then on (unpaced, it would fill
the window again as soon as the hold ends, and hold a second time); the starts that were
waiting when it began go out paced after it, not all at once. The retried request itself
always waits its own ``Retry-After`` (the session's retry loop): the limiter never shortens it.
Neither quantity goes below half of its high mark (the most the server was seen to take; the
configured concurrency), so a server that answers 429 at random rather than to a rate costs at
most half the throughput instead of all of it.

A configured ``requests_per_second`` is a ceiling the limiter never exceeds, and the configured
``concurrency`` is the most it ever lets in flight; ``adaptive=False`` keeps both fixed (the
behaviour before this module, kept for benchmarks and for users who need it).
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["PACE_TOLERANCE_SECONDS", "Feedback", "Limiter"]

#: Multiplicative decrease, as Netflix's AIMDLimit (backoffRatio).
_BACKOFF = 0.9
#: After a decrease the rate climbs quickly (TCP's slow start: +0.5 per answer, about +50 % a
#: second) back to this fraction of the delivery rate measured at the decrease (or of the rate
#: paced at, when lower: counted when the answers come, the delivery rate can exceed the limit
#: by a few), which is where the server's limit was just seen; this also recovers from several
#: decreases in one burst ...
_RECOVER = 0.98
_SLOW_START_STEP = 0.5
#: ... then cruises: it grows by this fraction of that rate per second, a step that doubles every
#: ``_DOUBLING_SECONDS`` (at most up to the slow start's), so that the limit just seen is probed
#: again only after about seven seconds (+1 % after six, +2 % after seven), while a limit four
#: times higher is reached in about fifteen. A constant +2.5 % a second (before) probed every two
#: seconds from 0.95 and needed about two minutes for the latter. Each probe costs a few 429s,
#: and one in the last second of a run delays its end by the ``Retry-After``.
_RATE_GROWTH_PER_SECOND = 0.0001
_DOUBLING_SECONDS = 1.0
_MAX_DOUBLINGS = 30.0  # 2**30 × the step is past the slow start's for any rate: no overflow
#: The latency gradient: a short-term round trip above this multiple of the long-term one is
#: queueing (Gradient2's tolerance), answered by a smaller in-flight limit.
_RTT_TOLERANCE = 2.0
_RTT_SHORT_WEIGHT = 1 / 8
_RTT_LONG_WEIGHT = 1 / 256
#: 429s since the last decrease, and at least half the answers, before the session holds.
_HOLD_AFTER = 3
#: Neither the rate nor the in-flight limit goes below this fraction of the most the server was
#: seen to take (rate) or of the configured concurrency (in flight).
_FLOOR = 0.5
#: The window over which the delivery rate is measured.
_DELIVERY_WINDOW = 1.0
_MIN_RATE = 1.0
#: How early a paced start may go to make up for a late one (seconds).
PACE_TOLERANCE_SECONDS = 0.02


@dataclass(frozen=True)
class Feedback:
    """What one finished attempt says about the server: sent when, answered how, how fast.

    ``throttled`` is a 429; ``retry_after`` the seconds its header asked for (None when absent);
    ``ok`` a 2xx. A transport failure or another error is neither ok nor throttled: it tells
    nothing about the rate, so it only frees the slot.
    """

    sent_at: float
    rtt: float
    ok: bool = False
    throttled: bool = False
    retry_after: float | None = None


class Limiter:
    """The session's admission gate: :meth:`acquire` a slot, wait :meth:`reserve` seconds (and
    then :meth:`held`, for a hold that began meanwhile), send, then :meth:`release` with the
    attempt's :class:`Feedback` (or None when it was never sent).

    Not thread-safe: it lives on one event loop, like the session.
    """

    def __init__(
        self,
        concurrency: int,
        requests_per_second: float | None,
        *,
        adaptive: bool,
        clock: Callable[[], float],
    ) -> None:
        self._max_in_flight = concurrency
        self._ceiling = requests_per_second
        self._adaptive = adaptive
        self._clock = clock
        self.limit = float(concurrency)
        self.rate = requests_per_second
        self._threshold = math.inf
        self._growth = 0.0
        self._cruise_since = math.inf
        self._pace_bound_at = -math.inf
        self._in_flight = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._next_start = 0.0
        self._hold_until = 0.0
        self._rate_round = -math.inf
        self._rtt_round = -math.inf
        self._late_since = -math.inf
        self._late_throttles = 0
        self._late_answers = 0
        self._peak = 0.0
        self._first_start = math.inf
        self._taken = self._refused = 0  # answers of the session: accepted, and 429
        self._paced = False  # a decrease has measured the server's rate
        self._min_limit = max(1.0, concurrency * _FLOOR)
        self._delivered: deque[float] = deque()
        self._rtt_short = 0.0
        self._rtt_long = 0.0

    @property
    def in_flight(self) -> int:
        return self._in_flight

    # --- admission ------------------------------------------------------------------------
    def _room(self) -> bool:
        return self._in_flight < max(1, int(self.limit))

    async def acquire(self, *, retry: bool = False) -> None:
        """Wait for a slot under the current in-flight limit, first come, first served; a
        ``retry`` has waited out its backoff already, so it goes to the head of the queue (the
        last retried writes otherwise set the end time of a run)."""
        if self._room() and not self._waiters:
            self._in_flight += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if retry:
            self._waiters.appendleft(waiter)
        else:
            self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._in_flight -= 1  # granted, then cancelled before use: give it back
                self._wake()
            else:
                self._waiters.remove(waiter)
            raise

    def reserve(self) -> float:
        """Seconds the holder of a slot must wait before starting (the pace and any hold).
        Reserving is synchronous, so starts keep the order of the reservations.

        The pace is the generic cell rate algorithm: each start is due one interval after the
        previous one was due, and may go up to ``PACE_TOLERANCE_SECONDS`` early, so a start that the
        event loop woke late is made up by the next ones instead of lowering the rate (on a
        busy machine, plain spacing lost a third of it).
        """
        now = self._clock()
        self._first_start = min(self._first_start, now)
        start = max(now, self._hold_until)
        if self.rate is not None:
            due = self._next_start - PACE_TOLERANCE_SECONDS
            if due > start:
                self._pace_bound_at = now  # the pace, not the caller, decides when starts go
            start = max(start, due)
            self._next_start = max(self._next_start, start) + 1.0 / self.rate
        return start - now

    def held(self) -> float:
        """Seconds to wait still when a hold began after the caller's :meth:`reserve`: until its
        place in the pace after the hold, reserved now. Released all at once when the hold
        ends, the starts that were waiting would go out as one burst the pace never saw (a
        429 within the next second in every ``bench_limit.py --trace`` run)."""
        if self._hold_until <= self._clock():
            return 0.0
        return self.reserve()

    def release(self, feedback: Feedback | None) -> None:
        """Free the slot; learn from the answer when there was one."""
        self._in_flight -= 1
        if feedback is not None and self._adaptive:
            self._learn(feedback)
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self._room():
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._in_flight += 1
                waiter.set_result(None)

    # --- learning -------------------------------------------------------------------------
    def _learn(self, feedback: Feedback) -> None:
        now = self._clock()
        if feedback.sent_at >= self._late_since:
            self._late_answers += 1
        if feedback.throttled:
            self._refused += 1
            self._throttled(feedback, now)
            return
        self._taken += 1
        self._count_delivery(now)  # any answer but a 429: the server took it
        if feedback.ok:
            self._grow(now)
            self._observe_rtt(feedback, now)

    def _throttled(self, feedback: Feedback, now: float) -> None:
        if feedback.sent_at < self._rate_round:
            return  # sent at the old rate: this round was already answered
        if now - self._rate_round >= _DELIVERY_WINDOW:
            self._decrease(now)  # at most once per window: the server's own time scale
            return
        self._late_throttles += 1
        dense = self._late_throttles >= _HOLD_AFTER and (
            2 * self._late_throttles >= self._late_answers
        )
        if not dense:
            return
        if not self._paced and self._taken >= self._refused:
            # The decrease was too young to pace, but a full window that mostly our own
            # requests filled is a measurement: what it holds is the limit. (When most of our
            # requests were refused, others filled it, and its count says nothing.)
            self._pace(now)
        if feedback.retry_after:
            # Most answers since the decrease are 429s: the server's window is still full (a
            # burst filled it), so a lower rate alone would collect 429s until it empties.
            self._hold_until = max(self._hold_until, now + feedback.retry_after)
            self._count_late_from(now)

    def _decrease(self, now: float) -> None:
        """One multiplicative decrease of both the rate and the in-flight limit, never below
        half of what the server has been seen to take: a server that answers 429 at random
        (not to a rate) would otherwise drive the rate to nothing."""
        self.limit = max(self._min_limit, _BACKOFF * self.limit)
        self._rate_round = now
        self._count_late_from(now)
        if now - self._first_start >= _DELIVERY_WINDOW:
            self._pace(now)
        # else too young to know what the server takes: fewer in flight, unless the answers
        # that follow show the server's window full (_throttled)

    def _pace(self, now: float) -> None:
        """Pace at 0.9 × what the server took over the last second (or the current rate, when
        lower), back quickly to 0.98 × that, then cruise (_grow)."""
        self._paced = True
        delivered = self._delivery_rate(now)
        self._peak = max(self._peak, delivered)
        current = self.rate if self.rate is not None else math.inf
        base = min(current, delivered) if delivered else current
        if math.isinf(base):  # unpaced, and nothing accepted lately: start from the slots
            base = self.limit
        self.rate = max(_MIN_RATE, _FLOOR * self._peak, _BACKOFF * base)
        self._threshold = max(self.rate, _RECOVER * min(current, delivered))
        self._growth = _RATE_GROWTH_PER_SECOND * self._threshold
        self._cruise_since = math.inf

    def _count_late_from(self, moment: float) -> None:
        self._late_since = moment
        self._late_throttles = self._late_answers = 0

    def _grow(self, now: float) -> None:
        """Increase per answered request: the in-flight limit by one per round trip; the rate,
        while the pace holds starts back, by the slow start's step up to the threshold, then by
        the cruise's doubling step (per answer, so that the growth per second is as stated)."""
        if self.limit < self._max_in_flight:
            self.limit = min(float(self._max_in_flight), self.limit + 1.0 / self.limit)
        if self.rate is None:
            return
        if now - self._pace_bound_at > _DELIVERY_WINDOW:
            # The caller (or the in-flight limit) was slower than the pace: a higher rate would
            # go untested, then burst at the server all at once when the caller speeds up.
            self._cruise_since = math.inf  # the probe starts over once the pace binds again
            return
        if self.rate < self._threshold:
            step = _SLOW_START_STEP
        else:
            self._cruise_since = min(self._cruise_since, now)
            doublings = min(_MAX_DOUBLINGS, (now - self._cruise_since) / _DOUBLING_SECONDS)
            step = min(_SLOW_START_STEP, self._growth * 2.0**doublings / self.rate)
        rate = self.rate + step
        self.rate = rate if self._ceiling is None else min(rate, self._ceiling)

    def _observe_rtt(self, feedback: Feedback, now: float) -> None:
        """The latency gradient: queueing at the server shows as a rising round trip."""
        rtt = feedback.rtt
        if self._rtt_long == 0.0:
            self._rtt_short = self._rtt_long = rtt
            return
        self._rtt_short += (rtt - self._rtt_short) * _RTT_SHORT_WEIGHT
        self._rtt_long += (rtt - self._rtt_long) * _RTT_LONG_WEIGHT
        slowed = self._rtt_short > _RTT_TOLERANCE * self._rtt_long
        if slowed and feedback.sent_at >= self._rtt_round:
            gradient = max(0.5, _RTT_TOLERANCE * self._rtt_long / self._rtt_short)
            self.limit = max(self._min_limit, self.limit * gradient)
            self._rtt_round = now

    def _count_delivery(self, now: float) -> None:
        window = self._delivered
        window.append(now)
        while now - window[0] > _DELIVERY_WINDOW:
            window.popleft()

    def _delivery_rate(self, now: float) -> float:
        """Requests the server took per second over the last second."""
        window = self._delivered
        while window and now - window[0] > _DELIVERY_WINDOW:
            window.popleft()
        return len(window) / _DELIVERY_WINDOW
