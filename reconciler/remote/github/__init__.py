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

from reconciler.remote.github.client import (
    ACTIONS_BOT,
    GITHUB_AUTH,
    CommitState,
    GitHubClient,
    github_http_settings,
)
from reconciler.remote.github.comments import (
    COMMENT_LIMIT,
    DEFAULT_MARKER,
    CommentResult,
    author,
    cap_body,
    find_marked,
    marked,
    upsert_comment,
    with_marker,
)
from reconciler.remote.github.context import (
    DEFAULT_API_URL,
    PullRequestRef,
    RepositoryRef,
    artifact_hint_from_env,
    pull_request_from_env,
    repository_from_env,
)

__all__ = [
    "ACTIONS_BOT",
    "COMMENT_LIMIT",
    "DEFAULT_API_URL",
    "DEFAULT_MARKER",
    "GITHUB_AUTH",
    "CommentResult",
    "CommitState",
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
