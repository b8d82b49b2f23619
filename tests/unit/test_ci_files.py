"""The CI files (action.yml, its script, the example pipelines, the pre-commit hook) stay in step
with the CLI: a renamed option or action input breaks a test here, not a user's pipeline."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import click
import pytest
from ruamel.yaml import YAML

from reconciler.cli import main

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "action.yml"
SCRIPT = ROOT / ".github" / "action" / "run.sh"
WORKFLOWS = sorted((ROOT / "examples" / "github").glob("*.yml"))
GITLAB = ROOT / "examples" / "gitlab" / ".gitlab-ci.yml"
HOOKS = ROOT / ".pre-commit-hooks.yaml"
ACTION_REF = re.compile(r"^[\w.-]+/reconciler@v\d")
#: Inputs the action uses itself rather than handing to the script.
ACTION_OWN_INPUTS = {"python-version", "github-token", "working-directory", "artifact-name"}
COMMANDS = {"validate", "plan", "merge", "apply", "drift"}


def _yaml(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def _command(name: str) -> click.Command:
    found = main.get_command(click.Context(main), name)
    assert found is not None, f"no command {name!r}"
    return found


def _options(command: str) -> set[str]:
    found = _command(command)
    names = {o for p in found.params if isinstance(p, click.Option) for o in p.opts}
    return names | {"--help", "-h"}


def _run_step(action: dict[str, Any]) -> dict[str, Any]:
    step: dict[str, Any] = next(s for s in action["runs"]["steps"] if s.get("id") == "run")
    return step


def test_every_action_input_reaches_the_script_and_back() -> None:
    action = _yaml(ACTION)
    env = _run_step(action)["env"]
    handed = {k for k in action["inputs"] if k not in ACTION_OWN_INPUTS}
    expected = {
        f"RECONCILER_{k.upper().replace('-', '_')}": f"${{{{ inputs.{k} }}}}" for k in handed
    }
    assert {k: v for k, v in env.items() if k.startswith("RECONCILER_")} == expected
    used = set(re.findall(r"RECONCILER_[A-Z_]+", SCRIPT.read_text(encoding="utf-8")))
    assert used == set(expected)


def test_action_outputs_are_written_by_the_script() -> None:
    action = _yaml(ACTION)
    script = SCRIPT.read_text(encoding="utf-8")
    for name, output in action["outputs"].items():
        assert output["value"] == f"${{{{ steps.run.outputs.{name} }}}}"
        assert f"set_output {name} " in script


def test_the_python_is_pinned() -> None:
    assert _yaml(ACTION)["inputs"]["python-version"]["default"] == "3.11"


def test_script_options_exist_on_the_cli() -> None:
    script = SCRIPT.read_text(encoding="utf-8")
    known = set().union(*(_options(c) for c in ("validate", "plan", "plan-merge", "apply")))
    known |= _options("comment")
    used = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", script))
    assert used <= known, used - known


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_example_workflows_use_only_real_action_inputs(path: Path) -> None:
    inputs = set(_yaml(ACTION)["inputs"])
    workflow = _yaml(path)
    used = 0
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            if not ACTION_REF.match(str(step.get("uses", ""))):
                continue
            used += 1
            assert set(step["with"]) <= inputs, set(step["with"]) - inputs
            assert step["with"]["command"] in COMMANDS
    assert used > 0


def test_example_workflows_ask_for_least_privilege() -> None:
    permissions = {p.name: _yaml(p)["permissions"] for p in WORKFLOWS}
    assert permissions["pr-plan.yml"] == {"contents": "read", "pull-requests": "write"}
    assert permissions["apply-on-merge.yml"] == {"contents": "read"}
    assert permissions["sharded-apply.yml"] == {"contents": "read"}


def _reconciler_calls(text: str) -> list[list[str]]:
    calls = []
    for line in text.replace("\\\n", " ").splitlines():
        if "reconciler " not in line or "pip install" in line or line.lstrip().startswith("#"):
            continue
        words = shlex.split(line[line.index("reconciler ") :], comments=True)
        calls.append(words[1:])
    return calls


def test_gitlab_example_uses_real_commands_and_options() -> None:
    pipeline = _yaml(GITLAB)
    script = "\n".join(
        line for job in pipeline.values() if isinstance(job, dict) for line in job.get("script", [])
    )
    calls = _reconciler_calls(script)
    assert {c[0] for c in calls} == {"validate", "plan", "apply"}
    for call in calls:
        flags = {w for w in call[1:] if w.startswith("--")}
        assert flags <= _options(call[0]), flags - _options(call[0])


def test_pre_commit_hook_runs_validate() -> None:
    (hook,) = _yaml(HOOKS)
    assert hook["id"] == "reconciler-validate"
    assert shlex.split(hook["entry"]) == ["reconciler", "validate"]
    assert hook["pass_filenames"] is False  # cross-file rules need every spec
    assert _command("validate").name == "validate"
