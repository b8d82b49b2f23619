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
