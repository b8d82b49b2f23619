"""``plan --changed-since / --offline / --shard`` and ``plan-merge`` end to end.

A real git repository in a temporary folder, the CLI as a user runs it, and the emulator on
127.0.0.1 standing in for Zelto (holding what the base commit declared, as if it was applied).
"""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import main
from reconciler.emulator import RunningEmulator
from reconciler.plan.shard import shard_of

AGENT = "a0a0a0a0-0000-4000-8000-00000000000a"
C1 = "11111111-1111-4111-8111-111111111111"  # note changes
C2 = "22222222-2222-4222-8222-222222222222"  # untouched
C3 = "33333333-3333-4333-8333-333333333333"  # dropped from the specs
C4 = "44444444-4444-4444-8444-444444444444"  # untouched, other file
C5 = "55555555-5555-4555-8555-555555555555"  # new in the working tree
LIST = "/v1/conversations/{id}/customer-metrics"
SECRETS = ("patient said: ssn 078-05-1120", "new private remark")

A_BASE = f"""conversations:
  {C1}:
    - {{externalId: qa-1, label: Empathy, score: 80, note: "{SECRETS[0]}"}}
  {C2}:
    - {{externalId: qa-2, label: Empathy, score: 60}}
  {C3}:
    - {{externalId: qa-3, label: Tone, score: 50}}
"""
B_BASE = f"""conversations:
  {C4}:
    - {{externalId: qa-4, label: Tone, score: 40}}
"""
A_NEW = f"""conversations:
  {C1}:
    - {{externalId: qa-1, label: Empathy, score: 80, note: "{SECRETS[1]}"}}
  {C2}:
    - {{externalId: qa-2, label: Empathy, score: 60}}
  {C5}:
    - {{externalId: qa-5, label: Tone, score: 90}}
"""


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=True)


@pytest.fixture
def repo(emulator: RunningEmulator, tmp_path: Path) -> Path:
    store = emulator.store
    store.add_agent(AGENT)
    for conversation in (C1, C2, C3, C4, C5):
        store.add_conversation(conversation, AGENT)
    store.put_metric(C1, label="Empathy", externalId="qa-1", score=80, note=SECRETS[0])
    store.put_metric(C2, label="Empathy", externalId="qa-2", score=60)
    store.put_metric(C3, label="Tone", externalId="qa-3", score=50)
    store.put_metric(C4, label="Tone", externalId="qa-4", score=40)
    config = {
        "specs": ["specs"],
        "ownership": {"externalIdPrefix": "qa-"},
        "sensitive": ["note"],
        "defaultTarget": "production",
        "targets": {"production": {"url": "https://api.zelto.invalid"}},
    }
    (tmp_path / "reconciler.yaml").write_text(json.dumps(config), encoding="utf-8")
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "a.yaml").write_text(A_BASE, encoding="utf-8")
    (tmp_path / "specs" / "b.yaml").write_text(B_BASE, encoding="utf-8")
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "-c", "user.email=ci@example.com", "-c", "user.name=CI", "add", "-A")
    _git(tmp_path, "-c", "user.email=ci@example.com", "-c", "user.name=CI", "commit", "-qm", "b")
    _git(tmp_path, "tag", "base")
    (tmp_path / "specs" / "a.yaml").write_text(A_NEW, encoding="utf-8")
    return tmp_path


def _run(repo: Path, args: list[str], env: dict[str, str]) -> Result:
    config = ["--config", str(repo / "reconciler.yaml")] if args[0] != "plan-merge" else []
    argv = [args[0], *config, *args[1:]]
    result = CliRunner(env={"NO_COLOR": "1", **env}).invoke(main, argv)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


def _online(emulator: RunningEmulator) -> dict[str, str]:
    return {"ZELTO_API_KEY": emulator.zelto_api_key, "ZELTO_API_URL": emulator.url}


def _plan_json(repo: Path, emulator: RunningEmulator, *args: str) -> dict[str, Any]:
    result = _run(repo, ["plan", "--format", "json", *args], _online(emulator))
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_changed_since_reads_only_the_touched_conversations(
    repo: Path, emulator: RunningEmulator
) -> None:
    emulator.reset_request_counts()
    data = _plan_json(repo, emulator, "--changed-since", "base")
    assert [c["id"] for c in data["conversations"]] == [C1, C3, C5]
    assert emulator.request_counts()[("GET", LIST)] == 3
    assert data["scope"] == "changed since base"
    by_id = {c["id"]: c["changes"] for c in data["conversations"]}
    assert [c["action"] for c in by_id[C1]] == ["update"]
    assert [c["action"] for c in by_id[C5]] == ["create"]
    (removed,) = by_id[C3]
    assert removed["action"] == "orphan"
    assert "removed from specs since base" in removed["message"]
    assert "no DELETE" in removed["message"]
    assert removed["source"] == "base:specs/a.yaml:7:7"


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("an offline plan opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    yield


def test_offline_plan_needs_no_token_and_no_network(repo: Path, no_network: None) -> None:
    result = _run(repo, ["plan", "--offline", "--changed-since", "base"], {"ZELTO_API_KEY": ""})
    assert result.exit_code == 0, result.output
    assert "offline: not checked against Zelto" in result.stdout
    assert "removed from specs since base" in result.stdout
    assert "1 to create, 1 to update" in result.stdout


def test_offline_without_changed_since_is_a_clear_error(repo: Path) -> None:
    result = _run(repo, ["plan", "--offline"], {})
    assert result.exit_code == 1
    assert "--offline needs --changed-since REF" in result.output


def test_unknown_ref_is_a_clear_error(repo: Path, emulator: RunningEmulator) -> None:
    result = _run(repo, ["plan", "--changed-since", "origin/nope"], _online(emulator))
    assert result.exit_code == 1
    assert "unknown git ref 'origin/nope'" in result.output


@pytest.mark.parametrize("shard", ["0/3", "4/3", "three"])
def test_bad_shard_is_a_usage_error(repo: Path, shard: str) -> None:
    result = _run(repo, ["plan", "--shard", shard], {})
    assert result.exit_code == 1  # plan's usage errors: 2 would read as "changes to apply"
    assert "--shard" in result.output


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
@pytest.mark.parametrize("offline", [False, True], ids=["online", "offline"])
def test_sensitive_values_never_appear_in_previews(
    repo: Path, emulator: RunningEmulator, fmt: str, offline: bool
) -> None:
    args = ["plan", "--format", fmt, "--changed-since", "base", "--out", str(repo / "p.json")]
    result = _run(repo, [*args, "--offline"] if offline else args, _online(emulator))
    assert result.exit_code == 0, result.output
    saved = (repo / "p.json").read_text(encoding="utf-8")
    for secret in SECRETS:
        assert secret not in result.output
        assert secret not in saved
    assert "note" in result.stdout  # that the note changes is still shown


def test_merged_shard_plans_equal_the_unsharded_plan(repo: Path, emulator: RunningEmulator) -> None:
    whole = _plan_json(repo, emulator)
    files = []
    for index in (1, 2, 3):
        out = repo / f"plan-{index}.json"
        _plan_json(repo, emulator, "--shard", f"{index}/3", "--out", str(out))
        files.append(str(out))
    merged = _run(repo, ["plan-merge", *files, "--format", "json"], {})
    assert merged.exit_code == 0, merged.output
    assert json.loads(merged.stdout) == whole
    # C3 was removed from the specs after the base commit: the history still reads it, and its
    # record left in Zelto is an orphan (docs/plan.md, "Conversations removed from the specs").
    assert [c["id"] for c in whole["conversations"]] == [C1, C2, C3, C4, C5]
    [c3] = [c for c in whole["conversations"] if c["id"] == C3]
    assert [(ch["action"], ch["externalId"]) for ch in c3["changes"]] == [("orphan", "qa-3")]


def test_apply_shard_by_shard_converges(repo: Path, emulator: RunningEmulator) -> None:
    env = _online(emulator)
    first = _run(repo, ["apply", "--shard", "1/2", "--auto-approve"], env)
    assert first.exit_code == 0, first.output
    written = {conversation for conversation, _ in emulator.store.accepted_writes()}
    assert written == {c for c in (C1, C5) if shard_of(c, 2) == 1}
    second = _run(repo, ["apply", "--shard", "2/2", "--auto-approve"], env)
    assert second.exit_code == 0, second.output
    final = _run(repo, ["plan", "--detailed-exitcode"], env)
    assert final.exit_code == 0, final.output


def test_apply_shard_with_a_saved_plan_is_refused(repo: Path) -> None:
    (repo / "p.json").write_text("{}", encoding="utf-8")
    args = ["apply", "--plan", str(repo / "p.json"), "--shard", "1/2", "--auto-approve"]
    result = _run(repo, args, {})
    assert result.exit_code == 1
    assert "--shard plans one shard" in result.output
