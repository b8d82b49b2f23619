"""The pre-commit hook, run by the real ``pre-commit try-repo`` in a throw-away repository.

The defect it guards: nothing git-ignored ``.reconciler/``, so ``git add -A`` committed the spec
cache; the hook's next ``validate`` rewrote it, and pre-commit failed the commit with "files were
modified by this hook". pre-commit builds the hook's own virtualenv and pip-installs this
repository into it (the machine's pip configuration, with its package index, applies), which takes
a while: hence ``slow``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )


@pytest.fixture
def specs_repo(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A user's specs repository after a first run of the tool, with everything added."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(REPO / "reconciler.yaml", project / "reconciler.yaml")
    shutil.copytree(REPO / "specs", project / "specs")
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    for cmd in (["git", "init", "-q", "-b", "main"], [str(BIN / "reconciler"), "validate"]):
        assert _run(cmd, project, env).returncode == 0
    assert _run(["git", "add", "-A"], project, env).returncode == 0
    assert _run(["git", "commit", "-qm", "specs"], project, env).returncode == 0
    return project, env


def test_the_state_folder_is_never_committed(specs_repo: tuple[Path, dict[str, str]]) -> None:
    project, env = specs_repo
    assert (project / ".reconciler" / "cache").is_dir()
    assert _run(["git", "ls-files", ".reconciler"], project, env).stdout == ""


@pytest.mark.slow
def test_the_hook_passes_on_the_next_commit(specs_repo: tuple[Path, dict[str, str]]) -> None:
    project, env = specs_repo
    spec = next((project / "specs").rglob("*.yaml"))
    spec.write_text(spec.read_text(encoding="utf-8") + "# reviewed\n", encoding="utf-8")
    assert _run(["git", "add", "-A"], project, env).returncode == 0

    hook = _run(["pre-commit", "try-repo", str(REPO), "reconciler-validate"], project, env)

    assert hook.returncode == 0, hook.stdout + hook.stderr
    assert "reconciler validate" in hook.stdout and "Passed" in hook.stdout
    assert "files were modified by this hook" not in hook.stdout
