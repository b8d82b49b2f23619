"""``reconciler comment``: post Markdown (the plan) as one pull-request comment, kept current.

Runs in a GitHub Actions job after ``reconciler plan --format markdown``; see docs/ci.md.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from reconciler.cli.common import echo_err, handle_errors, main
from reconciler.errors import ConfigError
from reconciler.remote.github import (
    COMMENT_LIMIT,
    DEFAULT_MARKER,
    GitHubClient,
    artifact_hint_from_env,
    pull_request_from_env,
    upsert_comment,
)


@main.command("comment")
@click.option(
    "--body-file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Markdown to post, e.g. the output of `reconciler plan --format markdown`.",
)
@click.option(
    "--marker",
    default=DEFAULT_MARKER,
    show_default=True,
    help="Hidden line that identifies the comment to update; one marker per kind of comment.",
)
@click.option("--pr", "number", type=click.IntRange(min=1), help="Pull request number.")
@click.option("--repo", "repository", help="owner/name [default: $GITHUB_REPOSITORY]")
@click.option("--api-url", help="GitHub API URL [default: $GITHUB_API_URL or api.github.com]")
@click.option(
    "--artifact-hint",
    default=None,
    help="Text that says where the full body is when the comment is cut "
    "[default: a link to this workflow run's artifacts].",
)
@handle_errors
def comment(
    *,
    body_file: Path,
    marker: str,
    number: int | None,
    repository: str | None,
    api_url: str | None,
    artifact_hint: str | None,
) -> None:
    """Create or update the one pull-request comment that carries MARKER (token: $GITHUB_TOKEN).

    Without --pr the number comes from the workflow's event payload ($GITHUB_EVENT_PATH).
    """
    body = _read_body(body_file)
    if not marker.strip() or "\n" in marker:
        raise ConfigError("--marker must be one non-empty line, e.g. '<!-- reconciler:plan -->'")
    pr = pull_request_from_env(os.environ, repository=repository, number=number, api_url=api_url)
    hint = artifact_hint if artifact_hint is not None else artifact_hint_from_env(os.environ)
    with GitHubClient(pr) as client:
        result = upsert_comment(
            client, body, marker=marker.strip(), limit=COMMENT_LIMIT, artifact_hint=hint
        )
    if result.impostors:
        echo_err(
            f"warning: left alone comments by {', '.join(result.impostors)} that carry the "
            "marker: only the token's own comment is ever edited"
        )
    if result.truncated:
        echo_err(f"warning: the body was cut to {COMMENT_LIMIT:,} characters (GitHub's limit)")
    click.echo(f"{result.action} comment {result.comment_id} on {pr.label} {result.url}".rstrip())


def _read_body(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"--body-file {path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"--body-file {path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"--body-file {path}: cannot read it ({exc.strerror})") from None
