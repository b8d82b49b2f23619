"""A conversation removed from the specs is still read: git's history of the spec paths says it
was managed, and what it left in Zelto shows as orphans. Real ``git``, the real emulator."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import main
from reconciler.emulator import RunningEmulator

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

C1 = "11111111-1111-4111-8111-111111111111"
C2 = "22222222-2222-4222-8222-222222222222"
CONFIG = "specs: [specs]\nownership:\n  externalIdPrefix: qa-\n"
CATALOG = "labels:\n  Empathy: {kind: score}\n"


def _specs(*conversations: tuple[str, str, int]) -> str:
    lines = ["conversations:"]
    for cid, external_id, score in conversations:
        lines += [
            f"  {cid}:",
            f"    - {{externalId: {external_id}, label: Empathy, score: {score}}}",
        ]
    return "\n".join(lines) + "\n"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def _commit(repo: Path, team: str, message: str) -> None:
    (repo / "specs" / "team.yaml").write_text(team, encoding="utf-8")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message)


class _Project:
    def __init__(self, repo: Path, emulator: RunningEmulator) -> None:
        self.repo = repo
        self.emulator = emulator

    def run(self, *args: str) -> Result:
        env = {"ZELTO_API_KEY": self.emulator.zelto_api_key, "ZELTO_API_URL": "", "NO_COLOR": "1"}
        config = ["--config", str(self.repo / "reconciler.yaml"), "--api-url", self.emulator.url]
        return CliRunner(env=env).invoke(main, [*args, *config], catch_exceptions=False)

    def plan(self, *args: str) -> dict[str, Any]:
        result = self.run("plan", "--format", "json", *args)
        assert result.exit_code == 0, result.output
        plan: dict[str, Any] = json.loads(result.stdout)
        return plan


@pytest.fixture
def project(tmp_path: Path, emulator: RunningEmulator) -> _Project:
    """C1 and C2 were declared and applied; then a commit removed C2 from the specs."""
    repo = tmp_path / "estate"
    (repo / "specs").mkdir(parents=True)
    (repo / "reconciler.yaml").write_text(CONFIG, encoding="utf-8")
    (repo / "specs" / "catalog.yaml").write_text(CATALOG, encoding="utf-8")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "ci@example.com")
    _git(repo, "config", "user.name", "CI")
    _git(repo, "config", "commit.gpgsign", "false")
    for cid in (C1, C2):
        emulator.store.add_conversation(cid)
    project = _Project(repo, emulator)
    _commit(repo, _specs((C1, "qa-1", 80), (C2, "qa-2", 60)), "both")
    assert project.run("apply", "--auto-approve").exit_code == 0
    _commit(repo, _specs((C1, "qa-1", 80)), "C2 is no longer managed here")
    return project


def _orphans(plan: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (conversation["id"], change["externalId"])
        for conversation in plan["conversations"]
        for change in conversation["changes"]
        if change["action"] == "orphan"
    ]


def test_a_removed_conversation_is_read_and_its_records_are_orphans(project: _Project) -> None:
    result = project.run("plan", "--format", "json")
    assert result.exit_code == 0, result.output
    assert _orphans(json.loads(result.stdout)) == [(C2, "qa-2")]
    assert "1 conversation that earlier commits declared" in result.stderr
    cache = project.repo / ".reconciler" / "cache" / "history-v1.jsonl"
    assert C2 in cache.read_text(encoding="utf-8")  # each version is parsed once, then cached
    assert _orphans(project.plan()) == [(C2, "qa-2")]


def test_a_planted_history_line_adds_no_conversation_to_read(project: _Project) -> None:
    """The history cache says which conversations a full plan reads besides the declared ones;
    a line someone else wrote (a restored CI cache, a committed file) must not add one. Each
    line is authenticated like the spec cache's: an edited payload or a made-up digest is a miss,
    and the blob is parsed from git again."""
    c3 = "33333333-3333-4333-8333-333333333333"
    project.emulator.store.add_conversation(c3)
    project.plan()
    cache = project.repo / ".reconciler" / "cache" / "history-v1.jsonl"
    lines = cache.read_text(encoding="utf-8").splitlines()
    planted = [line.replace(f'"{C2}"]', f'"{C2}","{c3}"]') for line in lines]
    planted.append("0" * 40 + "\t" + "f" * 32 + f'\t["{c3}"]')
    cache.write_text("\n".join(planted) + "\n", encoding="utf-8")
    assert planted != lines
    read = {conversation["id"] for conversation in project.plan()["conversations"]}
    assert read == {C1, C2}


def test_history_is_bounded_by_a_number_of_commits(project: _Project) -> None:
    _commit(project.repo, _specs((C1, "qa-1", 81)), "tune C1")
    assert _orphans(project.plan("--history-commits", "2")) == [(C2, "qa-2")]
    assert _orphans(project.plan("--history-commits", "1")) == []  # the removal is older
    assert _orphans(project.plan("--history-commits", "0")) == []


def test_paths_choose_conversations_and_read_no_history(project: _Project) -> None:
    assert _orphans(project.plan(str(project.repo / "specs" / "team.yaml"))) == []
