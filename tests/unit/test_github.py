"""reconciler.remote.github: finding, capping and upserting the one plan comment; clear errors.

Client tests talk real HTTP to the local fake GitHub (tests/fakes/github.py).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from reconciler.errors import ApiError, AuthError, ConfigError
from reconciler.remote.github import (
    DEFAULT_MARKER,
    GitHubClient,
    PullRequestRef,
    artifact_hint_from_env,
    cap_body,
    find_marked,
    github_http_settings,
    pull_request_from_env,
    upsert_comment,
    with_marker,
)
from tests.fakes.github import FakeGitHub, serve

REPO = "acme/specs"
TOKEN = "ghs_fake_token_0123456789"
#: Three attempts, no waiting worth the name: the retry policy itself is tested in test_http.
FAST = github_http_settings(max_attempts=3, backoff_base_seconds=0.001)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeGitHub]:
    github = FakeGitHub(token=TOKEN)
    with serve(github):
        yield github


@pytest.fixture
def fake(server: FakeGitHub) -> FakeGitHub:
    server.reset()
    server.add_pull(REPO, 7)
    return server


def _client(fake: FakeGitHub, *, number: int = 7, token: str = TOKEN) -> GitHubClient:
    pr = PullRequestRef(api_url=fake.base_url, repository=REPO, number=number, token=token)
    return GitHubClient(pr, settings=FAST)


# --- pure helpers ---------------------------------------------------------------------------


def test_with_marker_prepends_once() -> None:
    marked = with_marker("# Plan", DEFAULT_MARKER)
    assert marked.splitlines()[0] == DEFAULT_MARKER
    assert with_marker(marked, DEFAULT_MARKER) == marked


def test_find_marked_needs_the_marker_as_a_whole_line() -> None:
    bot = {"login": "github-actions[bot]"}
    comments = [
        {"id": 1, "body": f"> {DEFAULT_MARKER}\n> quoted by a reviewer", "user": bot},
        {"id": 2, "body": "unrelated", "user": bot},
        {"id": 3, "body": f"{DEFAULT_MARKER}\r\nours", "user": bot},
        {"id": 4, "body": f"{DEFAULT_MARKER}\nalso ours, newer", "user": bot},
    ]
    found = find_marked(comments, DEFAULT_MARKER, "github-actions[bot]")
    assert found is not None and found["id"] == 3
    assert find_marked(comments[:2], DEFAULT_MARKER, "github-actions[bot]") is None


def test_find_marked_never_returns_another_authors_comment() -> None:
    planted = {"id": 1, "body": f"{DEFAULT_MARKER}\nNothing to apply", "user": {"login": "mallory"}}
    ours = {"id": 2, "body": f"{DEFAULT_MARKER}\nplan", "user": {"login": "github-actions[bot]"}}
    assert find_marked([planted], DEFAULT_MARKER, "github-actions[bot]") is None
    assert find_marked([planted, ours], DEFAULT_MARKER, "github-actions[bot]") == ours
    assert find_marked([{"id": 3, "body": DEFAULT_MARKER}], DEFAULT_MARKER, "") is None


def test_cap_body_keeps_short_bodies() -> None:
    assert cap_body("short", 100, "") == ("short", False)


def test_cap_body_cuts_at_a_line_and_closes_open_blocks() -> None:
    body = "<details><summary>x</summary>\n\n```diff\n" + "\n".join(
        f"+ line {i}" for i in range(5000)
    )
    capped, truncated = cap_body(body, 10_000, "See artifact plan-full.")
    assert truncated
    assert len(capped) <= 10_000
    assert capped.count("```") % 2 == 0
    assert capped.count("<details") == capped.count("</details>")
    assert capped.rstrip().endswith("See artifact plan-full.")
    assert "+ line 4999" not in capped


def test_artifact_hint_links_the_run() -> None:
    env = {
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_RUN_ID": "42",
    }
    assert "https://github.com/acme/specs/actions/runs/42" in artifact_hint_from_env(env)
    assert artifact_hint_from_env({}) == ""


# --- where the pull request comes from -------------------------------------------------------


def _event(tmp_path: Path, payload: object) -> str:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    "payload",
    [{"pull_request": {"number": 12}}, {"issue": {"number": 12}}, {"number": 12}],
    ids=["pull_request", "issue_comment", "number"],
)
def test_pr_number_from_event_payload(tmp_path: Path, payload: object) -> None:
    env = {
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_EVENT_PATH": _event(tmp_path, payload),
    }
    pr = pull_request_from_env(env)
    assert (pr.repository, pr.number, pr.api_url) == (REPO, 12, "https://api.github.com")
    assert TOKEN not in repr(pr)


def test_arguments_win_over_environment(tmp_path: Path) -> None:
    env = {
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_REPOSITORY": "other/repo",
        "GITHUB_API_URL": "https://ghe.example/api/v3/",
        "GITHUB_EVENT_PATH": _event(tmp_path, {"number": 1}),
    }
    pr = pull_request_from_env(env, repository=REPO, number=9)
    assert (pr.repository, pr.number, pr.api_url) == (REPO, 9, "https://ghe.example/api/v3")


@pytest.mark.parametrize(
    ("env", "args", "message"),
    [
        ({}, {}, "GITHUB_TOKEN is not set"),
        ({"GITHUB_TOKEN": TOKEN}, {"number": 1}, "pass --repo owner/name"),
        ({"GITHUB_TOKEN": TOKEN}, {"number": 1, "repository": "acme"}, "owner/name"),
        ({"GITHUB_TOKEN": TOKEN, "GITHUB_REPOSITORY": REPO}, {}, "pass --pr N"),
        (
            {"GITHUB_TOKEN": TOKEN, "GITHUB_REPOSITORY": REPO},
            {"number": 1, "api_url": "http://ghe.example"},
            "would send the token unencrypted",
        ),
        (
            {"GITHUB_TOKEN": TOKEN, "GITHUB_REPOSITORY": REPO},
            {"number": 0},
            "positive integer",
        ),
    ],
    ids=["no-token", "no-repo", "bad-repo", "no-pr", "plain-http", "zero"],
)
def test_missing_or_bad_context_is_a_clear_error(
    env: dict[str, str], args: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        pull_request_from_env(env, **args)  # type: ignore[arg-type]
    assert TOKEN not in str(info.value)


def test_event_that_is_not_about_a_pull_request(tmp_path: Path) -> None:
    env = {
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_EVENT_PATH": _event(tmp_path, {"ref": "refs/heads/main"}),
    }
    with pytest.raises(ConfigError, match="not about a pull request"):
        pull_request_from_env(env)


def test_unreadable_event_payload(tmp_path: Path) -> None:
    env = {
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_EVENT_PATH": str(tmp_path / "missing.json"),
    }
    with pytest.raises(ConfigError, match="cannot read the event payload"):
        pull_request_from_env(env)


# --- the client against the fake -------------------------------------------------------------


def test_upsert_creates_then_updates_then_leaves_alone(fake: FakeGitHub) -> None:
    with _client(fake) as client:
        first = upsert_comment(client, "plan v1")
        second = upsert_comment(client, "plan v2")
        third = upsert_comment(client, "plan v2")
    assert (first.action, second.action, third.action) == ("created", "updated", "unchanged")
    assert first.comment_id == second.comment_id == third.comment_id
    comments = fake.comments(REPO, 7)
    assert len(comments) == 1
    assert comments[0]["body"] == f"{DEFAULT_MARKER}\nplan v2"


def test_pagination_finds_the_comment_on_a_later_page(fake: FakeGitHub) -> None:
    for i in range(230):
        fake.add_comment(REPO, 7, f"chatter {i}")
    ours = fake.add_comment(REPO, 7, f"{DEFAULT_MARKER}\nold plan", user="github-actions[bot]")
    with _client(fake) as client:
        assert len(client.list_comments()) == 231
        result = upsert_comment(client, "new plan")
    assert (result.action, result.comment_id) == ("updated", ours)
    assert len(fake.comments(REPO, 7)) == 231
    pages = [p for m, p in fake.requests if m == "GET" and p.endswith("/comments")]
    assert len(pages) == 6  # 3 pages per listing, two listings


def test_another_marker_is_another_comment(fake: FakeGitHub) -> None:
    with _client(fake) as client:
        upsert_comment(client, "plan")
        upsert_comment(client, "drift", marker="<!-- reconciler:drift -->")
    assert len(fake.comments(REPO, 7)) == 2


def test_oversized_body_is_capped_and_points_at_the_artifact(fake: FakeGitHub) -> None:
    body = "\n".join(f"| row {i} | {'x' * 80} |" for i in range(2000))
    with _client(fake) as client:
        result = upsert_comment(client, body, artifact_hint="Download artifact reconciler-plan.")
    assert result.truncated
    stored = fake.comments(REPO, 7)[0]["body"]
    assert len(stored) <= 65_000
    assert stored.startswith(DEFAULT_MARKER)
    assert "Download artifact reconciler-plan." in stored


def test_401_is_an_auth_error_without_the_token(fake: FakeGitHub) -> None:
    wrong = "ghp_wrong_token_secret_value"
    with _client(fake, token=wrong) as client, pytest.raises(AuthError) as info:
        upsert_comment(client, "plan")
    assert info.value.status == 401
    assert "Bad credentials" in str(info.value)
    assert wrong not in str(info.value)


def test_403_read_only_token_explains_permissions(fake: FakeGitHub) -> None:
    fake.read_only = True
    with _client(fake) as client, pytest.raises(ApiError) as info:
        upsert_comment(client, "plan")
    assert info.value.status == 403
    assert "pull-requests: write" in str(info.value)
    assert "forks" in str(info.value)


def test_403_rate_limit_is_named(fake: FakeGitHub) -> None:
    fake.rate_limited = True
    with _client(fake) as client, pytest.raises(ApiError, match="rate limit"):
        client.list_comments()


def test_404_names_the_pull_request(fake: FakeGitHub) -> None:
    with _client(fake, number=99) as client, pytest.raises(ApiError) as info:
        upsert_comment(client, "plan")
    assert info.value.status == 404
    assert "acme/specs#99 was not found" in str(info.value)


def test_transient_5xx_is_retried(fake: FakeGitHub) -> None:
    fake.fail_next = [502, 503]
    with _client(fake) as client:
        assert upsert_comment(client, "plan").action == "created"


def test_persistent_5xx_fails_after_the_retries(fake: FakeGitHub) -> None:
    fake.fail_next = [502, 502, 502]
    with _client(fake) as client, pytest.raises(ApiError, match="502"):
        client.list_comments()


def test_unreachable_api_is_a_clear_error() -> None:
    pr = PullRequestRef(api_url="http://127.0.0.1:9", repository=REPO, number=1, token=TOKEN)
    settings = github_http_settings(max_attempts=1)
    with GitHubClient(pr, settings=settings) as client, pytest.raises(ApiError) as info:
        client.list_comments()
    assert "cannot reach GitHub" in str(info.value)
    assert TOKEN not in str(info.value)


def test_an_answer_that_is_not_json_is_a_clear_error(fake: FakeGitHub) -> None:
    fake.html_answers = True
    with _client(fake) as client, pytest.raises(ApiError, match="not a JSON list"):
        client.list_comments()
    with _client(fake) as client, pytest.raises(ApiError, match="has no comment id"):
        client.create_comment("plan")


# --- issue 12: whose comment is edited, where the token goes, how rate limits are waited ------


def test_a_planted_marker_comment_is_never_edited(fake: FakeGitHub) -> None:
    """Before the bot's first run, someone posts a comment with the marker line: editing it
    would let its author rewrite the plan afterwards (issue 12, item 15)."""
    planted = fake.add_comment(REPO, 7, f"{DEFAULT_MARKER}\nNothing to apply", user="mallory")
    with _client(fake) as client:
        result = upsert_comment(client, "plan: 3 to change")
    assert result.action == "created" and result.comment_id != planted
    assert result.impostors == ("mallory",)
    kept = fake.find(planted)
    assert kept is not None and kept["body"] == f"{DEFAULT_MARKER}\nNothing to apply"
    assert ("PATCH", f"/repos/{REPO}/issues/comments/{planted}") not in fake.requests


def test_a_personal_token_edits_only_its_users_comment(fake: FakeGitHub) -> None:
    fake.login = "alice"
    bots = fake.add_comment(REPO, 7, f"{DEFAULT_MARKER}\nby the bot", user="github-actions[bot]")
    alices = fake.add_comment(REPO, 7, f"{DEFAULT_MARKER}\nby alice", user="alice")
    with _client(fake) as client:
        result = upsert_comment(client, "new plan")
    assert (result.action, result.comment_id) == ("updated", alices)
    kept = fake.find(bots)
    assert kept is not None and kept["body"].endswith("by the bot")


def test_pagination_to_another_origin_gets_no_token(fake: FakeGitHub) -> None:
    """The Link header points at another port of this machine: a different origin."""
    for i in range(120):
        fake.add_comment(REPO, 7, f"chatter {i}")
    with serve(FakeGitHub(token="the-other-fake-knows-no-token")) as elsewhere:
        fake.link_base = elsewhere
        with _client(fake) as client, pytest.raises(ApiError, match="is not at") as info:
            client.list_comments()
    assert TOKEN not in str(info.value)


class DowngradingGitHub(httpx.AsyncBaseTransport):
    """GitHub over https whose pagination Link says http:// on the same host and port.

    A fake transport, not a server: the emulator has no TLS, and a test certificate the client
    trusts would need a switch the client must not have. What matters is which URLs the client
    asks for, and this records them.
    """

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((str(request.url), request.headers.get("authorization")))
        if request.url.path == "/user":
            return httpx.Response(403, json={"message": "Resource not accessible by integration"})
        link = f'<http://api.github.example:8443{request.url.path}?page=2>; rel="next"'
        return httpx.Response(200, json=[], headers={"link": link})


def test_an_https_to_http_link_is_refused_before_the_token_is_sent() -> None:
    api = (
        "https://api.github.example:8443"  # same host and port as the link: only the scheme differs
    )
    pr = PullRequestRef(api_url=api, repository=REPO, number=7, token=TOKEN)
    transport = DowngradingGitHub()
    with (
        GitHubClient(pr, settings=FAST, transport=transport) as client,
        pytest.raises(ApiError, match=re.escape(f"is not at {api}")) as info,
    ):
        client.list_comments()
    assert all(url.startswith("https://") for url, _ in transport.seen)
    assert len(transport.seen) == 1
    assert TOKEN not in str(info.value)


def test_a_rate_limit_with_a_reset_is_waited_for(fake: FakeGitHub) -> None:
    """GitHub answers a spent rate limit with 403, x-ratelimit-remaining: 0 and the reset time;
    the shared session waits until then instead of failing (issue 11, item 3)."""
    fake.rate_limit_reset_in = 1.0
    start = time.monotonic()
    with _client(fake) as client:
        assert client.list_comments() == []
    assert 0.5 < time.monotonic() - start < 10
