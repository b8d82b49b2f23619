"""Library calls and imports leave the process alone; process-wide choices are the caller's.

Importing the package (the engine, the targets, the emulator's server) configures no logging and
touches no garbage collector; loading specs pauses and freezes the collector, and an apply freezes
its plan, only when the caller asks (the CLI does); the emulator hides its injected drops from
uvicorn's log when it serves.
"""

from __future__ import annotations

import gc
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler import Workspace
from reconciler.emulator import RunningEmulator
from reconciler.spec import load_specs

CONVERSATION = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
SPEC = """conversations:
  3c90c3cc-0d44-4b50-8888-8dd25736052a:
    - {externalId: qa-1, label: Empathy, score: 85}
"""


def test_importing_the_library_configures_nothing() -> None:
    probe = (
        "import gc, logging\n"
        "import reconciler, reconciler.engine, reconciler.remote.targets\n"
        "import reconciler.emulator.server\n"
        "print(len(logging.getLogger('uvicorn.error').filters), gc.get_freeze_count())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["0", "0"]


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """Whatever a test froze is given back to the collector afterwards."""
    yield
    gc.unfreeze()


@pytest.fixture
def specs(tmp_path: Path) -> Path:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "qa.yaml").write_text(SPEC, encoding="utf-8")
    return tmp_path


def test_loading_specs_leaves_the_collector_alone(specs: Path, unfrozen: None) -> None:
    gc.unfreeze()
    state = load_specs([specs / "specs"], root=specs)
    assert state.record_count == 1
    assert gc.get_freeze_count() == 0
    assert gc.isenabled()


def test_the_caller_may_pause_the_collector_for_a_load(specs: Path, unfrozen: None) -> None:
    gc.unfreeze()
    load_specs([specs / "specs"], root=specs, pause_gc=True)
    assert gc.get_freeze_count() > 0  # what the load built is frozen, as the CLI wants
    assert gc.isenabled()  # and the collector runs again


def test_a_serving_emulator_hides_its_injected_drops(emulator: RunningEmulator) -> None:
    names = {type(f).__name__ for f in logging.getLogger("uvicorn.error").filters}
    assert "_HideInjectedDrops" in names


def _plan_stays_tracked_during_writes(
    emulator: RunningEmulator, folder: Path, *, pause_gc: bool
) -> list[bool]:
    """Apply a plan of the spec's one write; during the writes, is the plan's write still seen
    by the cyclic collector (tracked, not frozen)?"""
    emulator.store.add_conversation(CONVERSATION)
    (folder / "reconciler.yaml").write_text("{}", encoding="utf-8")
    environ = {"ZELTO_API_KEY": emulator.zelto_api_key}
    seen: list[bool] = []
    with Workspace.load(folder, api_url=emulator.url, environ=environ, pause_gc=pause_gc) as ws:
        plan = ws.plan()
        change = plan.conversations[0].changes[0]

        def progress(done: int, total: int) -> None:
            seen.append(any(tracked is change for tracked in gc.get_objects()))

        assert ws.apply(plan, progress=progress).ok
    return seen


def test_an_apply_leaves_the_collector_alone(
    specs: Path, emulator: RunningEmulator, unfrozen: None
) -> None:
    gc.unfreeze()
    assert _plan_stays_tracked_during_writes(emulator, specs, pause_gc=False) == [True, True]
    assert gc.get_freeze_count() == 0


def test_the_caller_may_freeze_the_plan_for_an_apply(
    specs: Path, emulator: RunningEmulator, unfrozen: None
) -> None:
    """With pause_gc (the CLI's choice) the plan is frozen before the first write: a full
    collection during the writes no longer scans it (20,000 writes: ~0.2 s each, the event loop
    and the 64 requests in flight stopped meanwhile)."""
    gc.unfreeze()
    assert _plan_stays_tracked_during_writes(emulator, specs, pause_gc=True) == [False, False]
    assert gc.isenabled()
