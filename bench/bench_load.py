"""Spec loading: our loader (cold and cached) against ruamel.yaml's bare C-based safe load.

Generates a corpus (default 5,000 files, 20,000 records, ~7.6 MB) in bench/.data/, then times,
each in a fresh process so peak memory is per run:

* ``bare C safe load``: ``YAML(typ="safe", pure=False).load`` of every file, one process: the
  naive baseline, which checks nothing and keeps no places;
* ``bare C safe load, N procs``: the same over a process pool (what "both cores" buys);
* ``reconciler cold``: ``load_specs`` with an empty cache: parse, validate, cross-file rules,
  cache write;
* ``reconciler warm``: ``load_specs`` again over the same cache (after one unchanged re-run has
  stored the snapshot of the merged load): stat index, snapshot, one validation;
* ``reconciler warm, 1 file edited``: the same after changing one file, as while editing: that
  file is parsed, the others come from the per-file cache, and the merge runs.

Prints median time, ratio to the baseline, records/s and peak RSS, then the two ratios the
project's goals name: cold/bare (goal <= 1.3) and warm/cold (goal <= 0.1).

Usage: .venv/bin/python bench/bench_load.py [--files 5000] [--records-per-file 4] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from ruamel.yaml import YAML

from reconciler.spec import load_specs

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"
WORDS = [
    *("agent", "customer", "call", "disclosure", "verified", "refund", "escalated", "policy"),
    *("account", "billing", "greeting", "empathy", "resolution", "follow-up", "transfer"),
    *("hold", "supervisor", "apology", "summary", "identity", "payment"),
]
BARE = "bare C safe load (baseline)"
COLD = "reconciler cold (no cache)"
WARM = "reconciler warm (cached)"
EDITED = "reconciler warm, 1 file edited"
LABELS = ["Compliance Check", "Empathy", "Resolution", "Greeting", "Hold Etiquette", "Accuracy"]


def generate(folder: Path, files: int, per_file: int) -> int:
    """Write the corpus (deterministic); returns the number of records."""
    rng = random.Random(20240501)
    if folder.exists():
        shutil.rmtree(folder)
    records = 0
    for index in range(files):
        sub = folder / f"team-{index % 50:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        conversation = uuid.UUID(int=rng.getrandbits(128), version=4)
        lines = ["# yaml-language-server: $schema=../../schemas/spec.schema.json", "conversations:"]
        lines.append(f"  {conversation}:")
        for n, label in enumerate(rng.sample(LABELS, per_file)):
            note = " ".join(rng.choice(WORDS) for _ in range(24))
            lines += [
                f"    - externalId: qa-{index:05d}-{n}",
                f"      label: {label}",
                f"      verdict: {rng.choice(['pass', 'fail'])}",
                f"      score: {rng.randint(0, 100)}",
                f"      metricId: {uuid.UUID(int=rng.getrandbits(128), version=4)}",
                f"      note: {note}.",
            ]
            records += 1
        (sub / f"spec-{index:05d}.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return records


def _bare_load(paths: list[str]) -> int:
    yaml = YAML(typ="safe", pure=False)
    count = 0
    for path in paths:
        with open(path, "rb") as handle:
            data = yaml.load(handle.read())
        count += len(data["conversations"])
    return count


def _corpus_paths() -> list[str]:
    return sorted(str(p) for p in (DATA / "specs").rglob("*.yaml"))


def _edit_one_file() -> None:
    """Give one spec file new content (a fresh trailing comment), so the run cannot use the
    snapshot and must parse that file."""
    path = DATA / "specs" / "team-00" / "spec-00000.yaml"
    lines = [line for line in path.read_text().splitlines() if not line.startswith("# edit ")]
    path.write_text("\n".join([*lines, f"# edit {uuid.uuid4()}"]) + "\n")


def run_mode(mode: str, cache_dir: str) -> dict[str, float]:
    """One measurement in this (fresh) process."""
    paths = _corpus_paths()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime  # imports are not part of the work
    start = time.perf_counter()
    if mode == "bare":
        _bare_load(paths)
    elif mode == "bare-pool":
        workers = len(os.sched_getaffinity(0))
        chunks = [paths[i::workers] for i in range(workers)]
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(_bare_load, chunks))
    else:
        if mode == "ours-edit":  # before the clock starts: what a user's edit would leave
            _edit_one_file()
            start = time.perf_counter()
        # pause_gc as the CLI asks for it: a process-wide choice the library leaves to its caller
        specs = [DATA / "specs"]
        state = load_specs(specs, root=DATA, cache_dir=Path(cache_dir), pause_gc=True)
        assert state.record_count > 0
    elapsed = time.perf_counter() - start
    me, children = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    cpu = me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime - cpu_before
    peak_kb = max(me.ru_maxrss, children.ru_maxrss)
    return {"seconds": elapsed, "cpu": cpu, "peak_mb": peak_kb / 1024}


def measure(mode: str, repeat: int, cache_dir: Path, *, fresh_cache: bool) -> dict[str, float]:
    runs = []
    for _ in range(repeat):
        if fresh_cache and cache_dir.exists():
            shutil.rmtree(cache_dir)
        out = subprocess.run(
            [sys.executable, __file__, "--run", mode, "--cache-dir", str(cache_dir)],
            check=True,
            capture_output=True,
            text=True,
        )
        runs.append(json.loads(out.stdout))
    return {
        "seconds": statistics.median(r["seconds"] for r in runs),
        "cpu": statistics.median(r["cpu"] for r in runs),
        "peak_mb": max(r["peak_mb"] for r in runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--records-per-file", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run_mode(args.run, args.cache_dir)))
        return
    records = generate(DATA / "specs", args.files, args.records_per_file)
    size = sum(p.stat().st_size for p in (DATA / "specs").rglob("*.yaml"))
    print(f"corpus: {args.files:,} files, {records:,} records, {size / 1e6:.1f} MB; ", end="")
    print(f"{len(os.sched_getaffinity(0))} cores; median of {args.repeat}")
    cache_dir = Path(tempfile.mkdtemp(prefix="bench-cache-"))
    try:
        repeat = args.repeat
        rows = {
            BARE: measure("bare", repeat, cache_dir, fresh_cache=True),
            "bare C safe load, all cores": measure(
                "bare-pool", repeat, cache_dir, fresh_cache=True
            ),
            COLD: measure("ours", repeat, cache_dir, fresh_cache=True),
        }
        measure("ours", 1, cache_dir, fresh_cache=False)  # prime the cache
        rows[WARM] = measure("ours", repeat, cache_dir, fresh_cache=False)
        rows[EDITED] = measure("ours-edit", repeat, cache_dir, fresh_cache=False)
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)
    base = rows[BARE]["seconds"]
    print(
        f"{'run':<30} {'wall':>8} {'x baseline':>11} {'CPU':>8} {'records/s':>10} {'peak RSS':>9}"
    )
    for name, row in rows.items():
        secs = row["seconds"]
        print(
            f"{name:<30} {secs:>7.2f}s {secs / base:>10.2f}x {row['cpu']:>7.2f}s "
            f"{records / secs:>10,.0f} {row['peak_mb']:>7.0f}MB"
        )
    cold, warm = rows[COLD]["seconds"], rows[WARM]["seconds"]
    print(f"cold / bare = {cold / base:.2f} (goal <= 1.3)")
    print(f"warm / cold = {warm / cold:.3f} (goal <= 0.1: {cold / warm:.1f}x faster)")


if __name__ == "__main__":
    main()
