"""Apply against a rate limit nobody told us: fixed, adaptive, and the exact rate (issue 15).

Runs the emulator in a separate process with 20 ms of latency and a hard limit of R requests per
second (``--max-rps``: beyond it, 429 with ``Retry-After``), then applies N creates through the
real applier with the default apply settings (``ApplySettings``: 8 in flight, no rate) three
ways, side by side in the same run:

- *fixed*: the in-flight limit and rate stay as configured (the behaviour before
  ``reconciler/remote/http/limiter.py``): the naive baseline;
- *adaptive*: the default: the limiter lowers the in-flight limit and the start rate on 429s and
  grows them back;
- *exact rate*: a user who knew R and configured ``requests_per_second: R``.

For each it prints the write phase's wall time, the accepted writes per second and their share
of R, the attempts, how many were answered 429 and their share of all attempts, and the writes
that still failed after ``max_attempts`` (10 here). Goal (issue 15):
at least 0.9 R with at most 2 % of the requests answered 429.

``--trace`` also prints the adaptive run's timeline, sampled every half second: attempts and
429s per second, the limiter's start rate and in-flight limit, and whether the session was
holding for a ``Retry-After`` (where an adaptive run loses throughput).

    .venv/bin/python bench/bench_limit.py [--writes 3000] [--max-rps 200] [--latency-ms 20]
                                          [--repeat 1] [--trace]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import itertools
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench_apply import make_plan, seed  # bench/ is on sys.path

from reconciler.applier import Applier
from reconciler.config import ApplySettings
from reconciler.emulator import EmulatorConfig, Faults, RunningEmulator, start_in_process
from reconciler.plan.model import Plan
from reconciler.remote.http import Endpoint, HttpSession, HttpSettings, Secret
from reconciler.remote.zelto import ZeltoClient


@dataclass(frozen=True)
class Row:
    name: str
    writes: int
    attempts: int
    throttled: int
    wall: float
    failed: int = 0

    @property
    def rate(self) -> float:
        return self.writes / self.wall


_TRACE_STEP = 0.5


@dataclass(frozen=True)
class Sample:
    at: float
    attempts: int
    throttled: int
    rate: float | None
    limit: float
    holding: bool


async def _sample(session: HttpSession, start: float, into: list[Sample]) -> None:
    """Every half second, the session's counters and its limiter's state (a private attribute:
    a benchmark may look)."""
    limiter = session._limiter
    while True:
        stats = session.stats
        into.append(
            Sample(
                time.perf_counter() - start,
                stats.attempts,
                stats.statuses.get(429, 0),
                limiter.rate,
                limiter.limit,
                limiter.held() > 0,
            )
        )
        await asyncio.sleep(_TRACE_STEP)


def print_trace(samples: list[Sample]) -> None:
    print(f"{'t s':>5} {'attempts/s':>10} {'429s':>5} {'rate':>6} {'in flight':>9} holding")
    for before, after in itertools.pairwise(samples):
        span = after.at - before.at
        rate = "-" if after.rate is None else f"{after.rate:.0f}"
        print(
            f"{before.at:>5.1f} {(after.attempts - before.attempts) / span:>10.0f} "
            f"{after.throttled - before.throttled:>5} {rate:>6} {after.limit:>9.1f} "
            f"{'yes' if before.holding or after.holding else ''}"
        )


async def _apply(
    emulator: RunningEmulator,
    plan: Plan,
    settings: HttpSettings,
    trace: list[Sample] | None = None,
) -> Row:
    """The write phase's counts, taken when the last write has its outcome (the read-back that
    follows is not part of it)."""
    endpoint = Endpoint(url=emulator.url, token=Secret(emulator.zelto_api_key), name="bench")
    total = len(plan.writes())
    done = 0
    start = time.perf_counter()
    async with HttpSession(endpoint, settings) as session:
        row = Row("", total, 0, 0, 0.0)
        sampler = asyncio.ensure_future(
            _sample(session, start, trace) if trace is not None else asyncio.sleep(0)
        )

        def on_result(_: object) -> None:
            nonlocal done, row
            done += 1
            if done == total:
                sampler.cancel()
                stats = session.stats
                wall = time.perf_counter() - start
                row = Row("", total, stats.attempts, stats.statuses.get(429, 0), wall)

        applier = Applier(ZeltoClient(session), check_fresh=False, on_result=on_result)
        report = await applier.run(plan)
        sampler.cancel()
    return dataclasses.replace(row, failed=report.summary.planned - report.summary.applied)


def measure(
    emulator: RunningEmulator,
    faults: Faults,
    name: str,
    plan: Plan,
    settings: HttpSettings,
    *,
    trace: list[Sample] | None = None,
) -> Row:
    """One apply, after a fresh rate window; ``trace`` collects the timeline when given."""
    emulator.set_faults(faults)
    row = asyncio.run(_apply(emulator, plan, settings, trace))
    return dataclasses.replace(row, name=name)


def print_table(rows: list[Row], limit: float) -> None:
    header = (
        f"{'run':<34} {'wall s':>6} {'writes/s':>8} {'of R':>5} {'attempts':>8} "
        f"{'429s':>5} {'429 share':>9} {'failed':>6} {'vs fixed':>8}"
    )
    print(header)
    print("-" * len(header))
    base = rows[0].rate
    for row in rows:
        print(
            f"{row.name:<34} {row.wall:>6.1f} {row.rate:>8.0f} {row.rate / limit:>5.2f} "
            f"{row.attempts:>8} {row.throttled:>5} {row.throttled / row.attempts:>9.1%} "
            f"{row.failed:>6} "
            f"{row.rate / base:>7.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--writes", type=int, default=3000)
    parser.add_argument("--max-rps", type=float, default=200.0)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=1, help="rounds of the three rows")
    parser.add_argument("--trace", action="store_true", help="the adaptive run's timeline")
    args = parser.parse_args()
    faults = Faults(latency_ms=args.latency_ms, max_requests_per_second=args.max_rps)
    default = HttpSettings.from_config(ApplySettings(), max_attempts=10)
    runs = [
        ("fixed: default config, not adaptive", dataclasses.replace(default, adaptive=False)),
        ("adaptive: default config", default),
        (
            f"exact rate: requests_per_second {args.max_rps:g}",
            dataclasses.replace(default, requests_per_second=args.max_rps, adaptive=False),
        ),
    ]
    load_before = os.getloadavg()[0]
    rows: list[Row] = []
    traces: list[list[Sample]] = []
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.sqlite"
        ids = seed(db, -(-args.writes // 4))
        emulator = start_in_process(EmulatorConfig(db_path=db))
        try:
            score = iter(range(1000))
            for _ in range(args.repeat):
                for name, settings in runs:
                    plan = make_plan("bench", ids, args.writes, next(score))
                    trace: list[Sample] | None = None
                    if args.trace and settings.adaptive:
                        trace = []
                        traces.append(trace)
                    rows.append(measure(emulator, faults, name, plan, settings, trace=trace))
        finally:
            emulator.stop()
    print(
        f"apply {args.writes} creates against a limit of R = {args.max_rps:g} req/s "
        f"(emulator --max-rps, another process), {args.latency_ms:g} ms latency; "
        f"load average before/after: {load_before:.1f} / {os.getloadavg()[0]:.1f} (2 cores shared)"
    )
    print_table(rows, args.max_rps)
    for trace in traces:
        print("\nadaptive: the write phase every 0.5 s (rate: the limiter's pace, - unpaced)")
        print_trace(trace)


if __name__ == "__main__":
    main()
