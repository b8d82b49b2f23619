"""What a first-time user types before reading anything: a bare group and ``--version``.

Both run as real processes (the installed package, ``python -m reconciler``) because what they
print and their exit codes are the whole point, and ``--version`` reads the package's metadata.
"""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

import pytest

REPO_VERSION = version("reconciler")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "group", [[], ["import"], ["emulator"]], ids=["root", "import", "emulator"]
)
def test_a_bare_group_prints_its_help_and_exits_0(group: list[str]) -> None:
    result = _run(*group)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: reconciler")
    assert "Commands:" in result.stdout
    assert "Error" not in result.stdout + result.stderr


def test_an_unknown_command_is_still_a_usage_error() -> None:
    result = _run("import", "bogus")
    assert result.returncode == 1
    assert "No such command 'bogus'" in result.stderr


@pytest.mark.parametrize("spelling", [["--version"], ["version"]])
def test_version_prints_the_package_metadata_version(spelling: list[str]) -> None:
    result = _run(*spelling)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"reconciler {REPO_VERSION}\n"
