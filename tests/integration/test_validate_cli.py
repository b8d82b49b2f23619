"""``reconciler validate`` and ``reconciler schema`` end to end: exit codes, output, annotations.

validate is offline by design, so no emulator is involved. Most cases run through click's runner
in-process; one runs the installed console script to prove a real process exits as documented.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import main
from reconciler.cli.cmd_validate import github_annotation
from reconciler.errors import Issue, Location

REPO = Path(__file__).resolve().parents[2]
INVALID = REPO / "tests" / "fixtures" / "specs" / "invalid"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the repository's example config and specs, as a user's checkout would hold."""
    shutil.copy(REPO / "reconciler.yaml", tmp_path / "reconciler.yaml")
    shutil.copytree(REPO / "specs", tmp_path / "specs")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    return tmp_path


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["validate", *args], env=env, catch_exceptions=False)
    return result.exit_code, result.output


def test_examples_are_valid(project: Path) -> None:
    code, out = _run()
    assert (code, out) == (0, "valid: 8 records in 4 conversations from 2 files\n")
    assert (project / ".reconciler" / "cache").is_dir()
    assert _run("--no-cache") == (0, out)


def test_broken_specs_list_every_problem_with_its_place(project: Path) -> None:
    broken = project / "specs" / "broken"
    broken.mkdir()
    for name in ["score-out-of-range.yaml", "unknown-record-field.yaml", "tab-indentation.yaml"]:
        shutil.copy(INVALID / name, broken / name)
    code, out = _run()
    lines = out.splitlines()
    assert code == 1
    assert lines[0].startswith("specs/broken/score-out-of-range.yaml:5:14: conversations.")
    assert "got 150; score must be a number from 0 to 100" in lines[0]
    assert lines[1] == (
        "specs/broken/tab-indentation.yaml:4:1: tab character in indentation; "
        "YAML indentation must use spaces"
    )
    assert "did you mean 'score'?" in lines[2]
    assert lines[3] == "3 errors in 3 files; nothing is valid"
    assert "Traceback" not in out


def test_json_output_is_machine_readable(project: Path) -> None:
    code, out = _run("--format", "json")
    assert code == 0
    assert json.loads(out) == {
        "valid": True,
        "files": 2,
        "conversations": 4,
        "records": 8,
        "errors": [],
    }
    code, out = _run("--format", "json", str(INVALID / "verdict-invalid.yaml"))
    body = json.loads(out)
    assert code == 1
    assert body["valid"] is False
    assert body["files"] == 1
    (error,) = body["errors"]
    assert error["file"].endswith("tests/fixtures/specs/invalid/verdict-invalid.yaml")
    assert (error["line"], error["column"]) == (5, 16)
    assert error["path"] == "conversations.3c90c3cc-0d44-4b50-8888-8dd25736052a[0].verdict"
    assert error["message"] == "got 'maybe'; verdict must be pass or fail"


def test_github_actions_get_annotations(project: Path) -> None:
    code, out = _run(str(INVALID / "duplicate-key.yaml"), env={"GITHUB_ACTIONS": "true"})
    assert code == 1
    annotation = out.splitlines()[-1]
    assert annotation.startswith("::error file=")
    assert ",line=6,col=7,title=reconciler validate::duplicate key 'score'" in annotation
    code, out = _run(env={"GITHUB_ACTIONS": "true"})
    assert (code, "::error" in out) == (0, False)


def test_annotation_escaping_follows_githubs_rules() -> None:
    issue = Issue(Location("a:b,c%.yaml", 3, 4), "50% done\r\nnext", "x.y")
    assert github_annotation(issue) == (
        "::error file=a%3Ab%2Cc%25.yaml,line=3,col=4,title=reconciler validate::"
        "x.y: 50%25 done%0D%0Anext"
    )


def test_a_missing_path_fails_clearly(project: Path) -> None:
    code, out = _run("nope")
    assert code == 1
    assert out.splitlines()[0] == "nope: no such file or folder"


def test_a_broken_config_is_reported_like_a_spec(project: Path) -> None:
    (project / "reconciler.yaml").write_text("specz: [specs]\n")
    code, out = _run()
    assert code == 1
    assert out.startswith("reconciler.yaml:1:1: specz: unknown key 'specz'; did you mean 'specs'?")


def test_explicit_config_and_paths(project: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (elsewhere / "reconciler.yaml").write_text("specs: [qa]\n")
    shutil.copytree(project / "specs", elsewhere / "qa")
    code, out = _run("--config", str(elsewhere / "reconciler.yaml"))
    assert (code, out) == (0, "valid: 8 records in 4 conversations from 2 files\n")
    code, out = _run("specs/escalations.yaml")
    assert (code, out) == (0, "valid: 4 records in 3 conversations from 1 file\n")


def test_hostile_file_is_an_error_not_a_crash(project: Path) -> None:
    (project / "specs" / "deep.yaml").write_bytes(b"a: " + b"[" * 100_000 + b"]" * 100_000)
    code, out = _run()
    assert code == 1
    assert "specs/deep.yaml:1:" in out
    assert "nesting deeper than 32 levels" in out


def test_installed_command_exits_with_the_documented_codes(project: Path) -> None:
    script = Path(sys.executable).with_name("reconciler")
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}
    ok = subprocess.run(
        [str(script), "validate"], check=False, capture_output=True, text=True, env=env
    )
    assert (ok.returncode, ok.stdout, ok.stderr) == (
        0,
        "valid: 8 records in 4 conversations from 2 files\n",
        "",
    )
    shutil.copy(INVALID / "invalid-utf8.yaml", project / "specs" / "bad.yaml")
    bad = subprocess.run(
        [str(script), "validate"], check=False, capture_output=True, text=True, env=env
    )
    assert bad.returncode == 1
    assert bad.stdout.startswith("specs/bad.yaml:4:17: invalid UTF-8 (byte 0xe9)")
    assert "Traceback" not in bad.stdout + bad.stderr


def test_schema_check_detects_stale_files(tmp_path: Path) -> None:
    runner = CliRunner()
    out_dir = tmp_path / "schemas"
    first = runner.invoke(main, ["schema", "--dir", str(out_dir)])
    assert first.exit_code == 0
    assert {p.name for p in out_dir.iterdir()} >= {"config.schema.json", "spec.schema.json"}
    assert runner.invoke(main, ["schema", "--check", "--dir", str(out_dir)]).exit_code == 0
    (out_dir / "spec.schema.json").write_text("{}\n")
    stale = runner.invoke(main, ["schema", "--check", "--dir", str(out_dir)])
    assert stale.exit_code == 1
    assert "stale:" in stale.output
    assert (out_dir / "spec.schema.json").read_text() == "{}\n"  # --check writes nothing


def test_committed_schemas_pass_the_check() -> None:
    result = CliRunner().invoke(main, ["schema", "--check", "--dir", str(REPO / "schemas")])
    assert result.exit_code == 0, result.output


def test_an_unreadable_config_is_an_error_in_both_formats(project: Path) -> None:
    missing = str(project / "missing.yaml")
    result = CliRunner().invoke(main, ["validate", "--config", missing])
    assert result.exit_code == 1
    assert "error: cannot read config file" in result.output
    code, out = _run("--config", missing, "--format", "json")
    body = json.loads(out)
    assert (code, body["valid"], body["errors"][0]["file"]) == (1, False, "")
    assert body["errors"][0]["message"].startswith("cannot read config file")


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "--bogus"],
        ["apply", "--concurrency", "0"],
        ["import", "siro"],
        ["comment", "--pr", "x"],
        ["schema", "--bogus"],
        ["emulator", "serve", "--port", "x"],
        ["no-such-command"],
    ],
)
def test_a_usage_error_exits_1_in_every_command(project: Path, args: list[str]) -> None:
    """README "Exit codes": bad input is 1 everywhere; click's own 2 is never seen."""
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    assert "Usage: " in result.output and "Traceback" not in result.output


def test_commands_describe_their_shared_options_alike(project: Path) -> None:
    def helps(*command: str) -> str:
        return " ".join(CliRunner().invoke(main, [*command, "--help"]).output.split())

    for command in (["validate"], ["plan"], ["apply"], ["import", "zelto"], ["import", "siro"]):
        assert "--config FILE reconciler.yaml to use [default: found in this or a parent" in (
            helps(*command)
        ), command
    for command in (["plan"], ["apply"], ["import", "zelto"]):
        assert "--target TEXT A target named in reconciler.yaml [default: defaultTarget]" in (
            helps(*command)
        ), command
    assert "Plan only shard" not in helps("apply")


def test_a_committed_cache_symlink_is_refused_and_nothing_is_deleted(
    project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Issue 12 item 6: a `.reconciler/cache` symlink must not make validate write or delete
    files wherever it points."""
    outside = tmp_path_factory.mktemp("victim")
    for name in ("specs-0000.jsonl", "specindex-0000.jsonl"):
        (outside / name).write_text("precious\n")
    (project / ".reconciler").mkdir()
    (project / ".reconciler" / "cache").symlink_to(outside, target_is_directory=True)
    code, out = _run()
    assert code == 1
    assert "is a symbolic link" in out and "rm -r" in out
    assert sorted(p.name for p in outside.iterdir()) == ["specindex-0000.jsonl", "specs-0000.jsonl"]
    assert _run("--no-cache")[0] == 0


@pytest.mark.parametrize("plant", ["fifo", "devzero"])
def test_a_spec_that_is_not_a_regular_file_is_refused_promptly(project: Path, plant: str) -> None:
    """Issue 12 item 8: a FIFO hung every command; a /dev/zero symlink read without bound."""
    path = project / "specs" / "x.yaml"
    if plant == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    script = [sys.executable, "-m", "reconciler", "validate"]
    done = subprocess.run(
        script, check=False, capture_output=True, text=True, timeout=60, cwd=project
    )
    assert done.returncode == 1
    kind = "a named pipe" if plant == "fifo" else "a character device"
    assert f"specs/x.yaml: not a regular file ({kind})" in done.stdout + done.stderr


CONV = "3c90c3cc-0d44-4b50-8888-8dd25736052a"


def test_a_long_error_list_is_cut_with_a_count(project: Path) -> None:
    """Issue 12 item 10: a million error lines helped nobody; at most 100, then a count."""
    records = "".join(f"    - {{externalId: x-{n}, label: L, score: 150}}\n" for n in range(150))
    (project / "specs" / "bad.yaml").write_text(f"conversations:\n  {CONV}:\n{records}")
    code, out = _run("--no-cache")
    lines = out.splitlines()
    assert code == 1
    assert len(lines) == 102
    assert lines[100] == "... and 50 more"
    assert lines[101] == "150 errors in 1 file; nothing is valid"


def test_too_many_records_in_one_file_are_refused_before_checking_them(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("reconciler.spec.document.MAX_RECORDS_PER_FILE", 3)
    records = "".join(f"    - {{externalId: x-{n}, label: L, score: 150}}\n" for n in range(5))
    (project / "specs" / "bad.yaml").write_text(f"conversations:\n  {CONV}:\n{records}")
    code, out = _run("--no-cache")
    assert (code, out.splitlines()[0]) == (
        1,
        "specs/bad.yaml:6:7: more than 3 records in one file; split it into several spec files "
        "(nothing in this file was checked)",
    )


@pytest.mark.slow
def test_a_million_list_items_are_refused_in_seconds(project: Path) -> None:
    """Issue 12 item 10, as reported: an 8 MB file of 1,000,000 list items took 41-52 s and
    2.8 GB to refuse, and printed a million lines. Now the composer stops at the node cap."""
    big = project / "specs" / "big.yaml"
    big.write_bytes(f"conversations:\n  {CONV}:\n".encode() + b"    - x\n" * 1_000_000)
    script = [sys.executable, "-m", "reconciler", "validate", "--no-cache"]
    done = subprocess.run(script, check=False, capture_output=True, text=True, timeout=90)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        "specs/big.yaml:199998:7: more than 200,000 values in one file; the rest was not read. "
        "Split it into several spec files",
        "1 error in 1 file; nothing is valid",
    ]
