"""Which pull request or repository, where GitHub's API is, and the token: from the arguments
and the environment GitHub Actions sets up (``GITHUB_TOKEN``, ``GITHUB_REPOSITORY``,
``GITHUB_API_URL``, ``GITHUB_EVENT_PATH``)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.errors import ConfigError
from reconciler.remote.http.urls import check_api_url

DEFAULT_API_URL = "https://api.github.com"
_REPO_RE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


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
