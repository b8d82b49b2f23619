"""The adaptive limiter: its arithmetic on a fake clock, then its effect against the emulator's
rate limit over real HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from reconciler.emulator import Faults
from reconciler.remote.http import Endpoint, HttpSession, HttpSettings, Secret
from reconciler.remote.http.limiter import (
    _HOLD_AFTER,
    PACE_TOLERANCE_SECONDS,
    Feedback,
    Limiter,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _limiter(
    concurrency: int = 8, per_second: float | None = None, *, adaptive: bool = True
) -> tuple[Limiter, Clock]:
    clock = Clock()
    return Limiter(concurrency, per_second, adaptive=adaptive, clock=clock), clock


def _answer(limiter: Limiter, clock: Clock, feedback: Feedback) -> None:
    asyncio.run(limiter.acquire())
    limiter.reserve()
    limiter.release(feedback)


def _ok(clock: Clock, rtt: float = 0.02) -> Feedback:
    return Feedback(sent_at=clock.now - rtt, rtt=rtt, ok=True)


def _throttled(sent_at: float, retry_after: float | None = 1.0) -> Feedback:
    return Feedback(sent_at=sent_at, rtt=0.02, throttled=True, retry_after=retry_after)


def _deliver(limiter: Limiter, clock: Clock, count: int, seconds: float) -> None:
    for _ in range(count):
        clock.now += seconds / count
        _answer(limiter, clock, _ok(clock))


def _paced(limiter: Limiter, clock: Clock, seconds: float) -> None:
    """A session with more to send than the pace lets through: each start goes when
    :meth:`Limiter.reserve` says, and is answered ok (the pace, not the caller, sets the rate)."""

    async def drive() -> None:
        end = clock.now + seconds
        while clock.now < end:
            await limiter.acquire()
            clock.now += limiter.reserve()
            limiter.release(_ok(clock))

    asyncio.run(drive())


def _warm(limiter: Limiter, clock: Clock) -> None:
    """A session older than one second: before that, a 429 lowers only the requests in flight."""
    _answer(limiter, clock, _ok(clock))
    clock.now += 1.0


def test_unpaced_until_the_server_throttles() -> None:
    limiter, clock = _limiter()
    _deliver(limiter, clock, 500, 1.0)
    assert limiter.rate is None and limiter.limit == 8
    assert limiter.reserve() == 0.0


def test_a_429_paces_at_nine_tenths_of_what_the_server_accepted_last_second() -> None:
    limiter, clock = _limiter()
    _warm(limiter, clock)
    _deliver(limiter, clock, 200, 1.0)
    sent = clock.now - 0.02
    _answer(limiter, clock, _throttled(sent))
    assert limiter.rate == pytest.approx(180, rel=0.02)
    assert limiter.limit == pytest.approx(7.2)
    # Starts are due 1/rate apart from now on (and may go 20 ms early, to make up for late ones).
    waits = [limiter.reserve() for _ in range(10)]
    assert waits[0] == 0.0
    assert waits[9] == pytest.approx(9 / limiter.rate - 0.02, rel=0.02)


def test_one_decrease_per_round_then_a_hold_when_the_window_stays_full() -> None:
    limiter, clock = _limiter()
    _warm(limiter, clock)
    _deliver(limiter, clock, 200, 1.0)
    before_cut = clock.now - 0.01
    _answer(limiter, clock, _throttled(before_cut))
    rate = limiter.rate
    # More 429s for requests sent before the decrease: the same round, no second decrease.
    for _ in range(7):
        _answer(limiter, clock, _throttled(before_cut))
    assert limiter.rate == rate and limiter.held() == 0.0
    # 429s for requests sent after it, within the second: no further decrease, but once most
    # answers since the decrease are 429s the window is full, and no start goes before the
    # server's Retry-After.
    clock.now += 0.01
    _answer(limiter, clock, _ok(clock, rtt=0.005))
    for _ in range(2):
        clock.now += 0.01
        _answer(limiter, clock, _throttled(clock.now - 0.005, retry_after=1.0))
    assert limiter.held() == 0.0
    clock.now += 0.01
    _answer(limiter, clock, _throttled(clock.now - 0.005, retry_after=1.0))
    assert limiter.rate is not None and rate is not None and limiter.rate >= rate
    assert limiter.held() == pytest.approx(1.0)
    assert limiter.reserve() == pytest.approx(1.0)


def test_starts_waiting_when_a_hold_begins_go_paced_after_it_not_at_once() -> None:
    limiter, clock = _limiter()
    _throttled_at(limiter, clock, 200)
    rate = limiter.rate
    assert rate is not None
    for _ in range(3):  # the window stays full: the session holds for the Retry-After
        clock.now += 0.01
        _answer(limiter, clock, _throttled(clock.now - 0.005, retry_after=1.0))
    # Eight starts that were paced before the hold began ask how long to wait still: the first
    # until the hold's end, the others one interval after another (the first ones up to the
    # pace's tolerance early, as at any time), not all at the hold's end.
    waits = [limiter.held() for _ in range(8)]
    assert waits[0] == pytest.approx(1.0)
    assert waits[7] - waits[0] == pytest.approx(7 / rate - PACE_TOLERANCE_SECONDS, rel=0.02)


def test_429s_at_random_cost_at_most_half_the_rate() -> None:
    """A server that throttles one request in ten whatever the rate: the decreases stop at half
    the most it was seen to take, instead of driving the rate to nothing."""
    limiter, clock = _limiter(concurrency=32)
    for n in range(3000):
        clock.now += 0.0025  # 400 answers a second
        if n % 10 == 9:
            _answer(limiter, clock, _throttled(clock.now - 0.002))
        else:
            _answer(limiter, clock, _ok(clock, rtt=0.002))
    assert limiter.rate is not None and limiter.rate >= 0.5 * 400 * 0.99
    assert limiter.limit >= 16


def test_the_rate_grows_back_and_never_above_the_configured_ceiling() -> None:
    limiter, clock = _limiter(per_second=50)
    _warm(limiter, clock)
    _deliver(limiter, clock, 50, 1.0)
    _answer(limiter, clock, _throttled(clock.now - 0.02))
    assert limiter.rate == pytest.approx(45, rel=0.03)
    _paced(limiter, clock, 1.0)
    assert limiter.rate is not None and 45 < limiter.rate < 50  # back to 0.98 × 50 quickly
    _paced(limiter, clock, 20.0)
    assert limiter.rate == 50


def _throttled_at(limiter: Limiter, clock: Clock, per_second: int) -> None:
    """A warm session whose server took ``per_second`` over the last second, then said 429."""
    _warm(limiter, clock)
    _deliver(limiter, clock, per_second, 1.0)
    _answer(limiter, clock, _throttled(clock.now - 0.02))


def test_after_a_decrease_the_rate_cruises_just_below_the_limit_it_saw() -> None:
    """Back to 0.98 × the delivery rate within a second, then a probe that is slow at first:
    the limit just seen is not reached for about seven seconds (a constant +2.5 % a second from
    0.95, before, went past it within three: a probe, and its 429s, every two seconds)."""
    limiter, clock = _limiter()
    _throttled_at(limiter, clock, 200)
    assert limiter.rate == pytest.approx(180, rel=0.02)
    _paced(limiter, clock, 1.0)
    assert limiter.rate == pytest.approx(196, rel=0.005)
    _paced(limiter, clock, 5.0)
    assert limiter.rate is not None and 196 < limiter.rate < 199
    _paced(limiter, clock, 3.0)
    assert limiter.rate > 200  # probing beyond it


def test_a_limit_four_times_higher_than_the_estimate_is_found_within_seconds() -> None:
    """The probe's step doubles every second: an estimate far too low (another client had used
    most of the server's window) does not cost minutes of a quarter of the throughput."""
    limiter, clock = _limiter()
    _throttled_at(limiter, clock, 50)
    assert limiter.rate == pytest.approx(45, rel=0.02)
    _paced(limiter, clock, 16.0)
    assert limiter.rate is not None and limiter.rate >= 200


def test_a_rate_the_session_does_not_use_does_not_grow() -> None:
    """A caller slower than the pace tests no higher rate: raised meanwhile, the rate would let
    a burst through once the caller speeds up (RFC 7661). It grows again once the pace binds."""
    limiter, clock = _limiter()
    _throttled_at(limiter, clock, 200)
    rate = limiter.rate
    _deliver(limiter, clock, 1000, 10.0)  # 100 a second, under the pace
    assert limiter.rate == rate
    _paced(limiter, clock, 1.0)
    assert limiter.rate is not None and rate is not None and limiter.rate > rate


def test_the_in_flight_limit_grows_back_to_the_configured_concurrency() -> None:
    limiter, clock = _limiter(concurrency=4)
    _deliver(limiter, clock, 10, 0.1)
    _answer(limiter, clock, _throttled(clock.now - 0.02))
    assert limiter.limit < 4
    _deliver(limiter, clock, 100, 1.0)
    assert limiter.limit == 4


def test_a_slower_server_gets_fewer_requests_in_flight() -> None:
    limiter, clock = _limiter(concurrency=32)
    for _ in range(300):
        clock.now += 0.001
        _answer(limiter, clock, _ok(clock, rtt=0.02))
    assert limiter.limit == 32
    for _ in range(20):
        clock.now += 0.001
        _answer(limiter, clock, _ok(clock, rtt=0.2))
    assert limiter.limit < 32


def test_a_young_session_lowers_only_what_is_in_flight() -> None:
    limiter, clock = _limiter()
    _deliver(limiter, clock, 5, 0.1)
    _answer(limiter, clock, _throttled(clock.now - 0.02))
    assert limiter.rate is None and limiter.limit == pytest.approx(7.2)


def _young_burst(limiter: Limiter, clock: Clock, taken: int) -> None:
    """A session's first 0.7 s: ``taken`` answers, then the server's window is full: a 429 (the
    decrease), then only 429s for what was sent after it."""
    _deliver(limiter, clock, taken, 0.7)
    _answer(limiter, clock, _throttled(clock.now - 0.02))
    for _ in range(_HOLD_AFTER):
        clock.now += 0.005
        _answer(limiter, clock, _throttled(clock.now - 0.002, retry_after=1.0))


@pytest.mark.parametrize("ceiling", [None, 500.0])
def test_a_young_session_that_fills_the_window_is_paced_at_what_it_holds(
    ceiling: float | None,
) -> None:
    """The first second's burst filled the server's window: the session holds for its
    Retry-After, then goes on at 0.9 × what the window took. Unpaced (or at a configured rate
    above the limit), as before, it filled the window again as soon as the hold ended, and held
    a second time (a second lost in 17)."""
    limiter, clock = _limiter(per_second=ceiling)
    _young_burst(limiter, clock, taken=200)
    assert limiter.held() == pytest.approx(1.0)
    assert limiter.rate == pytest.approx(180, rel=0.02)


def test_a_young_session_refused_from_the_start_holds_but_stays_unpaced() -> None:
    """Most of its requests refused: others filled the window, and the few it took say nothing
    about the limit (pacing at 0.9 × 2 would crawl)."""
    limiter, clock = _limiter()
    _young_burst(limiter, clock, taken=2)
    assert limiter.held() == pytest.approx(1.0)
    assert limiter.rate is None


def test_not_adaptive_keeps_the_configuration() -> None:
    limiter, clock = _limiter(per_second=10, adaptive=False)
    _deliver(limiter, clock, 10, 1.0)
    _answer(limiter, clock, _throttled(clock.now - 0.02))
    assert (limiter.rate, limiter.limit) == (10, 8)


def test_slots_go_in_order_retries_first_and_a_cancelled_waiter_gives_its_slot_back() -> None:
    async def run() -> list[int]:
        limiter, _ = _limiter(concurrency=1)
        order: list[int] = []
        await limiter.acquire()

        async def wait(n: int, retry: bool = False) -> None:
            await limiter.acquire(retry=retry)
            order.append(n)
            limiter.release(None)

        tasks = [asyncio.ensure_future(wait(n)) for n in range(3)]
        await asyncio.sleep(0)
        tasks.append(asyncio.ensure_future(wait(3, retry=True)))
        await asyncio.sleep(0)
        tasks[1].cancel()
        limiter.release(None)
        await asyncio.gather(tasks[0], tasks[2], tasks[3])
        assert limiter.in_flight == 0
        return order

    assert asyncio.run(run()) == [3, 0, 2]


def test_against_a_rate_limit_adaptive_gets_far_fewer_429s(emulator: Any) -> None:
    """The emulator's --max-rps answers 429 with Retry-After beyond its limit: a fixed client
    keeps running into it, the adaptive one backs off after the first round."""
    ids = [emulator.store.add_conversation() for _ in range(60)]
    endpoint = Endpoint(url=emulator.url, token=Secret(emulator.zelto_api_key), name="local")

    async def run(adaptive: bool) -> int:
        settings = HttpSettings(concurrency=8, max_attempts=20, adaptive=adaptive)
        async with HttpSession(endpoint, settings) as session:
            paths = [f"/v1/conversations/{cid}/customer-metrics" for cid in ids]
            await asyncio.gather(*(session.request("GET", path) for path in paths))
            return session.stats.statuses.get(429, 0)

    emulator.set_faults(Faults(max_requests_per_second=20))
    fixed = asyncio.run(run(adaptive=False))
    emulator.set_faults(Faults(max_requests_per_second=20))
    adaptive = asyncio.run(run(adaptive=True))
    assert fixed >= 40  # everything beyond the first 20 of each second
    assert adaptive <= fixed // 2
