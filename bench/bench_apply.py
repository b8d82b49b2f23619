"""How fast does apply write? (issue 6, issue 15)

Seeds a database with empty conversations, serves it from a separate process (client and server
share no interpreter) with injected latency, and applies a plan of N creates (4 per
conversation) through the library engine (``Workspace.apply``: the preflight, then the applier
over the transport http.py chose, exactly what ``reconciler apply`` runs), at each concurrency,
without faults and with injected 503s (the emulator's seeded draws). Each run writes new values
(the score changes), so every POST really replaces a record. The server:

- ``--server fast`` (default): bench/_fast_server.py. Writes go through the emulator's own ASGI
  app in that process (its validation and SQLite upsert, its answers), reads are rendered from
  its database, faults are the emulator's; only uvicorn and Starlette's share of the reads are
  left out. Issue 15's goals are stated against such a minimal fast server;
- ``--server emulator``: the project's emulator (Starlette + uvicorn + SQLite), which spends
  more CPU per POST than the client does and so sets the pace on 2 shared cores;
- ``--server both``: one after the other, on the same database.

For each run it prints the write phase's wall time, POSTs/s, the floor (attempts × latency ÷
concurrency: what perfect pipelining would take, retries included), the ratio to it (goal, issue
15: at most 1.5 with 10 % 503s at 64 in flight), client CPU (process time ÷ wall
time; 100 % means the client itself is the limit), the read-back phase's time, and the speed-up
over the naive baseline (one request at a time). The baseline runs on a slice (``--naive-writes``)
and is extrapolated to N linearly, which is exact for a sequential client at fixed latency; the
table says so.

    .venv/bin/python bench/bench_apply.py [--writes 20000] [--latency-ms 20] [--naive-writes 250]
        [--concurrency 32 64] [--server fast|emulator|both]
"""

from __future__ import annotations

import argparse
import heapq
import os
import random
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from _common import server_cpu_seconds, waiting_seconds  # bench/ is on sys.path
from _fast_server import FastServer

from reconciler import ApplyReport, Workspace
from reconciler.emulator import EmulatorConfig, Faults, start_in_process
from reconciler.emulator.store import Store
from reconciler.plan.fields import RecordFields
from reconciler.plan.fingerprint import fingerprint
from reconciler.plan.model import Action, Change, ConversationPlan, Plan
from reconciler.remote.http import HttpSettings, backoff_delay

PER_CONVERSATION = 4
SERVERS = ("fast", "emulator")


class Server(Protocol):
    url: str
    zelto_api_key: str

    def set_faults(self, faults: Faults) -> None: ...


@dataclass(frozen=True)
class Row:
    name: str
    concurrency: int
    writes: int
    attempts: int
    write_wall: float
    write_cpu: float
    write_wait: float
    server_cpu: float
    server_wait: float
    verify_wall: float
    half_wall: float = 0.0
    p99_wall: float = 0.0
    extrapolated_from: int | None = None

    @property
    def rate(self) -> float:
        return self.writes / self.write_wall


def make_plan(target: str, conversation_ids: list[str], writes: int, score: int) -> Plan:
    """``writes`` creates, 4 per conversation, as the planner would produce them."""
    empty = fingerprint([])
    conversations = []
    for index, cid in enumerate(conversation_ids[: -(-writes // PER_CONVERSATION)]):
        count = min(PER_CONVERSATION, writes - index * PER_CONVERSATION)
        changes = tuple(
            Change(
                action=Action.CREATE,
                label=f"Label {n}",
                external_id=f"qa-{n}",
                after=RecordFields(label=f"Label {n}", external_id=f"qa-{n}", score=score),
            )
            for n in range(count)
        )
        conversations.append(ConversationPlan(id=cid, fingerprint=empty, changes=changes))
    return Plan.build(target=target, spec_digest="sha256:bench", conversations=conversations)


@dataclass
class Marks:
    """When the write phase reached half, 99 % and all of its writes (wall s from the start), and
    the CPU and run-queue seconds of the client and the server by then: a tail that stalls shows
    as ``last`` far beyond ``2 x half``."""

    half: float = 0.0
    p99: float = 0.0
    last: float = 0.0
    cpu: float = 0.0
    wait: float = 0.0
    server_cpu: float = 0.0
    server_wait: float = 0.0


def _apply(workspace: Workspace, plan: Plan, concurrency: int) -> tuple[ApplyReport, Marks]:
    """The report, and when the writes reached half, 99 % and all of the plan."""
    marks = Marks()
    wall0, cpu0, server0 = time.perf_counter(), time.process_time(), server_cpu_seconds()
    wait0, server_wait0 = waiting_seconds()

    def progress(done: int, total: int) -> None:
        now = time.perf_counter() - wall0
        if done == total // 2:
            marks.half = now
        if done == total * 99 // 100:
            marks.p99 = now
        if done == total:
            marks.last, marks.cpu = now, time.process_time() - cpu0
            marks.server_cpu = server_cpu_seconds() - server0
            wait, server_wait = waiting_seconds()
            marks.wait, marks.server_wait = wait - wait0, server_wait - server_wait0

    # No freshness check: the bench measures writes; every conversation starts empty anyway.
    report = workspace.apply(plan, concurrency=concurrency, check_fresh=False, progress=progress)
    return report, marks


def measure(
    server: Server,
    workspace: Workspace,
    name: str,
    plan: Plan,
    *,
    concurrency: int,
    faults: Faults,
    extrapolate_to: int | None = None,
) -> Row:
    server.set_faults(faults)
    wall0 = time.perf_counter()
    report, marks = _apply(workspace, plan, concurrency)
    write_wall = marks.last
    total_wall = time.perf_counter() - wall0
    if not report.ok:
        raise SystemExit(f"{name}: the apply did not converge: {report.summary.line()}")
    writes = report.summary.planned
    scale = (extrapolate_to / writes) if extrapolate_to else 1.0
    return Row(
        name=name,
        concurrency=concurrency,
        writes=round(writes * scale),
        attempts=round(report.requests.attempts * scale),
        write_wall=write_wall * scale,
        write_cpu=marks.cpu / write_wall,
        write_wait=marks.wait / write_wall,
        server_cpu=marks.server_cpu / write_wall,
        server_wait=marks.server_wait / write_wall,
        verify_wall=(total_wall - write_wall) * scale,
        half_wall=marks.half * scale,
        p99_wall=marks.p99 * scale,
        extrapolated_from=writes if extrapolate_to else None,
    )


def engine(server: Server, folder: Path) -> Workspace:
    """The library engine pointed at the server, with the bench's retry budget."""
    (folder / "reconciler.yaml").write_text("apply: {maxAttempts: 10}\n")
    environ = {"ZELTO_API_KEY": server.zelto_api_key}
    # pause_gc: as `reconciler apply` loads it (cli/cmd_apply.py).
    return Workspace.load(folder, api_url=server.url, environ=environ, pause_gc=True)


@contextmanager
def serving(kind: str, db: Path) -> Iterator[Server]:
    if kind == "fast":
        with FastServer(db) as fast:
            yield fast
        return
    with start_in_process(EmulatorConfig(db_path=db)) as emulator:
        yield emulator


def seed(path: Path, conversations: int) -> list[str]:
    store = Store(path)
    try:
        return [store.add_conversation() for _ in range(conversations)]
    finally:
        store.close()


def print_table(rows: list[Row], latency: float) -> None:
    naive = rows[0].write_wall
    header = (
        f"{'run':<30} {'conc':>4} {'writes':>6} {'attempts':>8} {'wall s':>7} {'POST/s':>7} "
        f"{'floor s':>7} {'x floor':>7} {'half s':>6} {'99% s':>6} {'CPU':>5} {'wait':>5} "
        f"{'us/att':>6} {'server':>6} {'wait':>5} {'us/att':>6} {'verify s':>8} {'vs naive':>8}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        floor = row.attempts * latency / row.concurrency  # retries' attempts count too
        print(
            f"{row.name:<30} {row.concurrency:>4} {row.writes:>6} {row.attempts:>8} "
            f"{row.write_wall:>7.1f} {row.rate:>7.0f} {floor:>7.1f} "
            f"{row.write_wall / floor:>7.2f} {row.half_wall:>6.1f} {row.p99_wall:>6.1f} "
            f"{row.write_cpu:>5.0%} {row.write_wait:>5.0%} "
            f"{row.write_cpu * row.write_wall / row.attempts * 1e6:>6.0f} "
            f"{row.server_cpu:>6.0%} {row.server_wait:>5.0%} "
            f"{row.server_cpu * row.write_wall / row.attempts * 1e6:>6.0f} "
            f"{row.verify_wall:>8.1f} "
            f"{naive / row.write_wall:>7.1f}x"
        )
    print(
        "'half s' / '99% s': when half and 99 % of the writes had their outcome (a steady pipe "
        "reaches all at about 2 x half); CPU, wait (runnable, waiting for a core) and us/att "
        "(CPU per attempt): the client's, then the server's, over the write phase"
    )
    for row in rows:
        if row.extrapolated_from:
            print(
                f"* {row.name}: measured on {row.extrapolated_from} writes, times scaled "
                f"linearly to {row.writes}"
            )


def backoff_alone(  # noqa: PLR0917 - a model's parameters, each a different fact
    writes: int,
    concurrency: int,
    latency: float,
    error_rate: float,
    seed: int,
    base: float | None = None,
) -> float:
    """The ratio to the floor that the retry schedule alone costs, with no client CPU at all: a
    simulation of the session's rule (every attempt takes ``latency``; a failed one frees its
    slot, waits its full-jitter backoff, then queues at the head of the line). What the measured
    ratio has above this is the client's (and the server's) CPU, not the tail."""
    settings = HttpSettings() if base is None else HttpSettings(backoff_base_seconds=base)
    rng = random.Random(seed)
    retries: list[tuple[int, int]] = []
    fresh, free, attempts, last = writes, concurrency, 0, 0.0
    events: list[tuple[float, int, int, int]] = []  # (when, 0 answered | 1 backoff over, id, n)
    now = 0.0
    while True:
        while free and (retries or fresh):
            if retries:
                write, number = retries.pop(0)
            else:
                write, number, fresh = fresh, 1, fresh - 1
            free, attempts = free - 1, attempts + 1
            heapq.heappush(events, (now + latency, 0, write, number))
        if not events:
            return last / (attempts * latency / concurrency)
        now, kind, write, number = heapq.heappop(events)
        if kind == 1:
            retries.append((write, number + 1))
            continue
        free += 1
        if rng.random() < error_rate:
            wait = backoff_delay(settings, number, rng)
            heapq.heappush(events, (now + wait, 1, write, number))
        else:
            last = now


def run_all(kind: str, db: Path, ids: list[str], args: argparse.Namespace) -> list[Row]:
    """The warm-up, the naive slice, then clean and flaky runs at each concurrency, against one
    server over ``db``."""
    clean = Faults(latency_ms=args.latency_ms)
    flaky = Faults(latency_ms=args.latency_ms, error_rate=args.error_rate, seed=1)
    with serving(kind, db) as server, engine(server, db.parent) as ws:
        score = iter(range(100))

        def plan(writes: int) -> Plan:
            return make_plan(ws.target_name, ids, writes, next(score))

        measure(server, ws, "warm-up", plan(500), concurrency=16, faults=Faults())
        rows = [
            measure(server, ws, "naive: one at a time*", plan(args.naive_writes),
                    concurrency=1, faults=clean, extrapolate_to=args.writes)
        ]  # fmt: skip
        for concurrency in args.concurrency:
            for label, faults in (("clean", clean), (f"{args.error_rate:.0%} 503s", flaky)):
                rows.append(
                    measure(server, ws, f"Workspace.apply, {label}", plan(args.writes),
                            concurrency=concurrency, faults=faults)
                )  # fmt: skip
    return rows


def simulate_bases(args: argparse.Namespace) -> None:
    """The retry schedule's cost alone for each backoff base (docs/performance.md)."""
    conc, latency = max(args.concurrency), args.latency_ms / 1000.0
    print(f"{args.writes} writes, {args.error_rate:.0%} failures, {conc} in flight, "
          f"{args.latency_ms:g} ms; 20 seeds; default base "
          f"{HttpSettings().backoff_base_seconds} s")  # fmt: skip
    for base in args.simulate_bases:
        got = [backoff_alone(args.writes, conc, latency, args.error_rate, seed, base)
               for seed in range(20)]  # fmt: skip
        print(f"base {base:.2f} s: {min(got):.3f}-{max(got):.3f} x floor, "
              f"mean {sum(got) / len(got):.3f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--writes", type=int, default=20_000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--naive-writes", type=int, default=250)
    parser.add_argument("--error-rate", type=float, default=0.10, help="injected 503s")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--server", choices=[*SERVERS, "both"], default="fast")
    parser.add_argument(
        "--simulate-bases",
        type=float,
        nargs="+",
        metavar="SECONDS",
        help="only simulate the retry schedule for these backoff bases (20 seeds)",
    )
    args = parser.parse_args()
    if args.simulate_bases:
        simulate_bases(args)
        return
    latency = args.latency_ms / 1000.0
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.sqlite"
        ids = seed(db, -(-args.writes // PER_CONVERSATION))
        for kind in SERVERS if args.server == "both" else (args.server,):
            load0 = os.getloadavg()
            rows = run_all(kind, db, ids, args)
            load1 = os.getloadavg()
            print(
                f"\n{kind}: {args.writes} creates over {len(ids)} conversations, server in "
                f"another process, {args.latency_ms:g} ms latency; 'wall s' = write phase, "
                "'verify s' = read-back"
            )
            print(
                f"load average (1/5/15 min) before {load0[0]:.1f}/{load0[1]:.1f}/{load0[2]:.1f}, "
                f"after {load1[0]:.1f}/{load1[1]:.1f}/{load1[2]:.1f} (2 cores shared)"
            )
            print_table(rows, latency)
    conc = max(args.concurrency)
    models = [backoff_alone(args.writes, conc, latency, args.error_rate, seed) for seed in range(5)]
    print(
        f"the retry schedule alone (simulated, no CPU; 5 seeds), {args.error_rate:.0%} failures "
        f"at {conc} in flight: {min(models):.2f}-{max(models):.2f} x floor"
    )


if __name__ == "__main__":
    main()
