"""The local Zelto + Siro emulator: the embedded ``local`` target and the test backend.

An independent implementation of the API contracts in ``contracts/`` (it imports nothing from the
client side, so a misreading of the contract cannot hide in both). Every assumed behaviour lives
in :mod:`reconciler.emulator.contract`. Start it with :func:`start_in_thread` (tests, the CLI's
``local`` target), :func:`start_in_process` (benchmarks) or ``reconciler emulator serve``.
"""

from __future__ import annotations

from reconciler.emulator.app import EmulatorApp, create_app
from reconciler.emulator.config import EmulatorConfig
from reconciler.emulator.errors import EmulatorError, SeedError
from reconciler.emulator.faults import Faults
from reconciler.emulator.seed import Seed, apply_seed, load_seed
from reconciler.emulator.server import (
    RunningEmulator,
    serve_forever,
    start_in_process,
    start_in_thread,
)
from reconciler.emulator.store import Store

__all__ = [
    "EmulatorApp",
    "EmulatorConfig",
    "EmulatorError",
    "Faults",
    "RunningEmulator",
    "Seed",
    "SeedError",
    "Store",
    "apply_seed",
    "create_app",
    "load_seed",
    "serve_forever",
    "start_in_process",
    "start_in_thread",
]
