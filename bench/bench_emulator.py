"""How many requests per second the emulator serves, so it is never the bottleneck of a client
benchmark.

The server runs in its own process (``start_in_process``). The load comes from several client
processes, each keeping many keep-alive connections busy with a minimal raw-asyncio HTTP/1.1
client (far cheaper per request than httpx, so the clients are not what is measured). Every
scenario also runs the naive baseline: one connection, one request at a time, same work.

    .venv/bin/python bench/bench_emulator.py [--seconds 3] [--clients 2]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import multiprocessing
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from reconciler.emulator import EmulatorConfig, Faults, RunningEmulator, start_in_process

CONVERSATION = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
KEY = "bench-key"
SIRO_TOKEN = "bench-siro-token"


@dataclass(frozen=True)
class Work:
    """One kind of request, as raw bytes, sent over and over."""

    name: str
    request: bytes


def _work(host: str, port: int) -> list[Work]:
    path = f"/v1/conversations/{CONVERSATION}/customer-metrics"
    head = f"Host: {host}:{port}\r\nAuthorization: Bearer {KEY}\r\n"
    body = b'{"label": "Bench", "verdict": "pass", "score": 90, "externalId": "bench-1"}'
    get = f"GET {path} HTTP/1.1\r\n{head}\r\n".encode()
    post = (
        f"POST {path} HTTP/1.1\r\n{head}Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    siro_query = (
        "requestedOrganizationId=org_bench&conversationTypeId=type-1"
        "&startAt=2026-01-01T00:00:00Z&endAt=2026-02-01T00:00:00Z"
        "&filterByIds=rec_bench&filterBy=RECORDING"
    )
    siro = (
        f"GET /v1/core/scorecards/scorecard-metrics/values?{siro_query} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\nx-siro-auth-token: {SIRO_TOKEN}\r\n\r\n"
    ).encode()
    return [
        Work("GET customer-metrics", get),
        Work("POST customer-metric", post),
        Work("GET Siro values", siro),
    ]


async def _one_connection(host: str, port: int, request: bytes, deadline: float) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    done = 0
    try:
        while time.monotonic() < deadline:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"unexpected response: {head[:60]!r}")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            done += 1
    finally:
        writer.close()
    return done


async def _connections(host: str, port: int, request: bytes, count: int, seconds: float) -> int:
    deadline = time.monotonic() + seconds
    results = await asyncio.gather(
        *(_one_connection(host, port, request, deadline) for _ in range(count))
    )
    return sum(results)


def _client_process(
    url: str, request: bytes, connections: int, seconds: float, start_at: float
) -> int:
    parts = urlsplit(url)
    time.sleep(max(0.0, start_at - time.time()))
    return asyncio.run(
        _connections(parts.hostname or "127.0.0.1", parts.port or 80, request, connections, seconds)
    )


def _measure(url: str, request: bytes, processes: int, per_process: int, seconds: float) -> float:
    """Requests per second with ``processes`` × ``per_process`` connections in flight."""
    start_at = time.time() + 0.5
    args = [(url, request, per_process, seconds, start_at)] * processes
    if processes == 1:
        return _client_process(*args[0]) / seconds
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        counts = pool.starmap(_client_process, args)
    return sum(counts) / seconds


def _start(latency_ms: float, http: str) -> RunningEmulator:
    recording = {
        "id": "rec_bench",
        "organizationId": "org_bench",
        "conversationTypeId": "type-1",
        "startedAt": "2026-01-10T12:00:00Z",
        "metricValues": [
            {
                "id": f"mv_{i}",
                "name": f"Metric {i}",
                "unit": "seconds",
                "unitAbbreviated": "sec",
                "metricType": "CONVERSATION_TIME",
                "value": 10 * i,
            }
            for i in range(5)
        ],
    }
    seed = {
        "organizations": [{"id": str(uuid.uuid4()), "apiKey": KEY}],
        "siro": {"recordings": [recording]},
    }
    running = start_in_process(
        EmulatorConfig(
            seed=seed,
            auto_create_conversations=True,
            faults=Faults(latency_ms=latency_ms),
            siro_token=SIRO_TOKEN,
            # The documented 1000/min limit would measure the limiter, not the server.
            siro_requests_per_minute=10**9,
        ),
        http=http,
    )
    return running


def _row(cells: list[str]) -> str:
    widths = [22, 8, 10, 9, 7, 7, 6]
    return " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--http", default="auto", help="uvicorn HTTP parser: auto, h11, httptools")
    args = parser.parse_args()
    if args.http == "auto":
        args.http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    print(_row(["work", "latency", "parser", "in flight", "req/s", "naive", "ratio"]))
    print("-" * 99)
    scenarios = [(0.0, 16), (20.0, 64)]
    for latency, in_flight in scenarios:
        running = _start(latency, args.http)
        try:
            _measure(running.url, _work("127.0.0.1", 0)[0].request, 1, 1, 0.3)  # warm up
            parts = urlsplit(running.url)
            for work in _work(parts.hostname or "127.0.0.1", parts.port or 80):
                per_process = max(1, in_flight // args.clients)
                fast = _measure(running.url, work.request, args.clients, per_process, args.seconds)
                naive = _measure(running.url, work.request, 1, 1, args.seconds)
                print(
                    _row(
                        [
                            work.name,
                            f"{latency:g} ms",
                            args.http,
                            f"{per_process * args.clients}",
                            f"{fast:,.0f}",
                            f"{naive:,.0f}",
                            f"{fast / naive:.1f}x",
                        ]
                    )
                )
        finally:
            running.stop()
    print("naive = one connection, one request at a time, same server and work.")


if __name__ == "__main__":
    main()
