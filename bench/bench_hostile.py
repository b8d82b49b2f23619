"""Hostile spec input: what refusing a file of 1,000,000 list items costs, with and without caps.

The file is the one issue 12 reported (8 MB: ``conversations: {<uuid>: [x, x, ...]}``, one item a
line). Each mode runs ``reconciler validate --no-cache`` in a fresh process on a folder holding
only that file, and measures wall time, CPU time, peak RSS (``wait4``) and the lines printed:

* ``caps lifted (baseline)``: the loader with its node cap, record cap and printed-problem cap
  raised past the file, which is what the code did before issue 12: compose every node, validate
  every item, print every error;
* ``caps (default)``: the shipped loader, which stops composing at the node cap.

Usage: .venv/bin/python bench/bench_hostile.py [--items 1000000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONVERSATION = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
BASELINE = "caps lifted (baseline)"
CAPPED = "caps (default)"
# Run in the child: lift every cap past the file, then the CLI as a user runs it.
_LIFT = """
import sys
import reconciler.cli.common as common
import reconciler.spec.document as document
import reconciler.spec.yamlio.loader as loader
loader.MAX_NODES = document.MAX_RECORDS_PER_FILE = common.MAX_SHOWN_PROBLEMS = 10**9
from reconciler.cli import main
sys.argv = ["reconciler", "validate", "--no-cache"]
main()
"""
_CAPPED = """
import sys
from reconciler.cli import main
sys.argv = ["reconciler", "validate", "--no-cache"]
main()
"""


def run(folder: Path, source: str) -> tuple[float, float, float, int]:
    """(wall s, CPU s, peak RSS MB, lines printed) of one validate run."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen([sys.executable, "-c", source], cwd=folder, stdout=out)
        _pid, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        assert os.waitstatus_to_exitcode(status) == 1, "validate must refuse the file"
        out.seek(0)
        lines = sum(1 for _ in out)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        (folder / "specs").mkdir()
        big = folder / "specs" / "big.yaml"
        big.write_bytes(f"conversations:\n  {CONVERSATION}:\n".encode() + b"    - x\n" * args.items)
        print(f"file: {args.items:,} list items, {big.stat().st_size / 1e6:.1f} MB")
        rows = {BASELINE: run(folder, _LIFT), CAPPED: run(folder, _CAPPED)}
    print(f"{'mode':<24} {'wall s':>8} {'CPU s':>8} {'peak MB':>8} {'lines':>10}")
    for name, (wall, cpu, rss, lines) in rows.items():
        print(f"{name:<24} {wall:8.2f} {cpu:8.2f} {rss:8.0f} {lines:10,}")
    base, capped = rows[BASELINE], rows[CAPPED]
    print(
        f"baseline / caps: wall {base[0] / capped[0]:.1f}x, CPU {base[1] / capped[1]:.1f}x, "
        f"peak memory {base[2] / capped[2]:.1f}x"
    )


if __name__ == "__main__":
    main()
