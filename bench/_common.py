"""What the benchmark scripts share. They run as ``python bench/<script>.py``, so ``bench/`` is on
``sys.path`` and they import this as ``_common``."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path


def server_cpu_seconds() -> float:
    """CPU time of the emulator process (Linux /proc), to show which side is the limit."""
    total = 0.0
    for child in multiprocessing.active_children():
        try:
            fields = Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _schedstat(pid: int | str) -> tuple[float, float]:
    """(seconds on a CPU, seconds runnable but waiting for one) of a process's threads, from
    /proc/PID/task/*/schedstat; (0, 0) where the kernel has no schedstats."""
    run = wait = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            on_cpu, queued, _ = stat.read_text().split()
        except (OSError, ValueError):
            continue
        run, wait = run + int(on_cpu), wait + int(queued)
    return run / 1e9, wait / 1e9


def waiting_seconds() -> tuple[float, float]:
    """How long this process and the server processes (summed) were runnable but waited for a
    core. On 2 shared cores a process at 50 % CPU may still be CPU-bound: the rest of its time
    it waited in the run queue behind other work, which ``server_cpu_seconds`` cannot show."""
    servers = sum(_schedstat(child.pid)[1] for child in multiprocessing.active_children())
    return _schedstat("self")[1], servers
