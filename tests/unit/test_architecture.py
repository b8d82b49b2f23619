"""The import rules of docs/architecture.md, enforced, and proof that each one bites.

The rules are forbidden pairs plus an acyclic module graph (tests/unit/import_rules.py). Each rule
is also run on a synthetic tree that breaks it, and on a copy of the real package with the
planner importing the Zelto client: a rule that cannot fail would guard nothing. Ruff's T20
(no ``print``) is on everywhere but the CLI and bench/; a test runs ruff on the planner with a
``print`` added to prove it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from import_rules import RULES, violations

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "reconciler"


def test_the_package_keeps_every_rule() -> None:
    assert violations(PACKAGE) == []


# (rule, {file: source}, what the report must say): each breaks exactly one rule.
BROKEN: list[tuple[str, dict[str, str], str]] = [
    (
        "agent-over-the-engine",
        {"engine/workspace.py": "from reconciler.agent.status import AgentStatus\n"},
        "reconciler.engine.workspace imports reconciler.agent.status",
    ),
    (
        "pure-core",
        {"plan/planner.py": "from reconciler.remote.zelto import ZeltoClient\n"},
        "reconciler.plan.planner imports reconciler.remote.zelto",
    ),
    (
        "pure-core",
        {
            "plan/planner.py": "from reconciler.spec.delta import removed_records\n",
            "spec/delta.py": "import subprocess\n",
        },
        "reconciler.plan.planner → reconciler.spec.delta → subprocess",
    ),
    (
        "pure-core",
        {"render/json.py": "from reconciler.remote.targets import resolve_target\n"},
        "reconciler.render.json imports reconciler.remote.targets",
    ),
    ("pure-core", {"render/text.py": "import httpx\n"}, "reconciler.render.text imports httpx"),
    (
        "emulator-independent",
        {"emulator/app.py": "from reconciler.model import RemoteRecord\n"},
        "reconciler.emulator.app imports reconciler.model",
    ),
    (
        "only-targets-start-the-emulator",
        {"applier/run.py": "from reconciler.emulator import start_in_thread\n"},
        "reconciler.applier.run imports reconciler.emulator",
    ),
    (
        "nothing-imports-the-cli",
        {"applier/report.py": "from ..cli import main\n"},
        "reconciler.applier.report imports reconciler.cli",
    ),
    (
        "foundations",
        {"model.py": "from reconciler.config import Config\n"},
        "reconciler.model imports reconciler.config",
    ),
    (
        "specs-before-network",
        {"spec/loader.py": "from reconciler.plan.model import Plan\n"},
        "reconciler.spec.loader imports reconciler.plan.model",
    ),
    (
        "clients-do-not-decide",
        {"remote/zelto.py": "from reconciler.applier import Applier\n"},
        "reconciler.remote.zelto imports reconciler.applier",
    ),
    (
        "decide-before-carrying-out",
        {"render/markdown.py": "from reconciler.applier.report import ApplyReport\n"},
        "reconciler.render.markdown imports reconciler.applier.report",
    ),
    (
        "cycle",
        {
            "applier/run.py": "from reconciler.applier.report import ApplyReport\n",
            "applier/report.py": "from reconciler.applier import run\n",
        },
        "reconciler.applier.report → reconciler.applier.run → reconciler.applier.report",
    ),
]


def _tree(root: Path, files: dict[str, str]) -> Path:
    package = root / "reconciler"
    for name, source in files.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        for folder in path.relative_to(package).parents:
            (package / folder / "__init__.py").touch()
        path.write_text(source, encoding="utf-8")
    return package


@pytest.mark.parametrize(("rule", "files", "reported"), BROKEN, ids=[b[0] for b in BROKEN])
def test_each_rule_fails_when_broken(
    tmp_path: Path, rule: str, files: dict[str, str], reported: str
) -> None:
    found = violations(_tree(tmp_path, files))
    assert len(found) == 1, found
    assert found[0].startswith(f"{rule}: ")
    assert reported in found[0]


def test_every_rule_has_a_case_that_breaks_it() -> None:
    assert {r.name for r in RULES} | {"cycle"} == {b[0] for b in BROKEN}


def test_the_real_planner_importing_the_zelto_client_is_reported(tmp_path: Path) -> None:
    copy = tmp_path / "reconciler"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    with (copy / "plan" / "planner.py").open("a", encoding="utf-8") as planner:
        planner.write("from reconciler.remote.zelto import ZeltoClient  # noqa\n")
    with (copy / "render" / "json.py").open("a", encoding="utf-8") as renderer:
        renderer.write("from reconciler.remote import targets  # noqa\n")
    found = violations(copy)
    assert [v.split(" (")[0] for v in found] == [
        "pure-core: reconciler.plan.offline imports reconciler.remote.zelto",
        "pure-core: reconciler.plan.planner imports reconciler.remote.zelto",
        "pure-core: reconciler.render imports reconciler.remote",  # through render.json
        "pure-core: reconciler.render.json imports reconciler.remote",
    ]


def _ruff(path: str, source: str) -> subprocess.CompletedProcess[str]:
    """ruff on ``source`` as if it were the repository's file at ``path`` (its config applies)."""
    return subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--stdin-filename", path, "-"],
        input=source,
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )


def test_ruff_refuses_a_print_in_the_planner() -> None:
    planner = (PACKAGE / "plan" / "planner.py").read_text(encoding="utf-8")
    assert _ruff("reconciler/plan/planner.py", planner).returncode == 0
    broken = _ruff("reconciler/plan/planner.py", planner + '\nprint("debug")\n')
    assert broken.returncode == 1
    assert "T201" in broken.stdout


def test_ruff_allows_a_print_in_the_cli_only() -> None:
    command = (PACKAGE / "cli" / "cmd_version.py").read_text(encoding="utf-8")
    assert _ruff("reconciler/cli/cmd_version.py", command + '\nprint("ok")\n').returncode == 0
