"""Does a plan's reading survive a bad minute, and what does a hostile body cost? (issue 12)

Two tables.

1. **Faults.** The emulator (in a thread) injects 30 % 503, 10 % 429 (``Retry-After``) and
   5 % dropped connections; 500 conversations are read with plan's default policy, as
   ``reconciler plan`` reads them. The naive baseline is the old policy: five attempts, whatever
   the time. Columns: reads that ran out of attempts, wall time, attempts sent. Several seeds.
2. **Bodies.** One GET answered by a hostile server on 127.0.0.1 with a 200 MB body, and with a
   gzip body that inflates to 1.5 GB. Each case runs in a fresh process and reports its peak RSS;
   the baseline reads the whole body (aiohttp ``read()``; the 1.5 GB bomb is not inflated by the
   baseline here, it would take the machine's memory), the capped client refuses at 32 MiB. The
   server runs in a process of its own, so the growth of peak RSS is the client's.

    .venv/bin/python bench/bench_bad_day.py [--reads 500] [--seeds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import resource
import socket
import subprocess
import sys
import time
from dataclasses import replace
from typing import Any

import aiohttp

from reconciler.config.sections import PlanSettings
from reconciler.emulator import EmulatorConfig, Faults, start_in_thread
from reconciler.errors import ApiError
from reconciler.remote.http import Endpoint, HttpSession, HttpSettings, Secret
from reconciler.remote.zelto import ZeltoClient

BAD_MINUTE = {"error_rate": 0.3, "throttle_rate": 0.1, "drop_rate": 0.05}


async def _read_all(url: str, key: str, ids: list[str], settings: HttpSettings) -> tuple[int, int]:
    endpoint = Endpoint(url=url, token=Secret(key), name="bench")
    async with HttpSession(endpoint, settings) as session:
        results = await ZeltoClient(session).read_many(ids)
        failed = sum(isinstance(r, ApiError) for r in results.values())
        return failed, session.stats.attempts


def faults_table(reads: int, seeds: int) -> None:
    default = HttpSettings.from_config(PlanSettings())
    policies = {
        "naive: 5 attempts": replace(default, max_attempts=5, retry_seconds=10_000),
        f"default: {default.retry_seconds:g} s budget": default,
    }
    print(f"| policy | seed | failed reads of {reads} | wall s | attempts |")
    print("|---|---:|---:|---:|---:|")
    for seed in range(1, seeds + 1):
        for name, settings in policies.items():
            running = start_in_thread(EmulatorConfig())
            try:
                ids = [str(running.store.add_conversation()) for _ in range(reads)]
                running.set_faults(Faults(**BAD_MINUTE, seed=seed))
                start = time.monotonic()
                failed, attempts = asyncio.run(
                    _read_all(running.url, running.zelto_api_key, ids, settings)
                )
                wall = time.monotonic() - start
            finally:
                running.stop()
            print(f"| {name} | {seed} | {failed} | {wall:.1f} | {attempts} |", flush=True)


# --- bodies: each case in its own process, so that peak RSS is the case's own ---------------


def _answer(kind: str) -> bytes:
    if kind == "200MB":
        body = b"x" * 200_000_000
        headers = f"HTTP/1.1 500 Oops\r\nContent-Length: {len(body)}\r\n"
    else:
        body = gzip.compress(b"\0" * 1_500_000_000, compresslevel=9)
        headers = f"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {len(body)}\r\n"
    return (headers + "Connection: close\r\n\r\n").encode() + body


def _serve(kind: str) -> None:
    """The hostile server, in a process of its own so that the client's RSS is the client's."""
    answer = _answer(kind)
    listener = socket.create_server(("127.0.0.1", 0))
    print(listener.getsockname()[1], flush=True)
    conn, _ = listener.accept()
    with conn:
        conn.recv(65536)
        with contextlib.suppress(OSError):  # the capped client hangs up early
            conn.sendall(answer)


async def _case(kind: str, client: str) -> str:
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind], stdout=subprocess.PIPE, text=True
    )
    assert server.stdout is not None
    url = f"http://127.0.0.1:{server.stdout.readline().strip()}"
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    if client == "naive":
        async with (
            aiohttp.ClientSession(auto_decompress=False) as session,
            session.get(url) as response,
        ):
            outcome = f"read {len(await response.read()):,} bytes"
    else:
        settings = HttpSettings(max_attempts=1)
        endpoint = Endpoint(url=url, token=Secret("bench-token-0123456789"), name="hostile")
        async with HttpSession(endpoint, settings) as session:
            try:
                await session.request("GET", "/x")
                outcome = "read"
            except ApiError as exc:
                outcome = exc.message[:70]
    wall = time.monotonic() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    server.kill()
    server.wait()
    return f"{wall:.2f}\t{(peak - before) / 1024:.0f}\t{outcome}"


def bodies_table() -> None:
    print("\n| body | client | wall s | peak RSS growth MB | outcome |")
    print("|---|---|---:|---:|---|")
    for kind, clients in (("200MB", ("naive", "capped")), ("gzip-1.5GB", ("capped",))):
        for client in clients:
            out = subprocess.run(
                [sys.executable, __file__, "--case", kind, client],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            wall, peak, outcome = out.split("\t")
            print(f"| {kind} | {client} | {wall} | {peak} | {outcome} |", flush=True)


def main(argv: Any = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reads", type=int, default=500)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--case", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        _serve(args.serve)
        return
    if args.case:
        print(asyncio.run(_case(*args.case)))
        return
    if args.seeds:
        faults_table(args.reads, args.seeds)
    bodies_table()


if __name__ == "__main__":
    main()
