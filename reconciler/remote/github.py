"""Post the plan to a pull request as ONE comment that is updated in place on every push, and
set commit statuses (``reconciler agent --github-status``).

A pull request that gets a new plan comment on every push buries the review under stale plans
(a common complaint about Atlantis). So the comment carries a hidden marker line, and each run
finds the comment whose body has that line AND whose author is the token's own identity, edits
it, or creates it when there is none. Anyone can post a comment carrying the marker line; were
it edited, its author could later rewrite the plan a reviewer reads ("Nothing to apply").

Only the GitHub REST endpoints below are used, with the workflow's ``GITHUB_TOKEN``:

- ``GET   /user`` (who the token is; the workflow's token cannot ask, and is the Actions bot)
- ``GET   /repos/{owner}/{repo}/issues/{number}/comments`` (paginated through ``Link``)
- ``POST  /repos/{owner}/{repo}/issues/{number}/comments``
- ``PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}``
- ``POST  /repos/{owner}/{repo}/statuses/{sha}`` (a commit status)

The token is read from the environment only and sent only in the ``Authorization`` header of
requests to the configured API's origin; retries, rate limits, redaction and the URL policy are
the shared HTTP session's (docs/security.md).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx

from reconciler.errors import ApiError, AuthError, ConfigError
from reconciler.remote.http import AuthScheme, Endpoint, HttpSession, HttpSettings, Secret
from reconciler.remote.http.urls import check_api_url

__all__ = [
    "COMMENT_LIMIT",
    "DEFAULT_API_URL",
    "DEFAULT_MARKER",
    "CommentResult",
    "GitHubClient",
    "PullRequestRef",
    "RepositoryRef",
    "artifact_hint_from_env",
    "author",
    "cap_body",
    "find_marked",
    "github_http_settings",
    "marked",
    "pull_request_from_env",
    "repository_from_env",
    "upsert_comment",
    "with_marker",
]

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_MARKER = "<!-- reconciler:plan -->"
#: GitHub rejects comment bodies over 65,536 characters; stay clearly below it.
COMMENT_LIMIT = 65_000
#: A pull request with more comments than this is not worth scanning further.
MAX_PAGES = 100
PER_PAGE = 100
API_VERSION = "2022-11-28"
_REPO_RE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


#: What GitHub accepts as a commit status's state, and the longest description it keeps.
CommitState = Literal["error", "failure", "pending", "success"]
STATUS_DESCRIPTION_LIMIT = 140


@dataclass(frozen=True)
class RepositoryRef:
    """A repository, where the API is, and the token (never printed): for commit statuses."""

    api_url: str
    repository: str
    token: str = field(repr=False)

    @property
    def label(self) -> str:
        return self.repository


@dataclass(frozen=True)
class PullRequestRef:
    """Which pull request to comment on, where the API is, and the token (never printed)."""

    api_url: str
    repository: str
    number: int
    token: str = field(repr=False)

    @property
    def label(self) -> str:
        return f"{self.repository}#{self.number}"


@dataclass(frozen=True)
class CommentResult:
    """What the upsert did, for the CLI to report."""

    action: Literal["created", "updated", "unchanged"]
    comment_id: int
    url: str
    truncated: bool
    #: Authors of other comments that carry the marker: never edited, worth a warning.
    impostors: tuple[str, ...] = ()


def repository_from_env(
    env: Mapping[str, str],
    *,
    repository: str | None = None,
    api_url: str | None = None,
    permission: str = "pull-requests: write",
) -> RepositoryRef:
    """The token, the repository and the API URL: arguments win over the environment GitHub
    Actions sets up; anything missing is an error that names the ``permission`` needed."""
    token = env.get("GITHUB_TOKEN", "")
    if not token:
        raise ConfigError(
            "GITHUB_TOKEN is not set; in a workflow pass it as `env: GITHUB_TOKEN: "
            f"${{{{ secrets.GITHUB_TOKEN }}}}` (the job needs `permissions: {permission}`)"
        )
    repo = repository or env.get("GITHUB_REPOSITORY", "")
    if not repo:
        raise ConfigError("no repository: pass --repo owner/name or set GITHUB_REPOSITORY")
    if not _REPO_RE.match(repo):
        raise ConfigError(f"repository '{repo}' is not of the form owner/name")
    what = "--api-url" if api_url else "GITHUB_API_URL"
    url = check_api_url(api_url or env.get("GITHUB_API_URL") or DEFAULT_API_URL, what)
    return RepositoryRef(api_url=url, repository=repo, token=token)


def pull_request_from_env(
    env: Mapping[str, str],
    *,
    repository: str | None = None,
    number: int | None = None,
    api_url: str | None = None,
) -> PullRequestRef:
    """Arguments win over the environment GitHub Actions sets up; anything missing is an error.

    The pull request number comes from ``--pr`` or from the event payload at ``GITHUB_EVENT_PATH``
    (``pull_request``, ``pull_request_target`` and ``issue_comment`` events all carry it).
    """
    repo = repository_from_env(env, repository=repository, api_url=api_url)
    pr = number if number is not None else _number_from_event(env.get("GITHUB_EVENT_PATH", ""))
    if pr < 1:
        raise ConfigError(f"pull request number must be a positive integer, got {pr}")
    return PullRequestRef(
        api_url=repo.api_url, repository=repo.repository, number=pr, token=repo.token
    )


def _number_from_event(event_path: str) -> int:
    if not event_path:
        raise ConfigError(
            "no pull request number: pass --pr N, or run in a pull_request workflow "
            "(GITHUB_EVENT_PATH is not set)"
        )
    try:
        event = json.loads(Path(event_path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the event payload {event_path}: {exc}") from exc
    number = _event_number(event)
    if number is None:
        raise ConfigError(
            f"the event payload {event_path} is not about a pull request "
            "(no pull_request.number, issue.number or number); pass --pr N"
        )
    return number


def _event_number(event: Any) -> int | None:
    if not isinstance(event, dict):
        return None
    for key in ("pull_request", "issue"):
        inner = event.get(key)
        if isinstance(inner, dict) and isinstance(inner.get("number"), int):
            return int(inner["number"])
    number = event.get("number")
    return number if isinstance(number, int) and not isinstance(number, bool) else None


def artifact_hint_from_env(env: Mapping[str, str]) -> str:
    """Where a reader finds the full plan when the comment had to be cut: this run's artifacts."""
    server = env.get("GITHUB_SERVER_URL", "").rstrip("/")
    repo = env.get("GITHUB_REPOSITORY", "")
    run_id = env.get("GITHUB_RUN_ID", "")
    if server and repo and run_id:
        run = f"{server}/{repo}/actions/runs/{run_id}"
        return f"The full plan is attached to this workflow run as an artifact: {run}"
    return ""


def with_marker(body: str, marker: str) -> str:
    """The body with the marker as its first line, so the next run can find this comment."""
    if marker in body.splitlines():
        return body
    return f"{marker}\n{body}"


def marked(comments: Sequence[Mapping[str, Any]], marker: str) -> list[Mapping[str, Any]]:
    """The comments that have the marker as a whole line, oldest first.

    A whole line, not a substring: someone quoting our comment in a reply gets ``> `` in front of
    it, and their comment must never be overwritten.
    """
    found = []
    for comment in comments:
        body = comment.get("body")
        if not isinstance(comment.get("id"), int):
            continue
        if isinstance(body, str) and marker in (line.rstrip("\r") for line in body.split("\n")):
            found.append(comment)
    return found


def author(comment: Mapping[str, Any]) -> str:
    user = comment.get("user")
    login = user.get("login") if isinstance(user, Mapping) else None
    return login if isinstance(login, str) else ""


def find_marked(
    comments: Sequence[Mapping[str, Any]], marker: str, owner: str
) -> Mapping[str, Any] | None:
    """The oldest marked comment written by ``owner`` (the token's identity); never another's."""
    if not owner:
        return None  # an author we cannot name is nobody's comment to edit
    return next((c for c in marked(comments, marker) if author(c) == owner), None)


def cap_body(body: str, limit: int, artifact_hint: str) -> tuple[str, bool]:
    """Cut an over-long body at a line boundary, close what the cut left open, point at the rest.

    The Markdown renderer caps its own output; this is the last guard before GitHub's hard limit,
    for bodies that did not come from it.
    """
    if len(body) <= limit:
        return body, False
    note = (
        "\n\n**This comment was cut to fit GitHub's size limit.** "
        f"{artifact_hint or 'The full plan is in the workflow run artifacts.'}\n"
    )
    # Room for the note and for closing tags the cut may leave open.
    budget = max(0, limit - len(note) - 200)
    kept = body[:budget]
    if "\n" in kept:
        kept = kept[: kept.rindex("\n")]
    closing = ""
    if sum(1 for line in kept.split("\n") if line.lstrip().startswith("```")) % 2:
        closing += "\n```"
    open_details = kept.count("<details") - kept.count("</details>")
    closing += "\n</details>" * max(0, open_details)
    return kept + closing + note, True


GITHUB_AUTH = AuthScheme(
    header="Authorization",
    prefix="Bearer ",
    refused_hint=(
        "GitHub refused the token; check that GITHUB_TOKEN is the workflow's token or a valid "
        "personal access token"
    ),
)
#: Who the workflow's GITHUB_TOKEN comments as; that token cannot call ``GET /user``.
ACTIONS_BOT = "github-actions[bot]"


def github_http_settings(**overrides: Any) -> HttpSettings:
    """The shared policy for the few sequential requests of a comment."""
    return HttpSettings(**{"concurrency": 2, "timeout_seconds": 30.0, **overrides})


class GitHubClient:
    """The issue-comment and commit-status endpoints over the shared :class:`HttpSession`
    (made for a repository, commit statuses only): its retries (with
    ``Retry-After`` and GitHub's rate-limit reset), redaction and URL policy, nothing of its own.

    Synchronous for the CLI: one private event loop runs the session for the client's life.
    ``transport`` is for tests of what no local server can do (TLS downgrades).
    """

    def __init__(
        self,
        pr: PullRequestRef | RepositoryRef,
        *,
        settings: HttpSettings | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._pr = pr
        self._runner = asyncio.Runner()
        endpoint = Endpoint(
            url=pr.api_url, token=Secret(pr.token), name="GitHub", token_source="GITHUB_TOKEN"
        )
        self._session: HttpSession = self._runner.run(
            self._open(endpoint, settings or github_http_settings(), transport)
        )

    @staticmethod
    async def _open(
        endpoint: Endpoint, settings: HttpSettings, transport: httpx.AsyncBaseTransport | None
    ) -> HttpSession:
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION}
        return HttpSession(
            endpoint, settings, auth=GITHUB_AUTH, transport=transport, headers=headers
        )

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._runner.run(self._session.aclose())
        finally:
            self._runner.close()

    def identity(self) -> str:
        """The login comments by this token carry: ``GET /user``, or the Actions bot for the
        workflow's token (an installation token, which ``/user`` refuses with 403)."""
        try:
            user = self._object(self._send("GET", "/user", what="who am I"), "who am I", "login")
        except ApiError as exc:
            if exc.status == 403 and "not accessible by integration" in exc.message:
                return ACTIONS_BOT
            raise
        return str(user["login"])

    def list_comments(self) -> list[dict[str, Any]]:
        """Every comment of the pull request, following ``Link: rel="next"`` page by page; a
        link to another origin (host, port, or https → http) is refused by the session."""
        path = f"/repos/{self._pr.repository}/issues/{self._number()}/comments"
        url: str | None = f"{path}?per_page={PER_PAGE}"
        comments: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            if url is None:
                break
            response = self._send("GET", url, what=f"list comments of {self._pr.label}")
            page = _json(response)
            if not isinstance(page, list):
                raise self._error(response, "list comments", "the answer is not a JSON list")
            comments.extend(c for c in page if isinstance(c, dict))
            url = response.links.get("next", {}).get("url") or None
        return comments

    def create_comment(self, body: str) -> dict[str, Any]:
        path = f"/repos/{self._pr.repository}/issues/{self._number()}/comments"
        response = self._send("POST", path, payload={"body": body}, what="create comment")
        return self._object(response, "create comment")

    def update_comment(self, comment_id: int, body: str) -> dict[str, Any]:
        path = f"/repos/{self._pr.repository}/issues/comments/{comment_id}"
        response = self._send("PATCH", path, payload={"body": body}, what="update comment")
        return self._object(response, "update comment")

    def create_commit_status(
        self, sha: str, state: CommitState, description: str, context: str
    ) -> dict[str, Any]:
        """Set ``context``'s status on commit ``sha`` (the description is cut to GitHub's 140)."""
        path = f"/repos/{self._pr.repository}/statuses/{sha}"
        payload = {
            "state": state,
            "description": description[:STATUS_DESCRIPTION_LIMIT],
            "context": context,
        }
        response = self._send("POST", path, payload=payload, what="set a commit status")
        return self._object(response, "set a commit status")

    def _number(self) -> int:
        if not isinstance(self._pr, PullRequestRef):
            raise ConfigError("comments need a pull request; this client was made for statuses")
        return self._pr.number

    def _send(
        self, method: str, url: str, *, what: str, payload: dict[str, Any] | None = None
    ) -> httpx.Response:
        request = self._session.request(method, url, json=payload)
        try:
            return self._runner.run(request)
        except AuthError:
            raise
        except ApiError as exc:
            raise self._explained(exc, f"{method} {what}") from exc

    def _explained(self, exc: ApiError, request: str) -> ApiError:
        """The session's error with what to do about it on GitHub."""
        if exc.status is None:
            text = f"cannot reach GitHub at {self._pr.api_url}: {exc.message}"
            return ApiError(text, request=request, transient=exc.transient)
        detail = _ADVICE.get(exc.status, "GitHub answered with an error")
        if exc.status == 403 and "rate limit" in exc.message.lower():
            detail = "GitHub's API rate limit is exhausted; run again later"
        elif exc.status in {403, 404} and not isinstance(self._pr, PullRequestRef):
            detail = (
                f"the token cannot set commit statuses on {self._pr.label} (or cannot see it); "
                "it needs `statuses: write` (fine-grained: Commit statuses, read and write)"
            )
        elif exc.status == 404:
            detail = detail.format(label=self._pr.label)
        return ApiError(f"{detail} ({exc.message})", request=request, status=exc.status)

    def _object(self, response: httpx.Response, what: str, key: str = "id") -> dict[str, Any]:
        data = _json(response)
        expected = int if key == "id" else str
        if not isinstance(data, dict) or not isinstance(data.get(key), expected):
            raise self._error(response, what, f"the answer has no {_NAMES[key]}")
        return data

    def _error(self, response: httpx.Response, what: str, detail: str) -> ApiError:
        return ApiError(
            f"unexpected answer from GitHub: {detail}", request=what, status=response.status_code
        )


_NAMES = {"id": "comment id", "login": "login"}
_ADVICE = {
    403: "the token may not comment on this pull request; the job needs "
    "`permissions: pull-requests: write`, and on pull requests from forks the GITHUB_TOKEN is "
    "read-only (see docs/ci.md, 'Pull requests from forks')",
    404: "{label} was not found, or the token cannot see it; check --repo, --pr and the "
    "token's repository access",
    422: "GitHub rejected the request body (too long or malformed)",
}


def _json(response: httpx.Response) -> Any:
    """The decoded body, or None when it is not JSON (a proxy's HTML error page, say)."""
    try:
        return response.json()
    except (ValueError, RecursionError):
        return None


def upsert_comment(
    client: GitHubClient,
    body: str,
    *,
    marker: str = DEFAULT_MARKER,
    limit: int = COMMENT_LIMIT,
    artifact_hint: str = "",
) -> CommentResult:
    """Create the marked comment, or edit it in place; leave it alone when nothing changed."""
    # Cap first, then mark: the marker must survive the cut wherever the body placed it.
    capped, truncated = cap_body(body, limit - len(marker) - 1, artifact_hint)
    capped = with_marker(capped, marker)
    owner = client.identity()
    comments = client.list_comments()
    others = tuple(sorted({author(c) for c in marked(comments, marker)} - {owner}))
    existing = find_marked(comments, marker, owner)
    if existing is None:
        created = client.create_comment(capped)
        return CommentResult("created", int(created["id"]), _url(created), truncated, others)
    comment_id = int(existing["id"])
    if existing.get("body") == capped:
        return CommentResult("unchanged", comment_id, _url(existing), truncated, others)
    updated = client.update_comment(comment_id, capped)
    return CommentResult("updated", comment_id, _url(updated), truncated, others)


def _url(comment: Mapping[str, Any]) -> str:
    url = comment.get("html_url")
    return url if isinstance(url, str) else ""
