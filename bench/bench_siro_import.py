"""How many Siro requests does an import cost? (issue 14)

Seeds the emulator (in this process, on 127.0.0.1) with N mapped recordings (default 300), of which
K are in the import window, and reads them the way ``reconciler import siro`` does
(``fetch_values``: batches probed, only batches with values split down to one recording), beside
the naive baseline (one request per mapped recording, what the importer did before). For each
scenario it prints the requests each way, their ratio, wall time and the peak memory of this
process (ru_maxrss, so it only grows: read it per row as "at most"). Goals: 300 mapped with an
empty window <= 5 requests; 3 of 300 in the window <= 30.

    .venv/bin/python bench/bench_siro_import.py [--recordings 300] [--batch-size 100]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time
from collections.abc import Awaitable, Callable

from reconciler.emulator import EmulatorConfig, RunningEmulator, start_in_thread
from reconciler.importer.siro_fetch import fetch_values
from reconciler.remote.http import Endpoint, HttpSession, HttpSettings, Secret
from reconciler.remote.siro import SIRO_AUTH, SiroClient, SiroQuery

ORG, TYPE = "org_bench", "ct_bench"
QUERY = SiroQuery(ORG, TYPE, "2026-01-01T00:00:00.000Z", "2026-02-01T00:00:00.000Z")
ROUTE = ("GET", "/v1/core/scorecards/scorecard-metrics/values")


def _seed(emulator: RunningEmulator, count: int, in_window: set[int]) -> list[str]:
    ids = [f"rec_{i:05d}" for i in range(count)]
    for i, rid in enumerate(ids):
        started = "2026-01-15T10:00:00+00:00" if i in in_window else "2025-06-01T10:00:00+00:00"
        emulator.store.add_siro_recording(
            rid,
            organization_id=ORG,
            conversation_type_id=TYPE,
            started_at=started,
            metric_values=[
                {"id": "a", "name": "A", "unit": "percent", "unitAbbreviated": "%",
                 "metricType": "REP_CONTROL", "value": 50, "passRate": 100},
            ],
        )  # fmt: skip
    return ids


Reader = Callable[[SiroClient, list[str]], Awaitable[object]]


async def _naive(client: SiroClient, ids: list[str]) -> object:
    return await asyncio.gather(*(client.values(QUERY, [rid]) for rid in ids))


def _batched(batch_size: int) -> Reader:
    async def read(client: SiroClient, ids: list[str]) -> object:
        return await fetch_values(client, QUERY, ids, batch_size=batch_size)

    return read


def _measure(emulator: RunningEmulator, ids: list[str], reader: Reader) -> tuple[int, float]:
    endpoint = Endpoint(emulator.url, Secret(emulator.siro_token), "siro", "SIRO_AUTH_TOKEN")
    settings = HttpSettings(concurrency=8)

    async def main() -> None:
        async with HttpSession(endpoint, settings, auth=SIRO_AUTH) as http:
            await reader(SiroClient(http), ids)

    emulator.reset_request_counts()
    start = time.perf_counter()
    asyncio.run(main())
    return emulator.request_counts().get(ROUTE, 0), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recordings", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()
    n = args.recordings
    scenarios = {
        "empty window": set(),
        "3 in the window": {7, n // 2, n - 1},
        "30 in the window": set(range(0, n, max(1, n // 30))),
    }
    print(f"{n} mapped recordings, batch size {args.batch_size}")
    print(
        f"{'scenario':<18} {'naive req':>9} {'batched req':>11} {'ratio':>7} "
        f"{'naive s':>8} {'batched s':>9} {'peak MiB':>9}"
    )
    for name, window in scenarios.items():
        emulator = start_in_thread(EmulatorConfig(siro_requests_per_minute=1_000_000))
        try:
            ids = _seed(emulator, n, window)
            naive, naive_s = _measure(emulator, ids, _naive)
            batched, batched_s = _measure(emulator, ids, _batched(args.batch_size))
        finally:
            emulator.stop()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"{name:<18} {naive:>9} {batched:>11} {naive / max(batched, 1):>6.1f}x "
            f"{naive_s:>8.2f} {batched_s:>9.2f} {peak:>9.1f}"
        )


if __name__ == "__main__":
    main()
