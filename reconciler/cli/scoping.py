"""``--changed-since``, ``--offline`` and ``--shard`` for plan and apply, in one place.

plan and apply keep their own options and flow; these decorators add the scoping options and
hand the command one :class:`Scoping` value, and :func:`plan_in_scope` has the engine plan what
it selects (the engine decides what each option means; see reconciler/engine/scope.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from reconciler.cli.progress import ReadProgress
from reconciler.engine.workspace import Workspace
from reconciler.errors import ReconcilerError
from reconciler.plan.model import Plan
from reconciler.plan.shard import Shard, parse_shard
from reconciler.spec.history import DEFAULT_HISTORY_COMMITS

__all__ = ["Scoping", "plan_in_scope", "scoping_options", "shard_option"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Scoping:
    """Which part of the specs a command covers (all of them by default)."""

    changed_since: str | None = None
    offline: bool = False
    shard: Shard | None = None
    history_commits: int = DEFAULT_HISTORY_COMMITS


def _parse_shard(ctx: click.Context, param: click.Parameter, value: str | None) -> Shard | None:
    if value is None:
        return None
    try:
        return parse_shard(value)
    except ReconcilerError as exc:
        raise click.BadParameter(str(exc).removeprefix(f"--shard {value}: ")) from None


_SHARD_HELP = (
    "Only shard I of N (1-based; conversations split by a stable hash), e.g. for a CI "
    "matrix; `plan-merge` combines the shard plans."
)


def shard_option(func: F) -> F:
    """``--shard I/N``, passed to the command as ``shard: Shard | None``."""
    return click.option("--shard", callback=_parse_shard, metavar="I/N", help=_SHARD_HELP)(func)


def scoping_options(func: F) -> F:
    """``--changed-since``, ``--offline``, ``--shard`` and ``--history-commits``, passed as
    ``scoping: Scoping``."""

    @functools.wraps(func)
    def wrapper(
        *args: Any,
        changed_since: str | None,
        offline: bool,
        shard: Shard | None,
        history_commits: int,
        **kwargs: Any,
    ) -> Any:
        scoping = Scoping(changed_since, offline, shard, history_commits)
        return func(*args, scoping=scoping, **kwargs)

    wrapper = click.option(
        "--history-commits",
        type=click.IntRange(min=0),
        default=DEFAULT_HISTORY_COMMITS,
        show_default=True,
        metavar="N",
        help="Also read the conversations that the last N commits of the spec paths declared "
        "and the specs no longer do, and show their records as orphans (0: off; needs git).",
    )(wrapper)
    wrapper = shard_option(wrapper)
    wrapper = click.option(
        "--offline",
        is_flag=True,
        help="With --changed-since: show how the desired state changed since REF, without "
        "reading Zelto (no token or network needed, e.g. for pull requests from forks).",
    )(wrapper)
    wrapper = click.option(
        "--changed-since",
        metavar="REF",
        help="Plan only the conversations whose specs differ between the git REF and the "
        "working tree; records removed since REF are listed.",
    )(wrapper)
    return wrapper  # type: ignore[return-value]


def plan_in_scope(
    workspace: Workspace,
    paths: Sequence[Path],
    scoping: Scoping,
    *,
    adopt: bool = False,
) -> Plan:
    """The plan of what ``scoping`` selects, with the read progress line on a terminal and the
    engine's notes on stderr; without scoping, the plain plan of everything."""
    progress = ReadProgress.for_stderr()
    made = workspace.plan(
        paths,
        shard=scoping.shard,
        changed_since=scoping.changed_since,
        history_commits=scoping.history_commits,
        adopt=adopt,
        offline=scoping.offline,
        progress=progress,
        on_unreadable=progress.unreadable if progress is not None else None,
        on_note=_note,
    )
    if progress is not None:
        progress.finish()
    return made


def _note(text: str) -> None:
    click.echo(f"note: {text}", err=True)
