"""The agent's small decisions: durations, repository URLs, webhook signatures, git credentials."""

from __future__ import annotations

import base64
import http.server
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.agent.gitsource import GitError, GitSource, check_repo_url, tree_root
from reconciler.agent.webhook import judge_push, sign, valid_signature
from reconciler.cli import main
from reconciler.cli.cmd_agent import parse_interval
from reconciler.errors import ConfigError

SECRET = b"It's a Secret to Everybody"
BODY = b"Hello, World!"


def test_github_s_documented_signature_example() -> None:
    """The test vector in GitHub's webhook documentation ("Validating webhook deliveries")."""
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert sign(SECRET, BODY) == expected
    assert valid_signature(SECRET, BODY, expected)


@pytest.mark.parametrize(
    "header", [None, "", "sha256=", "sha1=abc", sign(b"other", BODY), sign(SECRET, BODY + b" ")]
)
def test_a_wrong_or_missing_signature_is_refused(header: str | None) -> None:
    assert not valid_signature(SECRET, BODY, header)
    assert judge_push(SECRET, BODY, header, "push", "main").status == 401


def test_only_a_signed_push_to_the_branch_triggers() -> None:
    def judge(ref: str, event: str = "push") -> tuple[int, bool]:
        body = json.dumps({"ref": ref}).encode()
        verdict = judge_push(SECRET, body, sign(SECRET, body), event, "main")
        return verdict.status, verdict.trigger

    assert judge("refs/heads/main") == (202, True)
    assert judge("refs/heads/feature") == (202, False)
    assert judge("refs/heads/main", "issues") == (202, False)
    assert judge("refs/heads/main", "ping") == (200, False)
    assert judge_push(b"", BODY, sign(b"", BODY), "push", "main").status == 404


@pytest.mark.parametrize(
    ("text", "seconds"), [("5m", 300.0), ("10s", 10.0), ("0.2s", 0.2), ("1h", 3600.0), ("7", 7.0)]
)
def test_intervals(text: str, seconds: float) -> None:
    assert parse_interval(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "0s", "5 minutes", "-1s", "1d"])
def test_bad_intervals_are_named(text: str) -> None:
    with pytest.raises(ConfigError, match="--interval"):
        parse_interval(text)


def test_a_url_with_a_password_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as caught:
        check_repo_url("https://bot:s3cr3t-token@github.com/org/specs.git")
    assert "s3cr3t-token" not in str(caught.value) and "RECONCILER_GIT_TOKEN" in str(caught.value)


def test_repository_forms(tmp_path: Path) -> None:
    assert check_repo_url(str(tmp_path)) == str(tmp_path.resolve())
    assert check_repo_url("git@github.com:org/specs.git") == "git@github.com:org/specs.git"
    assert check_repo_url("https://github.com/org/specs.git").startswith("https://")
    with pytest.raises(ConfigError, match="no such folder"):
        check_repo_url(str(tmp_path / "missing"))


def test_path_must_stay_inside_the_tree(tmp_path: Path) -> None:
    (tmp_path / "tree" / "team").mkdir(parents=True)
    root, config = tree_root(tmp_path / "tree", "team")
    assert root == (tmp_path / "tree" / "team").resolve()
    assert config.read_text() == "{}\n"  # the defaults, pinned inside the export
    with pytest.raises(ConfigError, match="inside the repository"):
        tree_root(tmp_path / "tree", "../..")


class _AuthRecorder(http.server.BaseHTTPRequestHandler):
    """A hostile git server (a fake: the emulator is no git host): it asks for credentials,
    records what it gets, and never serves a repository."""

    seen: list[str] = []  # noqa: RUF012 - class-level on purpose: the handler is per request

    def do_GET(self) -> None:
        self.seen.append(self.headers.get("Authorization", ""))
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="git"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def git_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _AuthRecorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _AuthRecorder.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}/org/specs.git"
    server.shutdown()
    server.server_close()


def test_an_https_token_reaches_git_through_askpass_only(git_server: str, tmp_path: Path) -> None:
    token = "ghp_unit-test-token-0123456789"
    environ = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "RECONCILER_GIT_TOKEN": token}
    source = GitSource(git_server, "main", tmp_path / "cache", environ=environ)
    with pytest.raises(GitError) as caught:
        source.fetch()
    sent = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    assert f"Basic {sent}" in _AuthRecorder.seen  # git got the token, from the askpass script
    assert token not in str(caught.value)
    askpass = (tmp_path / "cache" / "askpass.sh").read_text()
    assert token not in askpass  # the script reads the variable; it holds no secret
    assert token not in (tmp_path / "cache" / "repo.git" / "config").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--repo", "/no/such/repository"], "--repo /no/such/repository: no such folder"),
        (["--repo", ".", "--interval", "soon"], "--interval soon: expected a duration"),
        (["--repo", ".", "--listen", "9090"], "--listen 9090: expected HOST:PORT"),
        (["--repo", "https://x:pw@example.com/r.git"], "put the token in $RECONCILER_GIT_TOKEN"),
    ],
)
def test_a_mistyped_option_is_exit_1_with_a_message_before_anything_runs(
    tmp_path: Path, args: list[str], message: str
) -> None:
    state = ["--state-dir", str(tmp_path / "state")]
    result = CliRunner().invoke(main, ["agent", *args, *state])
    assert result.exit_code == 1, result.output
    assert message in result.output and "Traceback" not in result.output
    assert "x:pw" not in result.output  # a password is never echoed
