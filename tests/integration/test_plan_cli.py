"""``reconciler plan`` end to end: the CLI against the emulator over real HTTP on 127.0.0.1.

Each scenario sets up Zelto's side through the emulator's store, runs the command as a user
would, and checks stdout (the plan only), stderr (messages) and the exit code.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import main
from reconciler.emulator import Faults, RunningEmulator
from reconciler.emulator.contract import DEFAULT_ORGANIZATION_ID

A = "3c90c3cc-0d44-4b50-8888-8dd25736052a"  # every action of the table
B = "5d2f1a60-3b7e-4c1d-9a2b-6e8f0c4d7a19"  # no records yet: per-agent metric via its agent
C = "6e3a2b71-4c8f-4d2e-8b3c-7f9a1d5e8b20"  # unchanged, with an agent the catalog lacks
MISSING = "7f4b3c82-5d9a-4e3f-9c4d-8a0b2e6f9c31"  # not in Zelto: 404
AGENT = "a0a0a0a0-0000-4000-8000-00000000000a"
AGENT_C = "c0c0c0c0-0000-4000-8000-00000000000c"
METRIC = "0b6a1c1e-5f7d-4c1a-9b1e-2f4d8c9e7a10"
LIST = "/v1/conversations/{id}/customer-metrics"
GET_CONVERSATION = "/v1/conversations/{id}"

SPECS = f"""
labels:
  Compliance Check: {{metricId: {{{AGENT}: {METRIC}}}}}
  Empathy: {{}}
  Renamed: {{}}
  Taken: {{}}
  Contested: {{}}
  Same: {{}}
conversations:
  {A}:
    - {{externalId: qa-empathy, label: Empathy, score: 85}}
    - {{externalId: qa-moved, label: Renamed, verdict: fail}}
    - {{externalId: qa-adopt, label: Taken, verdict: pass, adopt: true}}
    - {{externalId: qa-conflict, label: Contested, verdict: pass}}
    - {{externalId: qa-same, label: Same, verdict: pass, note: "kept\\n"}}
  {B}:
    - {{externalId: qa-b, label: Compliance Check, verdict: pass}}
  {C}:
    - {{externalId: qa-c, label: Compliance Check, verdict: pass}}
"""


@pytest.fixture
def zelto(emulator: RunningEmulator) -> RunningEmulator:
    store = emulator.store
    store.add_agent(AGENT, metric_ids=[METRIC])
    store.add_agent(AGENT_C)
    store.add_conversation(A, AGENT)
    store.add_conversation(B, AGENT)
    store.add_conversation(C, AGENT_C)
    store.put_metric(A, label="Empathy", externalId="qa-empathy", score=80, note="to clear")
    store.put_metric(A, label="Old name", externalId="qa-moved", verdict="fail")
    store.put_metric(A, label="Taken", externalId="hand-made", verdict="fail")
    store.put_metric(A, label="Contested", verdict="fail")
    store.put_metric(A, label="Same", externalId="qa-same", verdict="pass", note="kept\n")
    store.put_metric(A, label="Retired", externalId="qa-retired", score=10)
    store.put_metric(A, label="Theirs", externalId="theirs", verdict="pass")
    store.put_metric(C, label="Compliance Check", externalId="qa-c", verdict="pass")
    return emulator


class Project:
    """A temporary repository with reconciler.yaml and specs, and the CLI pointed at it."""

    def __init__(self, folder: Path, emulator: RunningEmulator, specs: str = SPECS) -> None:
        self.folder = folder
        self.emulator = emulator
        self.config = folder / "reconciler.yaml"
        folder.mkdir(parents=True, exist_ok=True)
        self.configure()
        (folder / "specs").mkdir()
        (folder / "specs" / "qa.yaml").write_text(specs, encoding="utf-8")
        self.target = urlsplit(emulator.url).netloc
        self.env = {"ZELTO_API_KEY": emulator.zelto_api_key, "ZELTO_API_URL": "", "NO_COLOR": "1"}

    def configure(self, **plan: Any) -> None:
        settings = {"maxAttempts": 1, **plan}
        config = {"specs": ["specs"], "ownership": {"externalIdPrefix": "qa-"}, "plan": settings}
        self.config.write_text(json.dumps(config), encoding="utf-8")

    def plan(self, *args: str, api_url: str | None = None) -> Result:
        runner = CliRunner(env=self.env)
        argv = ["plan", "--config", str(self.config), "--api-url", api_url or self.emulator.url]
        return runner.invoke(main, [*argv, *args], catch_exceptions=False)

    def plan_json(self, *args: str) -> tuple[Result, dict[str, Any]]:
        result = self.plan("--format", "json", *args)
        return result, json.loads(result.stdout)


@pytest.fixture
def project(zelto: RunningEmulator, tmp_path: Path) -> Project:
    return Project(tmp_path, zelto)


def _changes(data: dict[str, Any], cid: str) -> dict[str, dict[str, Any]]:
    conversation = next(c for c in data["conversations"] if c["id"] == cid)
    return {f"{c['action']} {c['label']}": c for c in conversation["changes"]}


def test_every_action_of_the_table_field_by_field(project: Project) -> None:
    result, data = project.plan_json("--verbose")
    assert result.exit_code == 1, result.output  # the conflict and the error fail the plan
    assert data["target"] == project.target and data["formatVersion"] == 1
    assert data["summary"] == {
        "create": 1, "update": 1, "relabel": 1, "adopt": 1, "conflict": 1,
        "noop": 1, "orphan": 2, "unmanaged": 1, "error": 1,
    }  # fmt: skip
    a = _changes(data, A)
    assert set(a) == {
        "update Empathy", "relabel Renamed", "orphan Old name", "adopt Taken",
        "conflict Contested", "orphan Retired", "unmanaged Theirs",
    }  # fmt: skip
    update = a["update Empathy"]
    assert update["diff"] == [
        {"field": "score", "before": 80, "after": 85},
        {"field": "note", "before": "to clear", "after": None},
    ]
    assert update["source"] == "specs/qa.yaml:11:7" and update["externalId"] == "qa-empathy"
    assert update["after"] == {
        "label": "Empathy", "externalId": "qa-empathy", "verdict": None, "score": 85,
        "note": None, "metricId": None,
    }  # fmt: skip
    relabel = a["relabel Renamed"]
    assert relabel["before"]["label"] == "Old name" and relabel["remoteId"] is None
    assert "left behind" in a["orphan Old name"]["message"]
    assert a["adopt Taken"]["diff"] == [
        {"field": "verdict", "before": "fail", "after": "pass"},
        {"field": "externalId", "before": "hand-made", "after": "qa-adopt"},
    ]
    conflict = a["conflict Contested"]
    assert conflict["before"]["externalId"] is None and "--adopt" in conflict["message"]
    assert "prefix 'qa-'" in a["orphan Retired"]["message"]
    assert a["unmanaged Theirs"]["before"]["externalId"] == "theirs"
    b = _changes(data, B)
    assert b["create Compliance Check"]["after"]["metricId"] == METRIC
    c = next(x for x in data["conversations"] if x["id"] == C)
    assert c["noop"] == 0 and c["changes"][0]["action"] == "error"
    assert AGENT_C in c["changes"][0]["message"]
    assert f"conversation {C} (target {project.target}), label 'Compliance Check'" in result.stderr


def test_one_list_per_conversation_and_the_agent_only_where_needed(project: Project) -> None:
    project.emulator.reset_request_counts()
    project.plan()
    counts = project.emulator.request_counts()
    assert counts[("GET", LIST)] == 3
    assert counts.get(("GET", GET_CONVERSATION)) == 1  # B: no records and a per-agent catalog
    assert not [key for key in counts if key[0] != "GET"]


def test_text_output_and_unmanaged_only_with_verbose(project: Project) -> None:
    result = project.plan()
    assert "  ~ update Empathy [qa-empathy]  (specs/qa.yaml:11:7)" in result.stdout
    assert 'note: "to clear" → (cleared)' in result.stdout
    assert ". unmanaged" not in result.stdout
    assert "! conflict Contested" in result.stdout
    assert f"Plan for target {project.target}: 1 to create, 1 to update" in result.stdout
    assert ". unmanaged Theirs" in project.plan("--verbose").stdout


def test_markdown_output(project: Project) -> None:
    result = project.plan("--format", "markdown")
    assert result.stdout.startswith("<!-- reconciler:plan -->\n### reconciler plan for target")
    assert "<details open>" in result.stdout


def test_saved_plan_is_json_whatever_is_printed_and_has_no_credential(project: Project) -> None:
    out = project.folder / "plans" / "plan.json"
    out.parent.mkdir()
    result = project.plan("--format", "markdown", "--out", str(out))
    saved = out.read_text(encoding="utf-8")
    assert json.loads(saved)["conversations"][0]["id"] == A
    assert project.emulator.zelto_api_key not in saved
    assert project.emulator.zelto_api_key not in result.output
    assert f"saved the plan to {out}" in result.stderr
    assert list(out.parent.iterdir()) == [out], "no temporary file is left behind"
    _, printed = project.plan_json()
    assert printed == json.loads(saved)


def test_detailed_exit_codes(project: Project, zelto: RunningEmulator, tmp_path: Path) -> None:
    assert project.plan("--detailed-exitcode").exit_code == 1  # conflict + error
    changes = f"conversations:\n  {A}:\n    - {{externalId: qa-new, label: New, score: 1}}\n"
    changed = Project(tmp_path / "changes", zelto, changes)
    assert changed.plan().exit_code == 0
    assert changed.plan("--detailed-exitcode").exit_code == 2
    same = f"conversations:\n  {C}:\n"
    same += "    - {externalId: qa-c, label: Compliance Check, verdict: pass}"
    same += "\n"
    unchanged = Project(tmp_path / "same", zelto, same)
    assert unchanged.plan("--detailed-exitcode").exit_code == 0
    assert "Nothing to apply" in unchanged.plan().stdout


def test_adopt_flag_turns_every_conflict_into_an_adoption(project: Project) -> None:
    _, data = project.plan_json("--adopt")
    assert data["summary"]["conflict"] == 0 and data["summary"]["adopt"] == 2


def _located_read_error(result: Result, cid: str, target: str, needle: str) -> None:
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    line = next((x for x in lines if cid in x), None)
    assert line is not None, result.stderr
    assert f"(target {target})" in line and needle in line, line


def test_unknown_conversation_404_is_located_and_the_rest_is_planned(
    project: Project, tmp_path: Path
) -> None:
    extra = f"  {MISSING}:\n    - {{externalId: qa-x, label: Empathy, score: 1}}\n"
    (project.folder / "specs" / "qa.yaml").write_text(SPECS + extra, encoding="utf-8")
    result = project.plan()
    _located_read_error(result, MISSING, project.target, "404")
    assert "~ update Empathy" in result.stdout and f"conversation {MISSING}" in result.stdout


def test_metrics_disabled_403(project: Project) -> None:
    project.emulator.store.set_metrics_enabled(DEFAULT_ORGANIZATION_ID, False)
    result = project.plan()
    _located_read_error(result, A, project.target, "403")
    assert f"conversation {B}" in result.stdout and "3 error" in result.stdout


def test_refused_credential_401_marks_every_conversation_unread(project: Project) -> None:
    project.env["ZELTO_API_KEY"] = "wrong-key-123"
    result = project.plan()
    assert result.exit_code == 1
    assert "wrong-key-123" not in result.output
    errors = [line for line in result.stderr.splitlines() if "401" in line]
    assert errors and all(f"(target {project.target})" in line for line in errors)
    assert "3 error" in result.stdout


def test_timeout_is_located(project: Project) -> None:
    project.configure(timeoutSeconds=0.2)
    project.emulator.set_faults(Faults(latency_ms=1500))
    result = project.plan()
    _located_read_error(result, A, project.target, "timed out")
    assert "3 error" in result.stdout


def test_unreachable_host_is_located(project: Project) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = project.plan(api_url=f"http://127.0.0.1:{port}")
    _located_read_error(result, A, f"127.0.0.1:{port}", "")
    assert "3 error" in result.stdout


def test_bad_specs_fail_before_any_request(project: Project) -> None:
    (project.folder / "specs" / "qa.yaml").write_text(
        f"conversations:\n  {A}:\n    - {{externalId: x, label: L, score: 101}}\n", encoding="utf-8"
    )
    project.emulator.reset_request_counts()
    result = project.plan()
    assert result.exit_code == 1 and "specs/qa.yaml:3" in result.stderr
    assert result.stdout == "" and project.emulator.request_counts() == {}


def test_local_target_plans_against_the_embedded_emulator(tmp_path: Path) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "a.yaml").write_text(
        f"conversations:\n  {A}:\n    - {{externalId: qa-1, label: L, score: 5}}\n",
        encoding="utf-8",
    )
    config = tmp_path / "reconciler.yaml"
    config.write_text("specs: [specs]\n", encoding="utf-8")
    runner = CliRunner(env={"ZELTO_API_URL": "", "NO_COLOR": "1"})
    result = runner.invoke(main, ["plan", "--config", str(config)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Plan for target local: 1 to create" in result.stdout


def test_usage_errors_exit_1_never_the_changes_code(project: Project) -> None:
    result = project.plan("--format", "yaml", "--detailed-exitcode")
    assert result.exit_code == 1 and "Invalid value for '--format'" in result.stderr


def test_saved_plan_is_private_to_its_owner(project: Project) -> None:
    out = project.folder / "plan.json"
    project.plan("--out", str(out))
    assert out.stat().st_mode & 0o777 == 0o600
