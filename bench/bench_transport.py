"""Which HTTP transport reads fastest with many requests in flight? (issue 5, docs/performance.md)

Runs the emulator in a separate process with injected latency (20 ms by default) so that client
and server do not share an interpreter, every row on asyncio's own loop (the engine runs on
uvloop's where installed: docs/performance.md), then sends the same GETs
(``/v1/conversations/{id}/customer-metrics``) through several client set-ups:

- the naive baseline: one request at a time;
- one ``httpx.AsyncClient`` with its default transport, at 8, 32 and 64 in flight;
- one ``httpx.AsyncClient`` over the ``httpx-aiohttp`` transport, at 8, 32 and 64;
- several ``httpx.AsyncClient`` instances with small pools (4 connections each);
- aiohttp's own ``ClientSession`` with no httpx at all (the reference: the least client CPU);
- the project's own ``HttpSession`` (the full policy: slots, retries, redaction) on its three
  wires: httpcore's pool driven without ``AsyncClient``, aiohttp's pool answering
  ``httpx.Response`` (what a proxied session uses), and the direct wire (the default, see
  reconciler/remote/http/direct.py);
- ``ZeltoClient`` on the default session, as plan and apply use it: reads (``list_metrics``, the
  page validated by pydantic) and writes (``submit_metric``, a POST that upserts, its answer
  validated).

For each it prints requests/s, the ideal (in_flight / latency), the ratio to it, client CPU
(process time / wall time: 100 % means the client itself is the bottleneck), client CPU per
request in µs (process time / requests: it does not depend on how fast the shared machine let the
run go, so it is the number to compare across runs) and the speed-up over the naive baseline.
``--cpu`` runs only the project's rows and aiohttp alone at 64 in flight, with more requests:
the micro-benchmark of the client's cost per request.

    .venv/bin/pip install -e '.[bench]'   # httpx-aiohttp, the comparison
    .venv/bin/python bench/bench_transport.py [--requests 2000] [--latency-ms 20] [--repeat 3]
    .venv/bin/python bench/bench_transport.py --cpu [--requests 8000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from _common import server_cpu_seconds  # bench/ is on sys.path
from httpx_aiohttp import AiohttpTransport

from reconciler.emulator import EmulatorConfig, Faults, start_in_process
from reconciler.emulator.store import Store
from reconciler.plan.fields import RecordFields
from reconciler.remote.http import Endpoint, HttpSession, HttpSettings, Secret
from reconciler.remote.zelto import ZeltoClient

CONVERSATIONS = 500


@dataclass(frozen=True)
class Server:
    url: str
    key: str
    ids: list[str]


@dataclass(frozen=True)
class Row:
    name: str
    in_flight: int
    requests: int
    wall: float
    cpu: float
    server_cpu: float

    @property
    def rate(self) -> float:
        return self.requests / self.wall

    @property
    def cpu_us(self) -> float:
        """Client CPU per request, in µs."""
        return self.cpu * self.wall / self.requests * 1e6


Runner = Callable[[Server, int, int], Coroutine[Any, Any, None]]

#: Set by the project's runners once their session has answered one request: its start-up (the
#: TLS context, the pool) is a cost per session, not per request, so the rows count from there.
_steady: list[tuple[float, float]] = []


def _mark_steady() -> None:
    _steady[:] = [(time.process_time(), time.perf_counter())]


def _paths(server: Server, count: int) -> Iterator[str]:
    ids = itertools.islice(itertools.cycle(server.ids), count)
    return (f"/v1/conversations/{cid}/customer-metrics" for cid in ids)


async def _drain(client: httpx.AsyncClient, paths: Iterator[str]) -> None:
    for path in paths:
        response = await client.get(path)
        response.raise_for_status()


def _client(
    server: Server, size: int, transport: httpx.AsyncBaseTransport | None
) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
    return httpx.AsyncClient(
        base_url=server.url,
        headers={"Authorization": f"Bearer {server.key}"},
        limits=limits,
        transport=transport,
        timeout=30.0,
    )


async def one_client_default(server: Server, in_flight: int, count: int) -> None:
    paths = _paths(server, count)
    async with _client(server, in_flight, None) as client:
        await asyncio.gather(*(_drain(client, paths) for _ in range(in_flight)))


async def one_client_aiohttp(server: Server, in_flight: int, count: int) -> None:
    paths = _paths(server, count)
    limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
    async with _client(server, in_flight, AiohttpTransport(limits=limits)) as client:
        await asyncio.gather(*(_drain(client, paths) for _ in range(in_flight)))


async def aiohttp_alone(server: Server, in_flight: int, count: int) -> None:
    """No httpx at all: the floor of client CPU that any httpx layer adds to."""
    urls = (server.url + path for path in _paths(server, count))
    connector = aiohttp.TCPConnector(limit=in_flight)
    headers = {"Authorization": f"Bearer {server.key}"}
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def drain() -> None:
            for url in urls:
                async with session.get(url) as response:
                    response.raise_for_status()
                    await response.read()

        await asyncio.gather(*(drain() for _ in range(in_flight)))


async def several_clients(server: Server, in_flight: int, count: int) -> None:
    per_client = 4
    paths = _paths(server, count)
    clients = [_client(server, per_client, None) for _ in range(max(1, in_flight // per_client))]
    try:
        await asyncio.gather(*(_drain(c, paths) for c in clients for _ in range(per_client)))
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))


def _session_runner(transport: str) -> Runner:
    async def run(server: Server, in_flight: int, count: int) -> None:
        endpoint = Endpoint(url=server.url, token=Secret(server.key), name="bench")
        settings = HttpSettings(concurrency=in_flight, transport=transport)  # type: ignore[arg-type]
        paths = _paths(server, count)
        async with HttpSession(endpoint, settings) as session:
            await session.request("GET", next(paths))
            _mark_steady()

            async def drain() -> None:
                for path in paths:
                    await session.request("GET", path)

            await asyncio.gather(*(drain() for _ in range(in_flight)))

    return run


def _zelto_runner(write: bool) -> Runner:
    """``ZeltoClient`` on the default session: what plan (reads) and apply (writes) run."""

    async def run(server: Server, in_flight: int, count: int) -> None:
        endpoint = Endpoint(url=server.url, token=Secret(server.key), name="bench")
        ids = itertools.islice(itertools.cycle(server.ids), count)
        async with HttpSession(endpoint, HttpSettings(concurrency=in_flight)) as session:
            client = ZeltoClient(session)
            await client.list_metrics(next(ids))
            _mark_steady()

            async def drain() -> None:
                for n, cid in enumerate(ids):
                    if write:
                        fields = RecordFields(
                            label=f"Label {n % 4}", external_id=f"qa-{n % 4}", score=n % 9
                        )
                        await client.submit_metric(cid, fields.post_body() or {})
                    else:
                        await client.list_metrics(cid)

            await asyncio.gather(*(drain() for _ in range(in_flight)))

    return run


def measure_once(name: str, runner: Runner, server: Server, in_flight: int, count: int) -> Row:
    """One run; the project's rows count from their first answer (``_mark_steady``)."""
    _steady.clear()
    cpu0, server0, wall0 = time.process_time(), server_cpu_seconds(), time.perf_counter()
    asyncio.run(runner(server, in_flight, count))
    if _steady:
        (cpu0, wall0), count = _steady[0], count - 1
    wall = time.perf_counter() - wall0
    client = (time.process_time() - cpu0) / wall
    return Row(name, in_flight, count, wall, client, (server_cpu_seconds() - server0) / wall)


def startup_cpu(server: Server, repeat: int) -> float:
    """Client CPU (ms) of a session's start: opening it, its first request, closing it. Paid
    once per session (each plan's reads, each apply), so it is kept out of the rows."""

    async def one() -> None:
        endpoint = Endpoint(url=server.url, token=Secret(server.key), name="bench")
        async with HttpSession(endpoint, HttpSettings()) as session:
            await session.request("GET", next(_paths(server, 1)))

    def once() -> float:
        cpu0 = time.process_time()
        asyncio.run(one())
        return (time.process_time() - cpu0) * 1000

    return min(once() for _ in range(repeat))


def measure(
    name: str, runner: Runner, server: Server, in_flight: int, count: int, *, repeat: int
) -> Row:
    """The fastest of ``repeat`` runs: on a shared machine the others are slowed by whatever
    else runs, so the fastest is the least disturbed measurement of the client itself."""
    runs = (measure_once(name, runner, server, in_flight, count) for _ in range(repeat))
    return min(runs, key=lambda row: row.wall)


def seed(path: Path) -> list[str]:
    store = Store(path)
    try:
        ids = [store.add_conversation() for _ in range(CONVERSATIONS)]
        for cid in ids:
            for n in range(4):
                store.put_metric(cid, label=f"Label {n}", verdict="pass", externalId=f"qa-{n}")
    finally:
        store.close()
    return ids


def server_ceiling(handle: Any, server: Server, count: int, repeat: int) -> Row:
    """What the emulator process can serve at all: rows near this are server-bound."""
    handle.set_faults(Faults())
    return measure("ceiling", one_client_aiohttp, server, 32, count, repeat=repeat)


def print_table(rows: list[Row], latency: float) -> None:
    naive = rows[0].rate
    header = f"{'client':<36} {'in flight':>9} {'req/s':>6} {'ideal':>6} {'of ideal':>8} "
    header += f"{'client CPU':>10} {'CPU us/req':>10} {'server CPU':>10} {'vs naive':>8}"
    print(header)
    print("-" * len(header))
    for row in rows:
        ideal = row.in_flight / latency
        print(
            f"{row.name:<36} {row.in_flight:>9} {row.rate:>6.0f} {ideal:>6.0f} "
            f"{row.rate / ideal:>8.2f} {row.cpu:>10.0%} {row.cpu_us:>10.0f} "
            f"{row.server_cpu:>10.0%} "
            f"{row.rate / naive:>7.1f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="GETs per concurrent run")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=3, help="runs per row; the fastest is shown")
    parser.add_argument("--cpu", action="store_true", help="only client CPU per request, at 64")
    args = parser.parse_args()
    latency = args.latency_ms / 1000.0
    plan = cpu_plan() if args.cpu else full_plan()
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.sqlite"
        ids = seed(db)
        config = EmulatorConfig(db_path=db, faults=Faults(latency_ms=args.latency_ms))
        handle = start_in_process(config)
        try:
            server = Server(handle.url, handle.zelto_api_key, ids)
            asyncio.run(one_client_aiohttp(server, 8, 200))  # warm-up: imports, server caches
            ceiling = (
                None if args.cpu else server_ceiling(handle, server, args.requests, args.repeat)
            )
            handle.set_faults(Faults(latency_ms=args.latency_ms))
            startup = startup_cpu(server, args.repeat)
            rows = []
            for name, runner, n in plan:
                count = max(100, int(args.requests * min(1.0, n / 32)))
                rows.append(measure(name, runner, server, n, count, repeat=args.repeat))
        finally:
            handle.stop()
    print(f"load average before/after: {load0:.1f} / {os.getloadavg()[0]:.1f} (2 cores shared)")
    print(f"GET customer-metrics, emulator in another process, {args.latency_ms:g} ms latency")
    if ceiling is not None:
        print(
            f"server ceiling (no injected latency, httpx-aiohttp, 32 in flight): "
            f"{ceiling.rate:.0f} req/s, client CPU {ceiling.cpu:.0%}, server CPU "
            f"{ceiling.server_cpu:.0%}"
        )
    print(
        f"best of {args.repeat} runs per row; HttpSession start-up (open, first request, close): "
        f"{startup:.0f} ms client CPU, not in the rows"
    )
    print_table(rows, latency)


def cpu_plan() -> list[tuple[str, Runner, int]]:
    """The naive baseline, then the client's own rows at 64 in flight beside aiohttp alone."""
    return [
        ("naive: one request at a time", one_client_default, 1),
        ("aiohttp alone, no httpx (reference)", aiohttp_alone, 64),
        ("HttpSession, aiohttp wire (proxied)", _session_runner("aiohttp"), 64),
        ("HttpSession, direct wire (default)", _session_runner("direct"), 64),
        ("ZeltoClient reads (list_metrics)", _zelto_runner(write=False), 64),
        ("ZeltoClient writes (submit_metric)", _zelto_runner(write=True), 64),
    ]


def full_plan() -> list[tuple[str, Runner, int]]:
    plan: list[tuple[str, Runner, int]] = [("naive: one request at a time", one_client_default, 1)]
    for n in (8, 32, 64):
        plan.append(("httpx AsyncClient, default pool", one_client_default, n))
    for n in (8, 32, 64):
        plan.append(("httpx AsyncClient, httpx-aiohttp", one_client_aiohttp, n))
    for n in (32, 64):
        plan.append(("several AsyncClients x 4 conns", several_clients, n))
    for n in (32, 64):
        plan.append(("aiohttp alone, no httpx (reference)", aiohttp_alone, n))
    for n in (32, 64):
        plan.append(("HttpSession, httpcore pool", _session_runner("httpx"), n))
        plan.append(("HttpSession, aiohttp wire (proxied)", _session_runner("aiohttp"), n))
        plan.append(("HttpSession, direct wire (default)", _session_runner("direct"), n))
    for write in (False, True):
        plan.append((f"ZeltoClient {'writes' if write else 'reads'}", _zelto_runner(write), 64))
    return plan


if __name__ == "__main__":
    main()
