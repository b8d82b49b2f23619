"""Fixtures of the agent's integration tests (the helpers are in agent_support.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.emulator import RunningEmulator
from tests.integration.agent_support import CONV_A, GitRemote


@pytest.fixture
def git_remote(tmp_path: Path) -> GitRemote:
    """A bare repository on disk and a clone that pushes commits to it."""
    return GitRemote(tmp_path)


@pytest.fixture
def agent_zelto(emulator: RunningEmulator) -> RunningEmulator:
    """The emulator, knowing the conversation the agent tests declare records on."""
    emulator.store.add_conversation(CONV_A)
    return emulator
