"""Cold spec loading, stage by stage, above the raw parse floor (issue 15 item 2).

Writes N conversations × 4 records in files of 200 conversations (the spec files of
``bench_plan.seed``, default 25,000 conversations = 100,000 records in 125 files) to
bench/.data/cold-N/, then measures on exactly those bytes:

**Stages** (one process, serial, the whole corpus each; median of ``--repeat``):

* ``read``: reading every file's bytes;
* ``floor: libyaml events``: ruamel's C parser producing every event (with its marks) and
  nothing else. This is the *raw parse floor*: any loader that reads YAML with libyaml pays it,
  whatever it builds. ``PyYAML C events`` beside it when PyYAML is installed, for reference;
* ``parse to values + marks``: :func:`load_plain`, the fast path (values and record places);
* ``parse to node tree + walk (old)``: :func:`load_yaml`, the located path that was the only
  path before (a node, a tag and a mark per value);
* ``pydantic validation``: ``SpecDocument.model_validate`` of the plain values;
* ``check_file``: the whole per-file check (parse, validate, the per-file rules, the result);
* ``compact``: each file's result as the desired state's records (``rules.compact``), which
  the loader does as each file's check comes back, so that no file's models are held longer;
* ``merge_results``: the cross-file rules and the merge.

**Whole loads** (each in a fresh process, so the peak RSS is that run's own):

* ``load_specs cold``: the fork pool as a run uses it, with no cache folder, and with an empty
  one (what a fresh CI runner's plan does: it also fills the cache);
* ``old path``: the same as the code did before this work (every file through the located path,
  results pickled back from the workers as models, cache entries encoded by ``json.dumps``): the
  naive baseline of the ratio column.

Stages show wall and CPU time, "CPU µs/rec" and "× floor" (the ratio to the libyaml event floor)
from CPU time; whole loads show wall time, "µs/rec" from it, and CPU time with the workers';
"baseline/this" how many times faster than the old path (the same cache setting).

    .venv/bin/python bench/bench_load_cold.py [--conversations 25000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from bench_plan import PER_CONVERSATION, write_specs  # bench/ is on sys.path
from ruamel.yaml.cyaml import CParser

from reconciler.model import SpecDocument
from reconciler.spec import document, load_specs
from reconciler.spec import loader as spec_loader
from reconciler.spec import parallel as spec_parallel
from reconciler.spec.rules import compact, merge_results
from reconciler.spec.yamlio import DEFAULT_MAX_BYTES, load_yaml
from reconciler.spec.yamlio.plain import load_plain

HERE = Path(__file__).resolve().parent
#: Conversations per generated file (the tables in docs/performance.md were measured so).
PER_FILE = 200
FLOOR = "floor: libyaml events"
OLD_WHOLE = "old path, no cache (baseline)"
OLD_CACHE = "old path, empty cache (baseline)"


def generate(folder: Path, count: int) -> int:
    """The spec files of ``bench_plan.seed`` (deterministic ids); returns the record count."""
    if folder.exists() and len(list(folder.glob("*.yaml"))) == -(-count // PER_FILE):
        return count * PER_CONVERSATION
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(15)
    ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(count)]
    write_specs(folder, ids, PER_FILE)
    return count * PER_CONVERSATION


def _events(data: bytes) -> None:
    parser = CParser(data)
    try:
        while parser.check_event():
            parser.get_event()
    finally:
        parser.dispose()


def _pyyaml_events() -> Callable[[bytes], None] | None:
    try:
        import yaml  # optional, for reference only
    except ImportError:
        return None
    if not hasattr(yaml, "CLoader"):
        return None

    def parse(data: bytes) -> None:
        for _event in yaml.parse(data, Loader=yaml.CLoader):
            pass

    return parse


def _timed(repeat: int, work: Callable[[], object]) -> tuple[float, float]:
    """Median wall and CPU seconds of ``work``. CPU is the column to compare on a busy machine:
    other jobs stretch the wall time of a serial stage, much less its CPU time."""
    walls, cpus = [], []
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        work()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def stages(folder: Path, repeat: int) -> list[tuple[str, tuple[float, float]]]:
    """Serial per-stage wall times over the whole corpus, in this process."""
    paths = sorted(folder.glob("*.yaml"))
    rows: list[tuple[str, tuple[float, float]]] = []
    rows.append(("read", _timed(repeat, lambda: [p.read_bytes() for p in paths])))
    sources = [(p.name, p.read_bytes()) for p in paths]
    rows.append((FLOOR, _timed(repeat, lambda: [_events(d) for _n, d in sources])))
    pyyaml = _pyyaml_events()
    if pyyaml is not None:
        rows.append(("PyYAML C events", _timed(repeat, lambda: [pyyaml(d) for _n, d in sources])))
    plains = [load_plain(d, n) for n, d in sources]
    rows.append(
        ("parse to values + marks", _timed(repeat, lambda: [load_plain(d, n) for n, d in sources]))
    )
    rows.append(
        (
            "parse to node tree + walk (old)",
            _timed(repeat, lambda: [load_yaml(d, n) for n, d in sources]),
        )
    )
    datas = [plain.data for plain in plains if plain is not None]
    rows.append(
        (
            "pydantic validation",
            _timed(repeat, lambda: [SpecDocument.model_validate(d) for d in datas]),
        )
    )
    results = [document.check_file(n, d) for n, d in sources]
    rows.append(
        ("check_file", _timed(repeat, lambda: [document.check_file(n, d) for n, d in sources]))
    )
    rows.append(
        (
            "check_file, old path",
            _timed(1, lambda: [_old_check(n, d) for n, d in sources]),
        )
    )
    pairs = list(zip((n for n, _d in sources), results, strict=True))
    rows.append(("compact", _timed(repeat, lambda: [compact(n, r) for n, r in pairs])))
    named = [(n, compact(n, r)) for n, r in pairs]
    rows.append(("merge_results", _timed(repeat, lambda: merge_results(named, _no_locator))))
    return rows


def _old_check(file: str, data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> document.FileResult:
    return document._check_located(file, data, max_bytes)  # the old path itself


def _no_locator(*_args: object) -> object:
    raise AssertionError("the corpus has no cross-file errors")


def _use_the_old_path() -> None:
    """The code before the fast path, in this process: every file through the located path,
    results pickled back from the workers as models, cache entries encoded by json.dumps."""
    spec_parallel.check_file = _old_check  # type: ignore[assignment]
    spec_parallel._check_batch_as_json = spec_parallel._check_batch  # type: ignore[assignment]
    spec_parallel._results_back = lambda batch, _max_bytes: [  # type: ignore[assignment]
        spec_parallel.Checked(outcome)  # type: ignore[arg-type]
        for outcome in batch
    ]
    spec_loader.result_json = _old_result_json  # type: ignore[attr-defined]


def _old_result_json(result: document.FileResult) -> bytes:
    text = json.dumps(document.result_to_json(result), separators=(",", ":"), ensure_ascii=False)
    return text.encode()


def whole(mode: str, folder: Path) -> dict[str, float]:
    """One cold ``load_specs`` in this (fresh) process: wall, CPU with children, peak RSS."""
    if mode.startswith("old"):
        _use_the_old_path()
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as empty:
        cache = Path(empty) if mode.endswith("cache") else None
        start = time.perf_counter()
        state = load_specs([folder], root=folder, cache_dir=cache, pause_gc=True)
        elapsed = time.perf_counter() - start
    assert state.record_count > 0
    me, kids = (resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
    return {"seconds": elapsed, "cpu": cpu, "peak_mb": max(me.ru_maxrss, kids.ru_maxrss) / 1024}


def measure_whole(mode: str, folder: Path, repeat: int) -> list[dict[str, float]]:
    runs = []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, __file__, "--run", mode, "--folder", str(folder)],
            check=True,
            capture_output=True,
            text=True,
        )
        runs.append(json.loads(out.stdout))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=25_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--old-repeat", type=int, default=1, help="runs of the slow baseline")
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(whole(args.run, Path(args.folder))))
        return
    folder = HERE / ".data" / f"cold-{args.conversations}"
    records = generate(folder, args.conversations)
    size = sum(p.stat().st_size for p in folder.glob("*.yaml"))
    print(
        f"corpus: {args.conversations:,} conversations, {records:,} records, "
        f"{len(list(folder.glob('*.yaml')))} files, {size / 1e6:.1f} MB; "
        f"{len(os.sched_getaffinity(0))} cores; load average {os.getloadavg()[0]:.2f}"
    )
    # Whole loads first, while this process is small: a child's peak RSS counts what it
    # inherited at fork, before exec (Linux keeps the larger of the two).
    wholes = {
        "load_specs cold, no cache": measure_whole("new", folder, args.repeat),
        "load_specs cold, empty cache (fills it)": measure_whole("new-cache", folder, args.repeat),
        OLD_WHOLE: measure_whole("old", folder, args.old_repeat),
        OLD_CACHE: measure_whole("old-cache", folder, args.old_repeat),
    }
    rows = stages(folder, args.repeat)
    floor = dict(rows)[FLOOR][1]
    print(
        f"\n{'stage (serial, median of ' + str(args.repeat) + ')':<36} {'wall':>8} {'CPU':>8} "
        f"{'CPU µs/rec':>10} {'× floor':>8}"
    )
    for name, (wall, cpu) in rows:
        print(
            f"{name:<36} {wall:>7.2f}s {cpu:>7.2f}s {cpu / records * 1e6:>10.1f} "
            f"{cpu / floor:>8.2f}"
        )
    baseline = {name: OLD_CACHE if "empty cache" in name else OLD_WHOLE for name in wholes}
    print(
        f"\n{'whole cold load (fresh process)':<40} {'wall':>13} {'µs/rec':>7} {'CPU':>7} "
        f"{'baseline/this':>13} {'peak RSS':>9}"
    )
    for name, runs in wholes.items():
        walls = sorted(r["seconds"] for r in runs)
        wall = statistics.median(walls)
        base = statistics.median(r["seconds"] for r in wholes[baseline[name]])
        spread = f"{walls[0]:.2f}-{walls[-1]:.2f}s" if len(walls) > 1 else f"{wall:.2f}s"
        print(
            f"{name:<40} {spread:>13} {wall / records * 1e6:>7.1f} "
            f"{statistics.median(r['cpu'] for r in runs):>6.1f}s {base / wall:>12.2f}x "
            f"{max(r['peak_mb'] for r in runs):>7.0f}MB"
        )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
