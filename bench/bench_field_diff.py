"""Which field diff should the planner use: its hand-written one or deepdiff? (issue 13.8)

The planner diffs every declared record against the record Zelto holds, once per record per plan
(5,000 conversations x 4 records = 20,000 diffs), so the diff is on its hot path. This compares:

- the naive baseline and the planner's own: ``plan.model.field_diffs``, one ``!=`` per compared
  field of two ``RecordFields`` (six fields, flat);
- ``deepdiff.DeepDiff`` on the same two records as dicts (``RecordFields.compared()``), its result
  turned into the same ``FieldDiff`` tuples, so both produce what a plan needs.

Records are a realistic mix: 80 % equal (a steady-state plan is mostly no-ops), 15 % one field
changed, 5 % three fields changed. For each it prints microseconds per diff, the ratio to the
baseline, and the peak memory allocated while diffing (tracemalloc). Both must agree on every
pair; the script checks that before timing.

    .venv/bin/python bench/bench_field_diff.py [--pairs 5000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import random
import time
import tracemalloc
from collections.abc import Callable, Sequence

from deepdiff import DeepDiff

from reconciler.plan.fields import FieldDiff, RecordFields, field_diffs

Pair = tuple[RecordFields, RecordFields]
Differ = Callable[[RecordFields, RecordFields], tuple[FieldDiff, ...]]
FIELD_ORDER = ("label", "verdict", "score", "note", "metricId", "externalId")


def deepdiff_fields(before: RecordFields, after: RecordFields) -> tuple[FieldDiff, ...]:
    """DeepDiff's answer in the planner's terms: the changed top-level fields, in field order."""
    old, new = before.compared(), after.compared()
    found = DeepDiff(old, new)
    changed: set[str] = set()
    for kind in ("values_changed", "type_changes"):
        for path in found.get(kind, {}):
            changed.add(path.split("'")[1])
    names = [n for n in FIELD_ORDER if n in changed]
    return tuple(FieldDiff(field=n, before=before.value(n), after=after.value(n)) for n in names)


def make_pairs(count: int, seed: int = 13) -> list[Pair]:
    rng = random.Random(seed)
    pairs = []
    for n in range(count):
        base = {
            "label": f"Label {n % 40}",
            "externalId": f"qa-{n}",
            "verdict": rng.choice(["pass", "fail"]),
            "score": rng.randint(0, 100),
            "note": f"Agent read the disclosure at 00:{n % 60:02}." if n % 3 else None,
            "metricId": "0b6a1c1e-5f7d-4c1a-9b1e-2f4d8c9e7a10",
        }
        other = dict(base)
        roll = rng.random()
        if roll > 0.95:
            other.update(score=(base["score"] + 1) % 101, verdict="pass", note="changed")
        elif roll > 0.80:
            other["score"] = (base["score"] + 5) % 101
        pairs.append((RecordFields.from_compared(base), RecordFields.from_compared(other)))
    return pairs


def measure(differ: Differ, pairs: Sequence[Pair], repeat: int) -> tuple[float, int]:
    """Best µs per diff over ``repeat`` runs, and the peak bytes allocated in one run."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for before, after in pairs:
            differ(before, after)
        best = min(best, time.perf_counter() - start)
    tracemalloc.start()
    for before, after in pairs:
        differ(before, after)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return best / len(pairs) * 1e6, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    pairs = make_pairs(args.pairs)
    for before, after in pairs:  # same answer, or the timing means nothing
        assert deepdiff_fields(before, after) == field_diffs(before, after), (before, after)
    changed = sum(1 for b, a in pairs if field_diffs(b, a))
    load = os.getloadavg()[0]
    print(f"{args.pairs:,} record pairs ({changed:,} differ), best of {args.repeat}; "
          f"load average {load:.1f} ({os.cpu_count()} cores shared)")  # fmt: skip
    print(f"{'field diff':<40} {'µs/diff':>9} {'vs baseline':>12} {'peak KiB':>9}")
    print("-" * 73)
    base_us, base_peak = measure(field_diffs, pairs, args.repeat)
    print(f"{'baseline: plan.model.field_diffs':<40} {base_us:>9.2f} {1.0:>11.1f}x "
          f"{base_peak / 1024:>9.0f}")  # fmt: skip
    deep_us, deep_peak = measure(deepdiff_fields, pairs, args.repeat)
    print(f"{'deepdiff.DeepDiff (same FieldDiffs)':<40} {deep_us:>9.2f} "
          f"{deep_us / base_us:>11.1f}x {deep_peak / 1024:>9.0f}")  # fmt: skip
    print(f"planner hot path (20,000 diffs): {base_us * 20:.0f} ms hand-written, "
          f"{deep_us * 20:.0f} ms deepdiff")  # fmt: skip


if __name__ == "__main__":
    main()
