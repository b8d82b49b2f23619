"""``reconciler comment`` end to end: the CLI against the local fake GitHub over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import main
from reconciler.remote.github import DEFAULT_MARKER
from reconciler.render import PLAN_MARKER
from tests.fakes.github import FakeGitHub, serve

REPO = "acme/specs"
TOKEN = "ghs_cli_secret_token_abcdef"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeGitHub]:
    github = FakeGitHub(token=TOKEN)
    with serve(github):
        yield github


@pytest.fixture
def fake(server: FakeGitHub) -> FakeGitHub:
    server.reset()
    server.add_pull(REPO, 3)
    return server


def _env(fake: FakeGitHub, tmp_path: Path, **extra: str) -> dict[str, str]:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 3}}), encoding="utf-8")
    env = {
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_API_URL": fake.base_url,
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_RUN_ID": "777",
    }
    env.update(extra)
    return env


def _run(args: list[str], env: dict[str, str]) -> Result:
    result = CliRunner().invoke(main, args, env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert TOKEN not in result.output
    return result


def _body(tmp_path: Path, text: str, name: str = "plan.md") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_creates_then_updates_one_comment(fake: FakeGitHub, tmp_path: Path) -> None:
    env = _env(fake, tmp_path)
    first = _run(["comment", "--body-file", str(_body(tmp_path, "## Plan: 1 to create"))], env)
    assert first.exit_code == 0, first.output
    assert first.output.startswith("created comment ")
    second = _run(["comment", "--body-file", str(_body(tmp_path, "## Plan: 2 to create"))], env)
    assert second.exit_code == 0, second.output
    assert second.output.startswith("updated comment ")
    comments = fake.comments(REPO, 3)
    assert len(comments) == 1
    assert comments[0]["body"] == f"{DEFAULT_MARKER}\n## Plan: 2 to create"


def test_explicit_pr_and_repo_and_marker(fake: FakeGitHub, tmp_path: Path) -> None:
    fake.add_pull("acme/other", 11)
    env = _env(fake, tmp_path)
    del env["GITHUB_EVENT_PATH"]
    args = ["comment", "--body-file", str(_body(tmp_path, "drift!")), "--pr", "11"]
    args += ["--repo", "acme/other", "--marker", "<!-- reconciler:drift -->"]
    result = _run(args, env)
    assert result.exit_code == 0, result.output
    assert fake.comments("acme/other", 11)[0]["body"] == "<!-- reconciler:drift -->\ndrift!"


def test_finds_the_comment_beyond_the_first_page(fake: FakeGitHub, tmp_path: Path) -> None:
    for i in range(120):
        fake.add_comment(REPO, 3, f"review chatter {i}")
    ours = fake.add_comment(REPO, 3, f"{DEFAULT_MARKER}\nold plan", user=fake.identity)
    result = _run(
        ["comment", "--body-file", str(_body(tmp_path, "new plan"))], _env(fake, tmp_path)
    )
    assert result.exit_code == 0, result.output
    assert f"updated comment {ours}" in result.output
    stored = fake.find(ours)
    assert stored is not None and stored["body"] == f"{DEFAULT_MARKER}\nnew plan"
    assert len(fake.comments(REPO, 3)) == 121


def test_too_long_body_is_cut_and_points_at_the_run(fake: FakeGitHub, tmp_path: Path) -> None:
    body = _body(tmp_path, "\n".join(f"- change {i} " + "y" * 90 for i in range(1500)))
    result = _run(["comment", "--body-file", str(body)], _env(fake, tmp_path))
    assert result.exit_code == 0, result.output
    assert "was cut" in result.output
    stored = fake.comments(REPO, 3)[0]["body"]
    assert len(stored) <= 65_000
    assert "https://github.com/acme/specs/actions/runs/777" in stored


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("bad-token", "HTTP 401: GitHub refused the token"),
        ("read-only", "pull-requests: write"),
        ("unknown-pr", "acme/specs#3 was not found"),
    ],
)
def test_api_refusals_are_clear_errors(
    fake: FakeGitHub, tmp_path: Path, setup: str, expected: str
) -> None:
    env = _env(fake, tmp_path)
    if setup == "bad-token":
        env["GITHUB_TOKEN"] = "ghp_not_the_right_one_xyz"
    elif setup == "read-only":
        fake.read_only = True
    else:
        fake.pulls.clear()
    result = _run(["comment", "--body-file", str(_body(tmp_path, "plan"))], env)
    assert result.exit_code == 1
    assert expected in result.output
    assert "Traceback" not in result.output
    assert "ghp_not_the_right_one_xyz" not in result.output


@pytest.mark.parametrize(
    ("content", "args", "expected"),
    [
        (None, [], "no such file"),
        (b"\xff\xfe plan", [], "not UTF-8"),
        (b"plan", ["--marker", " "], "--marker must be one non-empty line"),
    ],
    ids=["missing", "binary", "blank-marker"],
)
def test_bad_input_is_a_clear_error(
    fake: FakeGitHub, tmp_path: Path, content: bytes | None, args: list[str], expected: str
) -> None:
    path = tmp_path / "plan.md"
    if content is not None:
        path.write_bytes(content)
    result = _run(["comment", "--body-file", str(path), *args], _env(fake, tmp_path))
    assert result.exit_code == 1
    assert expected in result.output
    assert fake.comments(REPO, 3) == []


def test_missing_token_is_a_clear_error(fake: FakeGitHub, tmp_path: Path) -> None:
    env = _env(fake, tmp_path, GITHUB_TOKEN="")
    result = _run(["comment", "--body-file", str(_body(tmp_path, "plan"))], env)
    assert result.exit_code == 1
    assert "GITHUB_TOKEN is not set" in result.output


def test_the_default_marker_is_the_one_the_markdown_plan_carries() -> None:
    assert DEFAULT_MARKER == PLAN_MARKER
