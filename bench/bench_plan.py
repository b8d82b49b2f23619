"""How fast does plan read the current state? (issue 5)

Seeds the emulator with N conversations × 4 records (default 5,000 × 4), runs it in a separate
process with injected latency (20 ms), and writes spec files that declare exactly those records
(so the plan is all no-ops and every byte of work is reading and comparing). Then it measures:

- a plan through the library engine (``Workspace.plan``, what ``reconciler plan`` runs, specs
  already cached) at the default plan concurrency (``PlanSettings``), at 32 and at 64, and the
  naive baseline (one request at a time) on the same conversations: the reading phase (one GET
  per conversation; timed from the engine's progress callback, first to last read) and the
  whole call (loading the specs, reading, planning);
- the whole ``reconciler plan`` command (a subprocess: interpreter start, config, loading and
  validating the specs, reading, planning, rendering) at the default concurrency.

For each it prints the reading phase's wall time, requests/s, the floor (conversations × latency
÷ concurrency: what perfect pipelining would take), the ratio to it, client CPU and server CPU
(process time ÷ wall time; 100 % means that side is the limit), and the whole call or command
("whole s"). Goal (issue 5): reading within 1.5× of the floor at concurrency 32.

    .venv/bin/python bench/bench_plan.py [--conversations 5000] [--latency-ms 20]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _common import server_cpu_seconds  # bench/ is on sys.path

from reconciler import Workspace
from reconciler.config.sections import PlanSettings
from reconciler.emulator import EmulatorConfig, Faults, RunningEmulator, start_in_process
from reconciler.emulator.store import Store

PER_CONVERSATION = 4
PER_FILE = 100


@dataclass(frozen=True)
class Row:
    name: str
    concurrency: int
    conversations: int
    wall: float
    client_cpu: float
    server_cpu: float
    whole: float

    @property
    def rate(self) -> float:
        return self.conversations / self.wall


def seed(db: Path, specs: Path, count: int) -> list[str]:
    """N conversations with 4 records each, and spec files declaring exactly those records."""
    store = Store(db)
    ids: list[str] = []
    try:
        for n in range(count):
            cid = store.add_conversation()
            ids.append(cid)
            for k in range(PER_CONVERSATION):
                store.put_metric(
                    cid,
                    label=f"Label {k}",
                    verdict="pass" if (n + k) % 3 else "fail",
                    score=(n * 7 + k) % 101,
                    externalId=f"qa-{n}-{k}",
                )
    finally:
        store.close()
    specs.mkdir(parents=True)
    write_specs(specs, ids)
    return ids


def write_specs(specs: Path, ids: list[str], per_file: int = PER_FILE) -> None:
    """Spec files declaring exactly the records :func:`seed` puts in the emulator for ``ids``,
    ``per_file`` conversations a file."""
    for start in range(0, len(ids), per_file):
        lines = ["conversations:"]
        for n in range(start, min(start + per_file, len(ids))):
            lines.append(f"  {ids[n]}:")
            for k in range(PER_CONVERSATION):
                verdict = "pass" if (n + k) % 3 else "fail"
                lines += [
                    f"    - externalId: qa-{n}-{k}",
                    f"      label: Label {k}",
                    f"      verdict: {verdict}",
                    f"      score: {(n * 7 + k) % 101}",
                ]
        (specs / f"batch-{start // per_file:04d}.yaml").write_text("\n".join(lines) + "\n")


def engine(emulator: RunningEmulator, workdir: Path, state: Path) -> Workspace:
    """The library engine on the bench's specs; its spec cache in ``state``, so that the
    command's first run below still starts cold."""
    environ = {"ZELTO_API_KEY": emulator.zelto_api_key}
    return Workspace.load(workdir, api_url=emulator.url, environ=environ, state_dir=state)


def measure_plan(workspace: Workspace, name: str, count: int, concurrency: int) -> Row:
    """One ``Workspace.plan``: the reading phase from its progress callback, and the whole call."""
    marks: dict[int, tuple[float, float, float]] = {}

    def progress(done: int, total: int) -> None:
        if done in {0, total}:
            marks[done] = (time.perf_counter(), time.process_time(), server_cpu_seconds())

    wall0 = time.perf_counter()
    plan = workspace.plan(concurrency=concurrency, progress=progress)
    whole = time.perf_counter() - wall0
    if plan.summary.failed or plan.has_changes:
        raise SystemExit(f"benchmark invalid: {plan.summary.failed} conversations failed")
    (wall0, cpu0, server0), (wall1, cpu1, server1) = marks[0], marks[count]
    wall = wall1 - wall0
    return Row(
        name, concurrency, count, wall, (cpu1 - cpu0) / wall, (server1 - server0) / wall, whole
    )


def measure_command(emulator: RunningEmulator, workdir: Path, count: int, name: str) -> Row:
    """``reconciler plan`` end to end, as a user runs it (loading, reading, planning, output)."""
    env = {**os.environ, "ZELTO_API_KEY": emulator.zelto_api_key, "NO_COLOR": "1"}
    env.pop("ZELTO_API_URL", None)
    command = [sys.executable, "-m", "reconciler", "plan", "--api-url", emulator.url]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    server0, wall0 = server_cpu_seconds(), time.perf_counter()
    done = subprocess.run(
        [*command, "--format", "json", "--detailed-exitcode"],
        cwd=workdir, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    wall = time.perf_counter() - wall0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"reconciler plan exited {done.returncode}: {done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    server = (server_cpu_seconds() - server0) / wall
    concurrency = PlanSettings().concurrency
    return Row(name, concurrency, count, wall, cpu / wall, server, wall)


def print_table(rows: list[Row], latency: float) -> None:
    naive = next(r for r in rows if r.concurrency == 1)
    header = (
        f"{'run':<36} {'in flight':>9} {'wall s':>7} {'req/s':>6} {'floor s':>7} "
        f"{'x floor':>7} {'client CPU':>10} {'server CPU':>10} {'vs naive':>8} {'whole s':>7}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        floor = row.conversations * latency / row.concurrency
        print(
            f"{row.name:<36} {row.concurrency:>9} {row.wall:>7.1f} {row.rate:>6.0f} "
            f"{floor:>7.1f} {row.wall / floor:>7.2f} {row.client_cpu:>10.0%} "
            f"{row.server_cpu:>10.0%} {naive.wall / row.wall:>7.1f}x {row.whole:>7.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=5000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--skip-naive", action="store_true", help="omit the slow baseline")
    args = parser.parse_args()
    default = PlanSettings().concurrency
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ids = seed(work / "state.sqlite", work / "specs", args.conversations)
        (work / "reconciler.yaml").write_text("specs: [specs]\n")
        config = EmulatorConfig(db_path=work / "state.sqlite")
        with start_in_process(config) as emulator, engine(emulator, work, work / "state") as ws:
            ws.plan(concurrency=8)  # warm-up: connections, page cache, the engine's spec cache
            emulator.set_faults(Faults(latency_ms=args.latency_ms))
            count = len(ids)
            rows = [
                measure_plan(ws, f"Workspace.plan, default ({default})", count, default),
                measure_plan(ws, "Workspace.plan", count, 32),
                measure_plan(ws, "Workspace.plan", count, 64),
            ]
            if not args.skip_naive:
                rows.append(measure_plan(ws, "naive: one request at a time", count, 1))
            # The first run parses every spec file; the next one finds them in the spec cache.
            for name in ("`reconciler plan`, first run", "`reconciler plan`, specs cached"):
                rows.append(measure_command(emulator, work, args.conversations, name))
    print(f"load average before/after: {load0:.1f} / {os.getloadavg()[0]:.1f} (2 cores shared)")
    print(
        f"plan: {args.conversations} conversations x {PER_CONVERSATION} records, emulator in "
        f"another process, {args.latency_ms:g} ms latency; floor = conversations x latency / "
        "in flight"
    )
    if args.skip_naive:
        ideal = args.conversations * args.latency_ms / 1000
        rows.append(Row("naive (skipped: ideal)", 1, args.conversations,
                        ideal, 0.0, 0.0, ideal))  # fmt: skip
    print_table(rows, args.latency_ms / 1000.0)


if __name__ == "__main__":
    main()
