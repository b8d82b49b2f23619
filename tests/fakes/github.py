"""A local fake of the GitHub REST endpoints ``reconciler comment`` uses, served over real HTTP.

It behaves like GitHub where the client depends on it: bearer-token auth (401 "Bad credentials"),
403 for a read-only token, 404 for an unknown repository or pull request, ``per_page``/``page``
pagination with a ``Link`` header, the 65,536-character body limit (422), the three comment
endpoints, commit statuses (``reconciler agent --github-status``), and ``GET /user``: with
``login`` unset the token is the workflow's GITHUB_TOKEN, which ``/user`` refuses (403 "Resource
not accessible by integration") and whose comments are by ``github-actions[bot]``; with ``login``
set it is a personal token of that user. Tests read its state afterwards instead of mocking the
client.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

GITHUB_BODY_LIMIT = 65_536


@dataclass
class FakeGitHub:
    """The fake's state. Pull requests are keyed by ("owner/name", number)."""

    token: str = "ghs_fake_token_0123456789"
    pulls: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)
    #: ("owner/name", sha) -> the statuses set on that commit, oldest first.
    statuses: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    repositories: set[str] = field(default_factory=set)
    read_only: bool = False
    rate_limited: bool = False
    html_answers: bool = False  # a proxy in the way answers 200 with an HTML page
    fail_next: list[int] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    base_url: str = ""
    login: str | None = None
    #: Where pagination links point (default: ``base_url``); a test sets another origin.
    link_base: str | None = None
    #: A spent rate limit that resets this many seconds after it is first met (403 until then).
    rate_limit_reset_in: float | None = None
    _reset_at: float | None = None
    _next_id: int = 1000

    def reset(self) -> None:
        """Forget everything but the token and address, so one server serves many tests."""
        self.pulls.clear()
        self.statuses.clear()
        self.repositories.clear()
        self.requests.clear()
        self.fail_next.clear()
        self.read_only = self.rate_limited = self.html_answers = False
        self.login = self.link_base = None
        self.rate_limit_reset_in = self._reset_at = None

    @property
    def identity(self) -> str:
        return self.login or "github-actions[bot]"

    def add_pull(self, repository: str, number: int) -> None:
        self.pulls.setdefault((repository, number), [])

    def add_comment(self, repository: str, number: int, body: str, user: str = "someone") -> int:
        self._next_id += 1
        comment = {
            "id": self._next_id,
            "body": body,
            "user": {"login": user},
            "html_url": f"https://github.example/{repository}/pull/{number}"
            f"#issuecomment-{self._next_id}",
        }
        self.pulls[(repository, number)].append(comment)
        return self._next_id

    def spent_rate_limit(self) -> Response | None:
        """GitHub's 403 for a spent rate limit, with when it resets, until it has reset."""
        if self.rate_limit_reset_in is None:
            return None
        if self._reset_at is None:
            self._reset_at = time.time() + self.rate_limit_reset_in
        if time.time() >= self._reset_at:
            return None
        spent = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": f"{self._reset_at:.3f}"}
        return _error(403, "API rate limit exceeded", spent)

    def comments(self, repository: str, number: int) -> list[dict[str, Any]]:
        return self.pulls[(repository, number)]

    def find(self, comment_id: int) -> dict[str, Any] | None:
        for comments in self.pulls.values():
            for comment in comments:
                if comment["id"] == comment_id:
                    return comment
        return None


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status, headers=headers)


def build_app(fake: FakeGitHub) -> Starlette:
    """The Starlette app over ``fake``'s state."""

    def guard(request: Request, write: bool) -> Response | None:
        fake.requests.append((request.method, request.url.path))
        if fake.fail_next:
            return _error(fake.fail_next.pop(0), "Server Error")
        if request.headers.get("authorization") != f"Bearer {fake.token}":
            return _error(401, "Bad credentials")
        if (spent := fake.spent_rate_limit()) is not None:
            return spent
        if fake.rate_limited:
            return _error(403, "API rate limit exceeded", {"x-ratelimit-remaining": "0"})
        if write and fake.read_only:
            return _error(403, "Resource not accessible by integration")
        if fake.html_answers:
            return Response("<html><body>Sign in</body></html>", media_type="text/html")
        return None

    async def issue_comments(request: Request) -> Response:
        write = request.method == "POST"
        if (refused := guard(request, write)) is not None:
            return refused
        repo = f"{request.path_params['owner']}/{request.path_params['repo']}"
        key = (repo, int(request.path_params["number"]))
        if key not in fake.pulls:
            return _error(404, "Not Found")
        if write:
            return await create(request, key)
        return list_page(request, key)

    def list_page(request: Request, key: tuple[str, int]) -> Response:
        per_page = min(int(request.query_params.get("per_page", "30")), 100)
        page = int(request.query_params.get("page", "1"))
        comments = fake.pulls[key]
        chunk = comments[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(comments):
            path = request.url.path
            base = fake.link_base or fake.base_url
            headers["link"] = f'<{base}{path}?per_page={per_page}&page={page + 1}>; rel="next"'

        return JSONResponse(chunk, headers=headers)

    async def create(request: Request, key: tuple[str, int]) -> Response:
        body = (await request.json()).get("body")
        if not isinstance(body, str) or len(body) > GITHUB_BODY_LIMIT:
            return _error(422, "Validation Failed")
        comment_id = fake.add_comment(key[0], key[1], body, user=fake.identity)
        return JSONResponse(fake.find(comment_id), status_code=201)

    async def edit_comment(request: Request) -> Response:
        if (refused := guard(request, True)) is not None:
            return refused
        comment = fake.find(int(request.path_params["comment_id"]))
        if comment is None:
            return _error(404, "Not Found")
        body = (await request.json()).get("body")
        if not isinstance(body, str) or len(body) > GITHUB_BODY_LIMIT:
            return _error(422, "Validation Failed")
        comment["body"] = body
        return JSONResponse(comment)

    async def set_status(request: Request) -> Response:
        if (refused := guard(request, True)) is not None:
            return refused
        repo = f"{request.path_params['owner']}/{request.path_params['repo']}"
        if repo not in fake.repositories:
            return _error(404, "Not Found")
        body = await request.json()
        states = {"error", "failure", "pending", "success"}
        if body.get("state") not in states or len(body.get("description", "")) > 140:
            return _error(422, "Validation Failed")
        fake._next_id += 1
        status = {"id": fake._next_id, **body}
        fake.statuses.setdefault((repo, request.path_params["sha"]), []).append(status)
        return JSONResponse(status, status_code=201)

    async def user(request: Request) -> Response:
        if (refused := guard(request, False)) is not None:
            return refused
        if fake.login is None:
            return _error(403, "Resource not accessible by integration")
        return JSONResponse({"login": fake.login, "id": 1})

    return Starlette(
        routes=[
            Route("/user", user, methods=["GET"]),
            Route("/repos/{owner}/{repo}/statuses/{sha}", set_status, methods=["POST"]),
            Route(
                "/repos/{owner}/{repo}/issues/{number:int}/comments",
                issue_comments,
                methods=["GET", "POST"],
            ),
            Route(
                "/repos/{owner}/{repo}/issues/comments/{comment_id:int}",
                edit_comment,
                methods=["PATCH"],
            ),
        ]
    )


@contextmanager
def serve(fake: FakeGitHub) -> Iterator[str]:
    """Serve the fake on 127.0.0.1 (ephemeral port) in a thread; yields its base URL."""
    config = uvicorn.Config(build_app(fake), host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the fake GitHub server did not start")
        threading.Event().wait(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    fake.base_url = f"http://127.0.0.1:{port}"
    try:
        yield fake.base_url
    finally:
        server.should_exit = True
        thread.join(timeout=5)
