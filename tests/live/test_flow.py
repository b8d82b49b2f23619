"""The product's own flow on a target: plan, apply, plan again (nothing left), import siro.

Against the real APIs (``-m live``) this is the check that the product works the day a key is
given; against the emulator it runs in every test run. Records are written to the test
conversation only, under labels with the suite's prefix.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from click.testing import CliRunner, Result
from live_target import LABEL_PREFIX, Target

from reconciler.cli import main


def _run(target: Target, root: Path, *args: str) -> Result:
    env = {
        "ZELTO_API_KEY": target.zelto_key,
        "SIRO_AUTH_TOKEN": target.siro_token,
        "ZELTO_API_URL": "",
        "SIRO_API_URL": "",
        "NO_COLOR": "1",
    }
    old = Path.cwd()
    os.chdir(root)
    try:
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    finally:
        os.chdir(old)


def _repo(target: Target, root: Path) -> None:
    (root / "specs").mkdir()
    record = {"externalId": f"{LABEL_PREFIX}flow", "label": f"{LABEL_PREFIX}flow", "score": 42}
    (root / "specs" / "live.yaml").write_text(
        json.dumps({"conversations": {target.conversation: [record]}}), encoding="utf-8"
    )
    siro = {
        "url": target.siro_url,
        "organizationId": target.siro_organization,
        "conversationTypeId": target.siro_conversation_type,
        "recordings": {target.recordings[0]: target.conversation},
        "output": "imported",
        "metrics": [
            {"metricType": "CONVERSATION_TIME", "label": f"{LABEL_PREFIX}call length",
             "verdict": {"from": "value", "op": "<=", "threshold": 900}},
        ],
    }  # fmt: skip
    config = {"specs": ["specs"], "siro": siro}
    (root / "reconciler.yaml").write_text(json.dumps(config), encoding="utf-8")


def test_plan_apply_plan_again_and_import(target: Target, tmp_path: Path) -> None:
    _repo(target, tmp_path)
    url = ("--api-url", target.zelto_url)
    first = _run(target, tmp_path, "plan", *url)
    assert first.exit_code == 0, first.output
    applied = _run(target, tmp_path, "apply", "--auto-approve", *url)
    assert applied.exit_code == 0, applied.output
    again = _run(target, tmp_path, "plan", "--detailed-exitcode", *url)
    assert again.exit_code == 0, again.output  # 0: nothing left to do
    window = ("--start", target.start, "--end", target.end)
    imported = _run(target, tmp_path, "import", "siro", *window, "--siro-url", target.siro_url)
    assert imported.exit_code == 0, imported.output
    assert (tmp_path / "imported" / f"{target.conversation}.yaml").exists()
