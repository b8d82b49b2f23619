"""Post the plan to a pull request as ONE comment that is updated in place on every push, and
set commit statuses (``reconciler agent --github-status``).

A pull request that gets a new plan comment on every push buries the review under stale plans
(a common complaint about Atlantis). So the comment carries a hidden marker line, and each run
finds the comment whose body has that line, edits it, or creates it when there is none.

Only the GitHub REST endpoints below are used, with the workflow's ``GITHUB_TOKEN``:

- ``GET   /repos/{owner}/{repo}/issues/{number}/comments`` (paginated through ``Link``)
- ``POST  /repos/{owner}/{repo}/issues/{number}/comments``
- ``PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}``
- ``POST  /repos/{owner}/{repo}/statuses/{sha}`` (a commit status)

The token is read from the environment only, sent only in the ``Authorization`` header and
redacted from every error message.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import ip_address
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from reconciler.errors import ApiError, AuthError, ConfigError

__all__ = [
    "COMMENT_LIMIT",
    "DEFAULT_API_URL",
    "DEFAULT_MARKER",
    "CommentResult",
    "GitHubClient",
    "PullRequestRef",
    "RepositoryRef",
    "artifact_hint_from_env",
    "cap_body",
    "find_marked",
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
RETRY_STATUSES = frozenset({502, 503, 504})
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
    url = (api_url or env.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")
    _check_api_url(url)
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


def _check_api_url(url: str) -> None:
    """The token goes to this URL, so plain http is allowed only to this machine."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and _is_loopback(parts.hostname):
        return
    raise ConfigError(
        f"GitHub API URL '{url}' must be https:// (plain http:// only for loopback addresses)"
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


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


def find_marked(comments: Sequence[Mapping[str, Any]], marker: str) -> Mapping[str, Any] | None:
    """The oldest comment that has the marker as a whole line.

    A whole line, not a substring: someone quoting our comment in a reply gets ``> `` in front of
    it, and their comment must never be overwritten.
    """
    for comment in comments:
        body = comment.get("body")
        if not isinstance(comment.get("id"), int):
            continue
        if isinstance(body, str) and marker in (line.rstrip("\r") for line in body.split("\n")):
            return comment
    return None


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


class GitHubClient:
    """The three issue-comment endpoints and commit statuses, with errors that say what to fix.

    Made for a pull request it can do both; made for a repository, commit statuses only.
    """

    def __init__(
        self,
        pr: PullRequestRef | RepositoryRef,
        *,
        timeout: float = 30.0,
        retry_delays: Sequence[float] = (1.0, 3.0),
    ) -> None:
        self._pr = pr
        self._retry_delays = tuple(retry_delays)
        self._client = httpx.Client(
            base_url=pr.api_url,
            timeout=timeout,
            headers={
                "Authorization": f"Bearer {pr.token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "reconciler-comment",
            },
        )

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def list_comments(self) -> list[dict[str, Any]]:
        """Every comment of the pull request, following ``Link: rel="next"`` page by page."""
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
            url = self._next_url(response)
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

    def _next_url(self, response: httpx.Response) -> str | None:
        link = response.links.get("next", {}).get("url")
        if not link:
            return None
        # Follow only links to the same API; the token must not travel anywhere else.
        if urlsplit(link).netloc != urlsplit(self._pr.api_url).netloc:
            raise self._error(response, "list comments", "pagination pointed at another host")
        return link

    def _send(
        self, method: str, url: str, *, what: str, payload: dict[str, Any] | None = None
    ) -> httpx.Response:
        attempts = len(self._retry_delays) + 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = self._client.request(method, url, json=payload)
            except httpx.HTTPError as exc:
                if last:
                    raise ApiError(
                        self._redact(f"cannot reach GitHub at {self._pr.api_url}: {exc}"),
                        request=f"{method} {what}",
                        transient=True,
                    ) from None
            else:
                if response.status_code not in RETRY_STATUSES or last:
                    self._raise_for_status(response, f"{method} {what}")
                    return response
            time.sleep(self._retry_delays[attempt])
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _raise_for_status(self, response: httpx.Response, request: str) -> None:
        status = response.status_code
        if status < 400:
            return
        server = _server_message(response)
        if status == 401:
            raise AuthError(
                self._redact(
                    f"GitHub refused the token (401: {server}); check that GITHUB_TOKEN is the "
                    "workflow's token or a valid personal access token"
                ),
                request=request,
                status=status,
            )
        if status == 403 and response.headers.get("x-ratelimit-remaining") == "0":
            detail = "GitHub's API rate limit is exhausted; run again later"
        elif status in {403, 404} and not isinstance(self._pr, PullRequestRef):
            detail = (
                f"the token cannot set commit statuses on {self._pr.label} (or cannot see it); "
                "it needs `statuses: write` (fine-grained: Commit statuses, read and write)"
            )
        elif status == 403:
            detail = (
                "the token may not comment on this pull request; the job needs "
                "`permissions: pull-requests: write`, and on pull requests from forks the "
                "GITHUB_TOKEN is read-only (see docs/ci.md, 'Pull requests from forks')"
            )
        elif status == 404:
            detail = (
                f"{self._pr.label} was not found, or the token cannot see it; check --repo, "
                "--pr and the token's repository access"
            )
        elif status == 422:
            detail = "GitHub rejected the request body (too long or malformed)"
        else:
            detail = "GitHub answered with an error"
        raise ApiError(
            self._redact(f"{detail} ({status}: {server})"), request=request, status=status
        )

    def _object(self, response: httpx.Response, what: str) -> dict[str, Any]:
        data = _json(response)
        if not isinstance(data, dict) or not isinstance(data.get("id"), int):
            raise self._error(response, what, "the answer has no comment id")
        return data

    def _error(self, response: httpx.Response, what: str, detail: str) -> ApiError:
        return ApiError(
            self._redact(f"unexpected answer from GitHub: {detail}"),
            request=what,
            status=response.status_code,
        )

    def _redact(self, text: str) -> str:
        return text.replace(self._pr.token, "***") if self._pr.token else text


def _json(response: httpx.Response) -> Any:
    """The decoded body, or None when it is not JSON (a proxy's HTML error page, say)."""
    try:
        return response.json()
    except ValueError:
        return None


def _server_message(response: httpx.Response) -> str:
    data = _json(response)
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return str(data["message"])[:300]
    return response.reason_phrase or "no message"


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
    existing = find_marked(client.list_comments(), marker)
    if existing is None:
        created = client.create_comment(capped)
        return CommentResult("created", int(created["id"]), _url(created), truncated)
    comment_id = int(existing["id"])
    if existing.get("body") == capped:
        return CommentResult("unchanged", comment_id, _url(existing), truncated)
    updated = client.update_comment(comment_id, capped)
    return CommentResult("updated", comment_id, _url(updated), truncated)


def _url(comment: Mapping[str, Any]) -> str:
    url = comment.get("html_url")
    return url if isinstance(url, str) else ""
