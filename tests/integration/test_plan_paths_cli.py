"""PATH arguments choose which conversations to plan, never which specs exist.

The catalog usually lives in a file of its own and a conversation's records may be spread over
several files. Planning one file must still apply the catalog and see the conversation's other
records, or it would clear catalog metricIds and report the other records as orphans, and apply
would write exactly that.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import main
from reconciler.emulator import RunningEmulator

X = "3c90c3cc-0d44-4b50-8888-8dd25736052a"  # in team-a.yaml and team-b.yaml
Y = "7f1b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d"  # only in team-b.yaml
AGENT = "a0a0a0a0-0000-4000-8000-00000000000a"
METRIC = "0b6a1c1e-5f7d-4c1a-9b1e-2f4d8c9e7a10"

FILES = {
    "catalog.yaml": f"labels:\n  Compliance: {{metricId: {METRIC}}}\n  Empathy: {{}}\n",
    "team-a.yaml": (
        f"conversations:\n  {X}:\n    - {{externalId: qa-1, label: Compliance, verdict: pass}}\n"
    ),
    "team-b.yaml": (
        f"conversations:\n  {X}:\n    - {{externalId: qa-2, label: Empathy, score: 80}}\n"
        f"  {Y}:\n    - {{externalId: qa-3, label: Empathy, score: 50}}\n"
    ),
}


@pytest.fixture
def project(emulator: RunningEmulator, tmp_path: Path) -> Path:
    store = emulator.store
    store.add_agent(AGENT, metric_ids=[METRIC])
    for conversation in (X, Y):
        store.add_conversation(conversation, AGENT)
    store.put_metric(X, label="Compliance", externalId="qa-1", verdict="pass", metricId=METRIC)
    store.put_metric(X, label="Empathy", externalId="qa-2", score=80)
    store.put_metric(Y, label="Empathy", externalId="qa-3", score=50)
    (tmp_path / "specs").mkdir()
    for name, text in FILES.items():
        (tmp_path / "specs" / name).write_text(text, encoding="utf-8")
    config = {"specs": ["specs"], "ownership": {"externalIdPrefix": "qa-"}}
    (tmp_path / "reconciler.yaml").write_text(json.dumps(config), encoding="utf-8")
    return tmp_path


def _plan(project: Path, emulator: RunningEmulator, *paths: str) -> tuple[Result, dict[str, Any]]:
    env = {"ZELTO_API_KEY": emulator.zelto_api_key, "ZELTO_API_URL": "", "NO_COLOR": "1"}
    argv = ["plan", "--config", str(project / "reconciler.yaml"), "--api-url", emulator.url]
    argv += ["--format", "json", "--detailed-exitcode", *(str(project / p) for p in paths)]
    result = CliRunner(env=env).invoke(main, argv, catch_exceptions=False)
    return result, json.loads(result.stdout)


def test_one_file_plans_its_conversations_with_the_catalog_and_their_other_records(
    project: Path, emulator: RunningEmulator
) -> None:
    result, data = _plan(project, emulator, "specs/team-a.yaml")
    assert result.exit_code == 0, result.output  # nothing to do: no metricId cleared, no orphan
    assert [c["id"] for c in data["conversations"]] == [X]  # Y is not named by team-a.yaml
    assert data["summary"]["noop"] == 2 and data["summary"]["orphan"] == 0


def test_a_change_in_the_named_file_is_planned_alone(
    project: Path, emulator: RunningEmulator
) -> None:
    (project / "specs" / "team-a.yaml").write_text(
        FILES["team-a.yaml"].replace("verdict: pass", "verdict: fail"), encoding="utf-8"
    )
    result, data = _plan(project, emulator, "specs/team-a.yaml")
    assert result.exit_code == 2, result.output
    (conversation,) = data["conversations"]
    (change,) = conversation["changes"]
    assert change["action"] == "update"
    assert change["diff"] == [{"field": "verdict", "before": "pass", "after": "fail"}]
    assert change["after"]["metricId"] == METRIC  # the catalog's, kept


def test_a_broken_named_file_is_still_reported(project: Path, emulator: RunningEmulator) -> None:
    (project / "specs" / "team-a.yaml").write_text(
        FILES["team-a.yaml"].replace("verdict: pass", "verdict: maybe"), encoding="utf-8"
    )
    env = {"ZELTO_API_KEY": emulator.zelto_api_key, "ZELTO_API_URL": "", "NO_COLOR": "1"}
    argv = ["plan", "--config", str(project / "reconciler.yaml"), "--api-url", emulator.url]
    result = CliRunner(env=env).invoke(main, [*argv, str(project / "specs/team-a.yaml")])
    assert result.exit_code == 1
    assert (
        "specs/team-a.yaml:3:54: " in result.stderr
        and "verdict must be pass or fail" in result.stderr
    )


@pytest.mark.parametrize("command", ["plan", "apply", "validate"])
def test_a_missing_path_is_named_as_typed_by_every_command(
    project: Path, emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """plan and apply once named it by its absolute path, validate as typed."""
    monkeypatch.chdir(project)
    env = {"ZELTO_API_KEY": emulator.zelto_api_key, "ZELTO_API_URL": emulator.url}
    extra = ["--auto-approve"] if command == "apply" else []
    result = CliRunner(env=env).invoke(main, [command, "specs/nope.yaml", *extra])
    assert result.exit_code == 1
    assert "specs/nope.yaml: no such file or folder" in result.output
    assert str(project) not in result.output
