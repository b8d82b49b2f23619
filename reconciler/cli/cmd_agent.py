"""``reconciler agent``: pull the desired state from git and keep the target matching it.

The command only parses and wires: the loop, the git source and the server live in
``reconciler.agent``. Everything a user can get wrong (the repository, the signers file, the
listen address, the target) is checked before the server starts, so a typo is exit 1 with a
message, not a controller that runs and fails every pass.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from pathlib import Path

import click

from reconciler.agent import AgentSettings, Reconciler
from reconciler.agent.commitstatus import CommitStatusReporter
from reconciler.agent.gitsource import check_repo_url
from reconciler.agent.server import bind, create_app, serve
from reconciler.agent.webhook import SECRET_ENV
from reconciler.cli.common import echo_err, handle_errors, main
from reconciler.cli.scoping import shard_option
from reconciler.errors import ConfigError
from reconciler.plan.shard import Shard
from reconciler.remote.github import repository_from_env

__all__ = ["agent", "parse_interval"]

_INTERVAL_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_interval(text: str) -> float:
    """``5m``, ``10s``, ``0.2s``, ``1h`` (a bare number is seconds) as seconds > 0."""
    match = _INTERVAL_RE.match(text)
    if match is None:
        raise ConfigError(f"--interval {text}: expected a duration such as 30s, 5m or 1h")
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]
    if seconds <= 0:
        raise ConfigError(f"--interval {text}: must be more than zero")
    return seconds


@main.command("agent", short_help="Keep the target matching a git branch (GitOps pull agent).")
@click.option("--repo", required=True, help="Repository URL (https://, ssh://, git@) or path.")
@click.option("--branch", default="main", show_default=True, help="The branch to follow.")
@click.option("--path", "subdir", default="", help="Folder inside the repository to plan.")
@click.option("--interval", default="5m", show_default=True, help="Time between passes.")
@click.option(
    "--listen",
    default="127.0.0.1:9090",
    show_default=True,
    help="HOST:PORT for /healthz, /readyz, /metrics, /status and POST /hook.",
)
@click.option("--dry-run", is_flag=True, help="Plan every pass, write nothing.")
@click.option(
    "--no-heal", is_flag=True, help="Report drift from the applied revision, do not fix it."
)
@click.option(
    "--verify-commits",
    "signers",
    type=click.Path(dir_okay=False, path_type=Path, exists=True),
    help="Apply only commits signed by a key in this file (SSH allowed signers or PGP keys).",
)
@click.option(
    "--github-status",
    metavar="OWNER/NAME",
    help="Set a commit status on each revision of this GitHub repository ($GITHUB_TOKEN).",
)
@click.option("--target", help="A target named in the repository's reconciler.yaml.")
@click.option("--api-url", help="Zelto API URL (token from $ZELTO_API_KEY) [env: ZELTO_API_URL].")
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".reconciler"),
    show_default=True,
    help="The git cache, the saved status, and the local target's emulator state.",
)
@shard_option
@handle_errors
def agent(
    *,
    repo: str,
    branch: str,
    subdir: str,
    interval: str,
    listen: str,
    dry_run: bool,
    no_heal: bool,
    signers: Path | None,
    github_status: str | None,
    target: str | None,
    api_url: str | None,
    state_dir: Path,
    shard: Shard | None,
) -> None:
    """Every --interval (and at once on a signed GitHub push to POST /hook): fetch --branch,
    plan the commit's tree (never a work tree) and apply it, unless it is refused whole.

    Runs until SIGTERM/Ctrl-C, which let in-flight requests finish. Tokens come from the
    environment only: ZELTO_API_KEY (or the target's tokenEnv), RECONCILER_GIT_TOKEN for HTTPS
    git, RECONCILER_WEBHOOK_SECRET for the webhook, GITHUB_TOKEN for --github-status. See
    docs/agent.md.
    """
    settings = AgentSettings(
        repo=check_repo_url(repo),
        branch=branch,
        path=subdir,
        interval=parse_interval(interval),
        dry_run=dry_run,
        heal=not no_heal,
        signers=signers,
        target=target,
        api_url=api_url,
        shard=shard,
        state_dir=state_dir.resolve(),
    )
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    reporter = None
    if github_status is not None:
        repository = repository_from_env(
            os.environ, repository=github_status, permission="statuses: write"
        )
        reporter = CommitStatusReporter(repository)
    reconciler = Reconciler(settings, on_pass=reporter)
    sock = bind(listen)
    host, port = sock.getsockname()[:2]
    secret = os.environ.get(SECRET_ENV, "").encode()
    app = create_app(reconciler, webhook_secret=secret)
    echo_err(
        f"reconciler agent: {settings.repo} {branch} every {interval}, "
        f"serving http://{host}:{port} (/healthz /readyz /metrics /status /hook)"
    )
    serve(app, sock, reconciler)
    echo_err("reconciler agent: stopped")
