"""The GitHub Action's script (.github/action/run.sh) run as GitHub would run it.

Real bash, real ``reconciler`` processes, a real git repository, the emulator for Zelto and the
local fake GitHub for the comment; GitHub's runner files (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY,
the event payload) are plain files in a temporary folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.emulator import RunningEmulator
from reconciler.render import PLAN_MARKER
from tests.fakes.github import FakeGitHub, serve

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("bash") is None or shutil.which("git") is None, reason="bash"),
]

SCRIPT = Path(__file__).resolve().parents[2] / ".github" / "action" / "run.sh"
REPO = "acme/estate"
TOKEN = "ghs_action_test_token_42"
AGENT = "a0a0a0a0-0000-4000-8000-00000000000a"
C1 = "11111111-1111-4111-8111-111111111111"
C2 = "22222222-2222-4222-8222-222222222222"
SPEC = """conversations:
  {c1}:
    - {{externalId: qa-1, label: Empathy, score: {score}}}
  {c2}:
    - {{externalId: qa-2, label: Tone, score: 40}}
"""


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub(token=TOKEN)
    fake.add_pull(REPO, 5)
    with serve(fake):
        yield fake


@pytest.fixture
def repo(emulator: RunningEmulator, tmp_path: Path) -> Path:
    store = emulator.store
    store.add_agent(AGENT)
    store.add_conversation(C1, AGENT)
    store.add_conversation(C2, AGENT)
    store.put_metric(C1, label="Empathy", externalId="qa-1", score=80)
    store.put_metric(C2, label="Tone", externalId="qa-2", score=40)
    folder = tmp_path / "estate"
    (folder / "specs").mkdir(parents=True)
    config = {"specs": ["specs"], "ownership": {"externalIdPrefix": "qa-"}}
    (folder / "reconciler.yaml").write_text(json.dumps(config), encoding="utf-8")
    _spec(folder, 80)
    git = ["git", "-C", str(folder), "-c", "user.email=ci@example.com", "-c", "user.name=CI"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "base"], check=True)
    return folder


def _spec(folder: Path, score: int) -> None:
    text = SPEC.format(c1=C1, c2=C2, score=score)
    (folder / "specs" / "qa.yaml").write_text(text, encoding="utf-8")


class Run:
    """One run of the action's script, and what it left in GitHub's runner files."""

    def __init__(self, done: subprocess.CompletedProcess[str], runner: Path) -> None:
        self.code = done.returncode
        self.log = done.stdout + done.stderr
        self.summary = _read(runner / "summary.md")
        lines = _read(runner / "output").splitlines()
        self.outputs = dict(line.split("=", 1) for line in lines if "=" in line)


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""


def _action(
    repo: Path, inputs: dict[str, str], *, zelto: RunningEmulator | None, github: FakeGitHub,
    fork: bool = False,
) -> Run:  # fmt: skip
    runner = repo.parent / "runner"
    runner.mkdir(exist_ok=True)
    for name in ("summary.md", "output"):
        (runner / name).unlink(missing_ok=True)
    event = runner / "event.json"
    # A repository that is itself a fork (fork: true) opening a pull request on itself; a
    # fork's pull request comes from another repository (another id).
    base = {"id": 1, "full_name": REPO, "fork": True}
    head = {"id": 2, "full_name": "someone/fork", "fork": True} if fork else base
    payload = {
        "number": 5,
        "pull_request": {"number": 5, "head": {"repo": head}, "base": {"repo": base}},
    }
    event.write_text(json.dumps(payload), encoding="utf-8")
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(runner),
        "NO_COLOR": "1",
        "RUNNER_TEMP": str(runner),
        "GITHUB_OUTPUT": str(runner / "output"),
        "GITHUB_STEP_SUMMARY": str(runner / "summary.md"),
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_API_URL": github.base_url,
        "GITHUB_TOKEN": "" if fork else TOKEN,
        "ZELTO_API_KEY": zelto.zelto_api_key if zelto else "",
        "ZELTO_API_URL": zelto.url if zelto else "",
        **{f"RECONCILER_{k.upper().replace('-', '_')}": v for k, v in inputs.items()},
    }
    done = subprocess.run(
        ["bash", str(SCRIPT)],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    run = Run(done, runner)
    assert TOKEN not in run.log and TOKEN not in run.summary
    return run


def test_pull_request_plan_comment_is_created_then_updated(
    repo: Path, emulator: RunningEmulator, github: FakeGitHub
) -> None:
    inputs = {"command": "plan", "changed-since": "HEAD", "comment": "true"}
    _spec(repo, 85)
    first = _action(repo, inputs, zelto=emulator, github=github)
    assert first.code == 0, first.log
    assert first.outputs["has-changes"] == "true"
    assert Path(first.outputs["plan-json"]).is_file()
    assert "created comment" in first.log
    assert PLAN_MARKER in first.summary
    _spec(repo, 90)
    second = _action(repo, inputs, zelto=emulator, github=github)
    assert second.code == 0, second.log
    assert "updated comment" in second.log
    (comment,) = github.comments(REPO, 5)
    assert comment["body"].startswith(PLAN_MARKER)
    assert "90" in comment["body"]


def test_fork_pull_request_plans_offline_without_secrets(repo: Path, github: FakeGitHub) -> None:
    _spec(repo, 85)
    inputs = {"command": "plan", "changed-since": "HEAD", "offline": "true", "comment": "true"}
    run = _action(repo, inputs, zelto=None, github=github, fork=True)
    assert run.code == 0, run.log
    assert "from a fork" in run.log
    assert "offline" in run.summary.lower()
    assert github.comments(REPO, 5) == []


def test_drift_check_fails_loudly(
    repo: Path, emulator: RunningEmulator, github: FakeGitHub
) -> None:
    emulator.store.put_metric(C2, label="Tone", externalId="qa-2", score=1)  # edited in the app
    run = _action(repo, {"command": "drift"}, zelto=emulator, github=github)
    assert run.code == 1
    assert "::error title=Drift detected::" in run.log
    assert run.outputs["has-changes"] == "true"


def test_unknown_command_is_a_clear_error(repo: Path, github: FakeGitHub) -> None:
    run = _action(repo, {"command": "destroy"}, zelto=None, github=github)
    assert run.code == 1
    assert "must be one of validate, plan, merge, apply, drift" in run.log


def test_sharded_recipe_plan_merge_then_apply_saved_shards(
    repo: Path, emulator: RunningEmulator, github: FakeGitHub
) -> None:
    _spec(repo, 85)
    shards = repo.parent / "shards"
    for index in (1, 2):
        run = _action(
            repo, {"command": "plan", "shard": f"{index}/2"}, zelto=emulator, github=github
        )
        assert run.code == 0, run.log
        assert run.outputs["plan-json"].endswith(f"reconciler-shard-{index}-of-2/plan.json")
        (shards / str(index)).mkdir(parents=True)
        shutil.copy(run.outputs["plan-json"], shards / str(index) / "plan.json")
    merged = _action(
        repo, {"command": "merge", "plan-files": f"{shards}/*/plan.json"}, zelto=None, github=github
    )
    assert merged.code == 0, merged.log
    assert merged.outputs["has-changes"] == "true"
    assert "1 to update" in merged.summary
    for index in (1, 2):
        plan_file = str(shards / str(index) / "plan.json")
        applied = _action(
            repo, {"command": "apply", "plan-file": plan_file}, zelto=emulator, github=github
        )
        assert applied.code == 0, applied.log
        assert "reconciler apply: exit 0" in applied.summary
    drift = _action(repo, {"command": "drift"}, zelto=emulator, github=github)
    assert drift.code == 0, drift.log
    assert drift.outputs["has-changes"] == "false"
