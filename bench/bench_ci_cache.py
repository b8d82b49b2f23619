"""``reconciler validate`` on fresh CI runners: cold, warm through RECONCILER_CACHE_KEY, and a fork.

Seeds N conversations × 4 records of spec files (``bench_plan.seed``, default 25,000). Each run
is a fresh runner: a new copy of the checkout (new inodes and times, so the stat index does not
match), an empty ``XDG_CACHE_HOME`` (no per-user key), and for the warm rows the cache folder of
the cold run copied in, as ``actions/cache`` restores it. Each ``reconciler validate`` runs in its
own process under ``/usr/bin/time`` (wall, user+system CPU, peak RSS):

- cold, with the key (the baseline: what every CI run was before the key, and the first run);
- warm: a fresh runner, the cold run's cache restored, the same key;
- fork: the same, but a ``pull_request`` event from a fork: the cache is refused (cold).

    .venv/bin/python bench/bench_ci_cache.py [--conversations 25000] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_plan import seed  # bench/ is on sys.path

ROWS = ("cold: no cache yet (baseline)", "warm: fresh runner, key, cache restored", "fork PR")


def validate(work: Path, name: str, restored: Path | None, env: dict[str, str]) -> list[float]:
    """One fresh runner: [wall s, CPU s, peak MB]; its cache folder is left for the next."""
    root = work / name
    shutil.copytree(work / "src" / "specs", root / "specs")
    shutil.copy(work / "src" / "reconciler.yaml", root / "reconciler.yaml")
    if restored is not None:
        shutil.copytree(restored, root / ".reconciler" / "cache")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RECONCILER_"))}
    clean["XDG_CACHE_HOME"] = str(root / "xdg")
    command = ["/usr/bin/time", "-f", "%e %U %S %M", sys.executable, "-m", "reconciler"]
    done = subprocess.run(
        [*command, "validate"],
        cwd=root,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{name}: validate exited {done.returncode}: {done.stderr[-2000:]}")
    wall, user, system, peak_kb = done.stderr.split()[-4:]
    return [float(wall), float(user) + float(system), int(peak_kb) / 1024]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=25_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    key = secrets.token_hex(32)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        seed(work / "src" / "state.sqlite", work / "src" / "specs", args.conversations)
        (work / "src" / "reconciler.yaml").write_text("specs: [specs]\n")
        event = work / "event.json"
        pull = {"head": {"repo": {"id": 2}}, "base": {"repo": {"id": 1}}}
        event.write_text(json.dumps({"pull_request": pull}))
        fork = {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "pull_request"}
        fork["GITHUB_EVENT_PATH"] = str(event)
        load0 = os.getloadavg()
        results: dict[str, list[list[float]]] = {row: [] for row in ROWS}
        for i in range(args.repeat):
            results[ROWS[0]].append(validate(work, f"cold{i}", None, {"RECONCILER_CACHE_KEY": key}))
            cache = work / f"cold{i}" / ".reconciler" / "cache"
            warm_env = {"RECONCILER_CACHE_KEY": key}
            results[ROWS[1]].append(validate(work, f"warm{i}", cache, warm_env))
            results[ROWS[2]].append(validate(work, f"fork{i}", cache, {**warm_env, **fork}))
            for name in (f"cold{i}", f"warm{i}", f"fork{i}"):
                shutil.rmtree(work / name)
        load1 = os.getloadavg()
    print(f"{args.conversations:,} conversations, {args.repeat} runs each (range min-max)")
    print(f"load average (1/5/15 min) before: {_load(load0)}, after: {_load(load1)} (2 cores)")
    header = f"{'run':<42} {'wall s':>13} {'CPU s':>13} {'peak MB':>9} {'CPU vs cold':>11}"
    print(header)
    print("-" * len(header))
    cold_cpu = min(r[1] for r in results[ROWS[0]])
    for row in ROWS:
        runs = results[row]
        wall = f"{min(r[0] for r in runs):.1f}-{max(r[0] for r in runs):.1f}"
        cpu = f"{min(r[1] for r in runs):.1f}-{max(r[1] for r in runs):.1f}"
        peak = max(r[2] for r in runs)
        ratio = cold_cpu / min(r[1] for r in runs)
        print(f"{row:<42} {wall:>13} {cpu:>13} {peak:>9.0f} {ratio:>10.1f}x")


def _load(load: tuple[float, float, float]) -> str:
    return "/".join(f"{x:.1f}" for x in load)


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"({time.perf_counter() - start:.0f} s in all)", file=sys.stderr)
