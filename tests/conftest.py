"""Shared fixtures: a real emulator on 127.0.0.1 (ephemeral port) per test, no mocks.

``emulator``: a fresh in-memory emulator with no faults, strict, stopped after the test.
``emulator_factory``: ``emulator_factory(seed=..., faults=Faults(...), ...)`` takes EmulatorConfig
keyword arguments and starts one more; every emulator it started is stopped at teardown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from reconciler.emulator import EmulatorConfig, RunningEmulator, start_in_thread

EmulatorFactory = Callable[..., RunningEmulator]


@pytest.fixture(autouse=True, scope="session")
def _private_cache_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The spec cache's per-user secret goes to a test folder, never the real ~/.cache; the
    suite's own CI key or pull-request event (a fork's run turns the cache off) does not reach
    the tests, which set their own."""
    patch = pytest.MonkeyPatch()
    patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
    for name in ("RECONCILER_CACHE_KEY", "GITHUB_EVENT_NAME", "CI_MERGE_REQUEST_SOURCE_PROJECT_ID"):
        patch.delenv(name, raising=False)
    yield
    patch.undo()


@pytest.fixture
def emulator_factory() -> Iterator[EmulatorFactory]:
    started: list[RunningEmulator] = []

    def start(**config: Any) -> RunningEmulator:
        # Strict by default: tests must catch a client that sends what the vendors' pages do not
        # document (unknown or null fields, lengths a JavaScript server counts differently).
        running = start_in_thread(EmulatorConfig(**{"strict": True, **config}))
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


@pytest.fixture
def emulator(emulator_factory: EmulatorFactory) -> RunningEmulator:
    return emulator_factory()
