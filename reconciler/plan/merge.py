"""Combine the JSON plans of N shard jobs into the one plan an unsharded run would have made.

Merging is only honest when the parts really are parts of one plan: the same target, specs,
masking and base scope, disjoint conversations, and, for shards, every shard 1..N exactly once.
A missing shard (a failed matrix job) must not produce a plan that looks complete.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from reconciler.errors import ReconcilerError
from reconciler.plan.model import Plan
from reconciler.plan.shard import Shard

__all__ = ["PlanMergeError", "merge_plans", "scope_label", "split_scope"]

_SHARD_PART = re.compile(r"^shard (\d+)/(\d+)$")
_SEPARATOR = "; "


class PlanMergeError(ReconcilerError):
    """The plans given to ``plan-merge`` are not the parts of one plan."""


def scope_label(changed_since: str | None = None, shard: Shard | None = None) -> str | None:
    """The plan's ``scope`` text: ``changed since REF; shard 2/4`` (None = everything)."""
    parts = []
    if changed_since:
        parts.append(f"changed since {changed_since}")
    if shard is not None:
        parts.append(f"shard {shard}")
    return _SEPARATOR.join(parts) or None


def split_scope(scope: str | None) -> tuple[str | None, Shard | None]:
    """A plan's scope split into its base (e.g. ``changed since REF``) and its shard."""
    if not scope:
        return None, None
    parts = scope.split(_SEPARATOR)
    match = _SHARD_PART.match(parts[-1])
    if match is None:
        return scope, None
    base = _SEPARATOR.join(parts[:-1]) or None
    return base, Shard(int(match.group(1)), int(match.group(2)))


def merge_plans(plans: Sequence[tuple[str, Plan]]) -> Plan:
    """One plan from ``(name, plan)`` parts; the name (a file) is what errors point at."""
    if not plans:
        raise PlanMergeError("plan-merge needs at least one plan file")
    first_name, first = plans[0]
    for name, plan in plans[1:]:
        _check_same(first_name, first, name, plan)
    base = _check_shards(plans)
    _check_disjoint(plans)
    return Plan.build(
        target=first.target,
        spec_digest=first.spec_digest,
        conversations=[c for _, plan in plans for c in plan.conversations],
        existing_managed=sum(plan.existing_managed for _, plan in plans),
        offline=first.offline,
        scope=base,
        sensitive_fields=first.sensitive_fields,
    )


def _check_same(first_name: str, first: Plan, name: str, plan: Plan) -> None:
    checks = (
        ("target", first.target, plan.target),
        ("specs (specDigest)", first.spec_digest, plan.spec_digest),
        ("offline", first.offline, plan.offline),
        ("sensitive fields", first.sensitive_fields, plan.sensitive_fields),
        ("scope", split_scope(first.scope)[0], split_scope(plan.scope)[0]),
    )
    for what, mine, theirs in checks:
        if mine != theirs:
            raise PlanMergeError(
                f"{name} differs from {first_name} in {what} ({theirs!r} vs {mine!r}); "
                "merge only the shard plans of one run, made from the same commit"
            )


def _check_shards(plans: Sequence[tuple[str, Plan]]) -> str | None:
    """Every shard 1..N exactly once, or no shards at all; returns the shared base scope."""
    seen: dict[int, str] = {}
    counts: set[int] = set()
    base: str | None = None
    for name, plan in plans:
        base, shard = split_scope(plan.scope)
        if shard is None:
            if seen or counts:
                raise PlanMergeError(f"{name} is not a shard plan, but others are")
            continue
        if counts and shard.count not in counts:
            raise PlanMergeError(
                f"the plans come from different shard counts: {name} is shard {shard}, "
                f"{next(iter(seen.values()))} is of {next(iter(counts))}"
            )
        counts.add(shard.count)
        if shard.index in seen:
            raise PlanMergeError(f"{name} and {seen[shard.index]} are both shard {shard}")
        seen[shard.index] = name
    if not counts:
        return base
    count = counts.pop()
    missing = [f"{i}/{count}" for i in range(1, count + 1) if i not in seen]
    if missing:
        raise PlanMergeError(
            f"missing shard plans: {', '.join(missing)}; a merged plan must cover every "
            "conversation (did a matrix job fail?)"
        )
    return base


def _check_disjoint(plans: Sequence[tuple[str, Plan]]) -> None:
    owner: dict[str, str] = {}
    for name, plan in plans:
        for conversation in plan.conversations:
            if conversation.id in owner:
                raise PlanMergeError(
                    f"conversation {conversation.id} is in both {owner[conversation.id]} and "
                    f"{name}; a plan file was given twice, or the shards overlap"
                )
            owner[conversation.id] = name
