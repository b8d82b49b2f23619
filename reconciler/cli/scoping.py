"""``--changed-since``, ``--offline`` and ``--shard`` for plan and apply, in one place.

plan and apply keep their own options and flow; these decorators add the scoping options and
hand the command one :class:`Scoping` value, and :func:`plan_in_scope` plans what it selects.
An offline plan never resolves a target, so it needs no token and no network (fork PRs).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import click

from reconciler.cli.planning import PlanOptions, Progress, Workspace, load_workspace, plan_now
from reconciler.cli.specs import load_desired, spec_paths
from reconciler.config import LoadedConfig, load_config
from reconciler.errors import ConfigError, ReconcilerError
from reconciler.model import DesiredState
from reconciler.plan.merge import scope_label
from reconciler.plan.model import Plan
from reconciler.plan.offline import mark_removed, offline_plan
from reconciler.plan.shard import Shard, parse_shard, restrict, select_shard
from reconciler.spec.history import ChangeScope, changed_conversations

__all__ = ["Scoping", "plan_in_scope", "scoping_options", "shard_desired", "shard_option"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Scoping:
    """Which part of the specs a command covers (all of them by default)."""

    changed_since: str | None = None
    offline: bool = False
    shard: Shard | None = None

    @property
    def label(self) -> str | None:
        return scope_label(self.changed_since, self.shard)


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
    """``--changed-since``, ``--offline`` and ``--shard``, passed as ``scoping: Scoping``."""

    @functools.wraps(func)
    def wrapper(
        *args: Any,
        changed_since: str | None,
        offline: bool,
        shard: Shard | None,
        **kwargs: Any,
    ) -> Any:
        return func(*args, scoping=Scoping(changed_since, offline, shard), **kwargs)

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
    options: PlanOptions, scoping: Scoping, *, progress: Progress | None = None
) -> Plan:
    """The plan of what ``scoping`` selects; without scoping, the plain plan of everything."""
    if scoping.offline:
        return _offline(options, scoping)
    if scoping.changed_since is None and scoping.shard is None:
        return plan_now(load_workspace(options), progress=progress)
    workspace = load_workspace(replace(options, scope=scoping.label))
    desired = workspace.desired
    change = None
    if scoping.changed_since is not None:
        change = _change(workspace.loaded, desired, options, scoping.changed_since)
        desired = _with_removed_conversations(restrict(desired, change.conversations), change)
    desired = shard_desired(desired, scoping.shard)
    made = plan_now(_narrowed(workspace, desired), progress=progress)
    if change is not None:
        made = mark_removed(made, change.removed, ref=change.ref)
    return made


def shard_desired(desired: DesiredState, shard: Shard | None) -> DesiredState:
    """The conversations shard I/N owns (all of them without a shard)."""
    if shard is None:
        return desired
    return restrict(desired, select_shard(desired.conversations, shard.index, shard.count))


def _offline(options: PlanOptions, scoping: Scoping) -> Plan:
    if scoping.changed_since is None:
        raise ConfigError(
            "--offline needs --changed-since REF: an offline plan shows how the specs changed "
            "since REF, because it cannot read what Zelto holds"
        )
    loaded = load_config(options.config_file)
    desired = load_desired(loaded, options.paths)
    change = _change(loaded, desired, options, scoping.changed_since)
    if change.before is None:
        raise ConfigError(f"cannot make an offline plan: {change.note}")
    ids = {*change.conversations, *(r.conversation_id for r in change.removed)}
    if scoping.shard is not None:
        ids = set(select_shard(ids, scoping.shard.index, scoping.shard.count))
    return offline_plan(
        change.before,
        desired,
        ref=change.ref,
        conversations=ids,
        sensitive=loaded.config.sensitive,
        scope=scoping.label,
    )


def _change(
    loaded: LoadedConfig, desired: DesiredState, options: PlanOptions, ref: str
) -> ChangeScope:
    paths = spec_paths(loaded, options.paths)
    change = changed_conversations(loaded.root, ref, paths, current=desired)
    if change.note:
        click.echo(f"note: {change.note}", err=True)
    return change


def _with_removed_conversations(desired: DesiredState, change: ChangeScope) -> DesiredState:
    """Conversations the specs dropped entirely are planned with no records, so that their
    remote records are read and shown as left behind in Zelto."""
    gone = {r.conversation_id for r in change.removed} - set(desired.conversations)
    if not gone:
        return desired
    conversations = {**desired.conversations, **{i: () for i in sorted(gone)}}
    return replace(desired, conversations=conversations)


def _narrowed(workspace: Workspace, desired: DesiredState) -> Workspace:
    return replace(workspace, desired=desired)
