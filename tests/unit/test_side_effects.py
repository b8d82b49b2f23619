"""Library calls and imports leave the process alone; process-wide choices are the caller's.

Importing the package (the engine, the targets, the emulator's server) configures no logging and
touches no garbage collector; loading specs pauses and freezes the collector only when the caller
asks (the CLI does); the emulator hides its injected drops from uvicorn's log when it serves.
"""

from __future__ import annotations

import gc
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.emulator import RunningEmulator
from reconciler.spec import load_specs

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
