"""``plan --offline``: the change of desired state between a git ref and the working tree.

Pull requests from forks get no secrets, so they cannot read Zelto; they still deserve a preview.
This one assumes Zelto holds exactly what the specs at REF declare and is marked ``offline`` so
that every output says it was not checked against Zelto.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from uuid import UUID

from reconciler.model import CatalogEntry, DeclaredRecord, DesiredState, compared_declared
from reconciler.plan.model import (
    Action,
    Change,
    ConversationPlan,
    Plan,
    RecordFields,
    field_diffs,
    mask_value,
)
from reconciler.spec.history import RemovedRecord, differing_conversations

__all__ = ["OFFLINE_TARGET", "REMOVED_MESSAGE", "mark_removed", "offline_plan"]

OFFLINE_TARGET = "offline"  # renderers add "not checked against Zelto" for offline plans
REMOVED_MESSAGE = (
    "removed from specs since {ref}; it will remain in Zelto (there is no DELETE): "
    "clear it in the Zelto app"
)


def offline_plan(
    before: DesiredState,
    after: DesiredState,
    *,
    ref: str,
    conversations: Iterable[str] | None = None,
    sensitive: Sequence[str] = (),
    scope: str | None = None,
) -> Plan:
    """What the specs changed between ``ref`` and the working tree, as a plan marked offline.

    For pull requests from forks, which get no secrets: it assumes Zelto holds exactly what the
    specs at ``ref`` declare, and says so (``offline=True``), because nothing was read from Zelto.
    """
    ids = (
        set(conversations) if conversations is not None else differing_conversations(before, after)
    )
    plans = [
        _offline_conversation(i, before, after, ref=ref, sensitive=sensitive) for i in sorted(ids)
    ]
    return Plan.build(
        target=OFFLINE_TARGET,
        spec_digest=after.spec_digest,
        conversations=plans,
        offline=True,
        scope=scope or f"changed since {ref}",
        sensitive_fields=tuple(sensitive),
    )


def _offline_conversation(
    conversation_id: str,
    before: DesiredState,
    after: DesiredState,
    *,
    ref: str,
    sensitive: Sequence[str],
) -> ConversationPlan:
    old = {r.record.external_id: r for r in before.conversations.get(conversation_id, ())}
    new = after.conversations.get(conversation_id, ())
    changes: list[Change] = []
    noop = 0
    for declared in new:
        target = _fields(declared, after.catalog, sensitive)
        previous = old.get(declared.record.external_id)
        source = str(declared.location)
        if previous is None:
            changes.append(
                Change(
                    action=Action.CREATE,
                    label=target.label,
                    external_id=target.external_id,
                    after=target,
                    source=source,
                )
            )
            continue
        was = _fields(previous, before.catalog, sensitive)
        diff = field_diffs(was, target)
        if not diff:
            noop += 1
            continue
        action = Action.UPDATE if was.label == target.label else Action.RELABEL
        message = (
            None
            if action is Action.UPDATE
            else (f"the record under label '{was.label}' stays in Zelto (there is no DELETE)")
        )
        changes.append(
            Change(
                action=action,
                label=target.label,
                external_id=target.external_id,
                before=was,
                after=target,
                diff=diff,
                source=source,
                message=message,
            )
        )
    declared_now = {d.record.external_id for d in new}
    changes.extend(
        Change(
            action=Action.ORPHAN,
            label=r.record.label,
            external_id=external_id,
            before=_fields(r, before.catalog, sensitive),
            source=str(r.location),
            message=REMOVED_MESSAGE.format(ref=ref),
        )
        for external_id, r in old.items()
        if external_id not in declared_now
    )
    return ConversationPlan(id=conversation_id, noop=noop, changes=tuple(changes))


def _fields(
    declared: DeclaredRecord, catalog: Mapping[str, CatalogEntry], sensitive: Sequence[str]
) -> RecordFields:
    compared = compared_declared(declared.record, _offline_metric(declared, catalog))
    for name in sensitive:
        compared[name] = mask_value(compared.get(name))
    return RecordFields.from_compared(compared)


def _offline_metric(declared: DeclaredRecord, catalog: Mapping[str, CatalogEntry]) -> str | None:
    """The record's metric, or the catalog's; a per-agent map is shown whole (no agent offline)."""
    if declared.record.metric_id is not None:
        return str(declared.record.metric_id)
    entry = catalog.get(declared.record.label)
    if entry is None or entry.metric_id is None:
        return None
    if isinstance(entry.metric_id, UUID):
        return str(entry.metric_id)
    pairs = sorted(f"{agent}→{metric}" for agent, metric in entry.metric_id.items())
    return "per agent: " + ", ".join(pairs)


def mark_removed(plan: Plan, removed: Iterable[RemovedRecord], *, ref: str) -> Plan:
    """Say which orphans of a plan the specs dropped since ``ref``, and that they stay in Zelto.

    The planner sees a dropped record as ``orphan`` (or ``unmanaged`` without an ownership
    prefix); it was in this repository's specs, so it is ours: shown as an orphan with the
    reason and the place it was declared. A dropped record that Zelto does not hold needs no
    word: nothing remains.
    """
    dropped = {(r.conversation_id, r.external_id): r for r in removed}
    if not dropped:
        return plan
    return plan.with_conversations(
        [_mark_conversation(c, dropped, ref) for c in plan.conversations]
    )


def _mark_conversation(
    conversation: ConversationPlan, dropped: Mapping[tuple[str, str], RemovedRecord], ref: str
) -> ConversationPlan:
    changes = tuple(_mark_change(conversation.id, c, dropped, ref) for c in conversation.changes)
    if changes == conversation.changes:
        return conversation
    # Validated anew, not copied, so that the model sorts the changed actions again.
    return ConversationPlan.model_validate({**conversation.model_dump(), "changes": changes})


def _mark_change(
    conversation_id: str, change: Change, dropped: Mapping[tuple[str, str], RemovedRecord], ref: str
) -> Change:
    record = dropped.get((conversation_id, change.external_id or ""))
    if record is None or change.action not in {Action.ORPHAN, Action.UNMANAGED}:
        return change
    return change.model_copy(
        update={
            "action": Action.ORPHAN,
            "source": str(record.location),
            "message": REMOVED_MESSAGE.format(ref=ref),
        }
    )
