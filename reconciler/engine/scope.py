"""Which part of the specs a plan covers: ``--changed-since REF``, ``--shard I/N``, ``--offline``.

Narrowing is done on the desired state before anything is read, so a shard or a pull request's
change reads only its own conversations; the plan then says which part it is (``scope``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from reconciler.config import LoadedConfig, spec_cache_dir
from reconciler.errors import ConfigError
from reconciler.model import DesiredState
from reconciler.plan.model import Plan
from reconciler.plan.offline import offline_plan
from reconciler.plan.shard import Shard, exactly, restrict, select_shard
from reconciler.spec.history import ChangeScope, changed_conversations, retired_conversations

__all__ = [
    "NoteCallback",
    "change_since",
    "in_change",
    "offline",
    "shard_desired",
    "with_retired",
]

#: Receives a remark the user should see (e.g. that the specs at REF do not load); never an error.
NoteCallback = Callable[[str], None]


def change_since(
    loaded: LoadedConfig,
    desired: DesiredState,
    paths: Sequence[Path],
    ref: str,
    on_note: NoteCallback | None,
) -> ChangeScope:
    """What changed in the specs under ``paths`` since the git ``ref`` (see spec.history)."""
    change = changed_conversations(loaded.root, ref, paths, current=desired)
    if change.note and on_note is not None:
        on_note(change.note)
    return change


def with_retired(
    loaded: LoadedConfig,
    desired: DesiredState,
    paths: Sequence[Path],
    max_commits: int,
    on_note: NoteCallback | None,
) -> DesiredState:
    """``desired`` plus, with no records, every conversation that the last ``max_commits``
    commits of the spec paths declared and the specs no longer do (see spec.history): their
    records are read and planned as orphans instead of vanishing from every plan."""
    retired = retired_conversations(
        loaded.root, paths, desired.conversations, max_commits=max_commits,
        cache_dir=spec_cache_dir(loaded),
    )  # fmt: skip
    if not retired:
        return desired
    if on_note is not None:
        count = len(retired)
        on_note(
            f"{count} conversation{'s' if count != 1 else ''} that earlier commits declared and "
            f"the specs no longer do {'are' if count != 1 else 'is'} read too (git history, "
            f"last {max_commits} commits of the spec paths): records left there show as orphans"
        )
    return exactly(desired, {*desired.conversations, *retired})


def in_change(desired: DesiredState, change: ChangeScope) -> DesiredState:
    """The conversations the change touched, online or offline (see ``ChangeScope.planned``)."""
    return exactly(desired, change.planned)


def shard_desired(desired: DesiredState, shard: Shard | None) -> DesiredState:
    """The conversations shard I/N owns (all of them without a shard)."""
    if shard is None:
        return desired
    return restrict(desired, select_shard(desired.conversations, shard.index, shard.count))


def offline(
    loaded: LoadedConfig,
    desired: DesiredState,
    change: ChangeScope,
    *,
    shard: Shard | None,
    scope: str | None,
    adopt: bool = False,
) -> Plan:
    """The offline preview of ``change``: nothing is read from Zelto (see plan.offline)."""
    if change.before is None:
        raise ConfigError(f"cannot make an offline plan: {change.note}")
    ids = set(change.planned)
    if shard is not None:
        ids = set(select_shard(ids, shard.index, shard.count))
    return offline_plan(
        change.before,
        desired,
        ref=change.ref,
        conversations=ids,
        ownership_prefix=loaded.config.ownership.external_id_prefix,
        adopt_all=adopt,
        sensitive=loaded.config.sensitive,
        scope=scope,
    )
