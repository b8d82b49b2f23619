"""``plan --offline --changed-since REF`` says what ``plan --changed-since REF`` says.

The fork-PR preview is the real planner run against what Zelto would hold had REF been applied,
so a swap of two labels is two conflicts in both (it once read as two harmless relabels offline,
and the merge then failed). REF is applied to the emulator on 127.0.0.1 through the CLI itself.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from reconciler.cli import main
from reconciler.emulator import RunningEmulator

AGENT = "a0a0a0a0-0000-4000-8000-00000000000a"
CONVERSATION = "11111111-1111-4111-8111-111111111111"
OLD = f"""conversations:
  {CONVERSATION}:
    - {{externalId: qa-1, label: Greeting, verdict: pass}}
    - {{externalId: qa-2, label: Empathy, score: 80}}
"""
SWAPPED = f"""conversations:
  {CONVERSATION}:
    - {{externalId: qa-1, label: Empathy, verdict: pass}}
    - {{externalId: qa-2, label: Greeting, score: 80}}
"""


def _git(repo: Path, *args: str) -> None:
    identity = ["-c", "user.email=ci@example.com", "-c", "user.name=CI"]
    subprocess.run(["git", "-C", str(repo), *identity, *args], capture_output=True, check=True)


def _run(repo: Path, emulator: RunningEmulator, *args: str) -> Result:
    env = {"NO_COLOR": "1", "ZELTO_API_KEY": emulator.zelto_api_key, "ZELTO_API_URL": emulator.url}
    argv = [args[0], "--config", str(repo / "reconciler.yaml"), *args[1:]]
    result = CliRunner(env=env).invoke(main, argv)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def _old_ref_applied(repo: Path, emulator: RunningEmulator) -> None:
    emulator.store.add_agent(AGENT)
    emulator.store.add_conversation(CONVERSATION, AGENT)
    config = {"specs": ["specs"], "ownership": {"externalIdPrefix": "qa-"}}
    (repo / "reconciler.yaml").write_text(json.dumps(config), encoding="utf-8")
    (repo / "specs").mkdir()
    (repo / "specs" / "qa.yaml").write_text(OLD, encoding="utf-8")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "old")
    _git(repo, "tag", "old")
    applied = _run(repo, emulator, "apply", "--auto-approve")
    assert applied.exit_code == 0, applied.output


def _summary(result: Result) -> dict[str, Any]:
    summary: dict[str, Any] = json.loads(result.stdout)["summary"]
    return summary


def test_a_label_swap_is_two_conflicts_online_and_offline(
    tmp_path: Path, emulator: RunningEmulator
) -> None:
    _old_ref_applied(tmp_path, emulator)
    (tmp_path / "specs" / "qa.yaml").write_text(SWAPPED, encoding="utf-8")
    plan = ("plan", "--format", "json", "--changed-since", "old")
    online = _run(tmp_path, emulator, *plan)
    offline = _run(tmp_path, emulator, *plan, "--offline")
    assert _summary(online)["conflict"] == 2
    assert _summary(offline) == _summary(online)
    assert offline.exit_code == online.exit_code == 1  # a plan with conflicts fails, offline too
    assert json.loads(offline.stdout)["offline"] is True
    text = _run(tmp_path, emulator, "plan", "--changed-since", "old", "--offline")
    assert "2 conflicts" in text.stdout
    assert "offline" in text.stdout
