"""Which part of the specs a run covers: what changed since a git ref, and stable shards.

Two CI needs meet here. A pull-request preview should read only what the pull request touches
(``plan --changed-since REF``), and an estate too large for one job is split over N jobs
(``--shard I/N``) that must together cover every conversation exactly once. Both narrow a
:class:`DesiredState` to a set of conversation ids before the planner sees it.

Shards hash the conversation id with sha256, never Python's ``hash`` (salted per process), so
every job of a matrix, on any machine and any Python, agrees on who owns what.

The changed set is computed with git, comparing the *loaded and validated* specs at REF with the
working tree, not lines of text: a record that moved between files or lines is not a change, and a
catalog edit touches every conversation that uses the label, wherever it is declared.
"""

from __future__ import annotations

from reconciler.scope.changes import (
    ChangeScope,
    GitError,
    RemovedRecord,
    changed_conversations,
    differing_conversations,
    git_spec_sources,
    removed_records,
)
from reconciler.scope.merge import PlanMergeError, merge_plans, scope_label, split_scope
from reconciler.scope.offline import OFFLINE_TARGET, REMOVED_MESSAGE, mark_removed, offline_plan
from reconciler.scope.shard import (
    MAX_SHARDS,
    Shard,
    parse_shard,
    restrict,
    select_shard,
    shard_of,
)

__all__ = [
    "MAX_SHARDS",
    "OFFLINE_TARGET",
    "REMOVED_MESSAGE",
    "ChangeScope",
    "GitError",
    "PlanMergeError",
    "RemovedRecord",
    "Shard",
    "changed_conversations",
    "differing_conversations",
    "git_spec_sources",
    "mark_removed",
    "merge_plans",
    "offline_plan",
    "parse_shard",
    "removed_records",
    "restrict",
    "scope_label",
    "select_shard",
    "shard_of",
    "split_scope",
]
