"""The GitHub REST client over the shared :class:`~reconciler.remote.http.HttpSession`."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import httpx

from reconciler.errors import ApiError, AuthError, ConfigError
from reconciler.remote.github.context import PullRequestRef, RepositoryRef
from reconciler.remote.http import AuthScheme, Endpoint, HttpSession, HttpSettings, Secret

#: A pull request with more comments than this is not worth scanning further.
MAX_PAGES = 100
PER_PAGE = 100
API_VERSION = "2022-11-28"

#: What GitHub accepts as a commit status's state, and the longest description it keeps.
CommitState = Literal["error", "failure", "pending", "success"]
STATUS_DESCRIPTION_LIMIT = 140


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
