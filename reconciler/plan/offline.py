"""``plan --offline``: the real planner, run against what Zelto would hold had REF been applied.

Pull requests from forks get no secrets, so they cannot read Zelto; they still deserve a preview,
and it must say what the real plan will say (a swap of two labels is two conflicts, not two
relabels). So there is no second decision procedure here: :func:`assumed_current` builds the
current state the specs at REF would have left in Zelto, keyed by label as Zelto upserts, the
planner decides, and :func:`offline_plan` labels the result ``offline`` and drops what only a read
could know (remote ids, fingerprints, agents), so every output says it was not checked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from reconciler.model import (
    CatalogEntry,
    DeclaredRecord,
    DesiredState,
    RemoteRecord,
    effective_metric_id,
)
from reconciler.plan.model import Action, Change, ConversationPlan, Plan
from reconciler.plan.planner import ConversationState, CurrentState, make_plan
from reconciler.plan.shard import exactly
from reconciler.spec.delta import RemovedRecord, differing_conversations, removed_records

__all__ = ["OFFLINE_TARGET", "REMOVED_MESSAGE", "assumed_current", "mark_removed", "offline_plan"]

OFFLINE_TARGET = "offline"  # renderers add "not checked against Zelto" for offline plans
REMOVED_MESSAGE = (
    "removed from specs since {ref}; it will remain in Zelto (there is no DELETE): "
    "clear it in the Zelto app"
)
_ASSUMED = "assumed"  # what stands in for server-owned fields Zelto never returned


def offline_plan(
    before: DesiredState,
    after: DesiredState,
    *,
    ref: str,
    conversations: Iterable[str] | None = None,
    ownership_prefix: str | None = None,
    adopt_all: bool = False,
    sensitive: Sequence[str] = (),
    scope: str | None = None,
) -> Plan:
    """The plan of ``after`` against Zelto as the specs at ``ref`` left it, marked offline.

    ``conversations`` are the ones to plan (default: every one whose records differ); the
    planning rules are the online plan's, so that the preview says what the real plan will.
    """
    ids = (
        set(conversations) if conversations is not None else differing_conversations(before, after)
    )
    planned = make_plan(
        exactly(after, ids),
        assumed_current(before, ids),
        target=OFFLINE_TARGET,
        ownership_prefix=ownership_prefix,
        adopt_all=adopt_all,
        sensitive=sensitive,
        scope=scope or f"changed since {ref}",
        describe_unknown_agent=True,
    )
    dropped = [r for r in removed_records(before, after) if r.conversation_id in ids]
    return _labelled_offline(mark_removed(planned, dropped, ref=ref))


def assumed_current(before: DesiredState, ids: Iterable[str]) -> CurrentState:
    """What Zelto would hold for these conversations had the specs ``before`` been applied.

    One record per declared label (Zelto's upsert key) with the fields the specs at REF would
    have written; a conversation REF did not name holds nothing.
    """
    return CurrentState(
        conversations={
            cid: ConversationState(
                records=tuple(
                    _as_written(cid, d, before.catalog) for d in before.conversations.get(cid, ())
                )
            )
            for cid in ids
        }
    )


def _as_written(
    conversation_id: str, declared: DeclaredRecord, catalog: Mapping[str, CatalogEntry]
) -> RemoteRecord:
    record = declared
    metric_id, _ = effective_metric_id(record, catalog, None, describe_unknown_agent=True)
    return RemoteRecord(
        id=f"{conversation_id}/{record.label}",
        organization_id=_ASSUMED,
        conversation_id=conversation_id,
        agent_id="",  # unknown offline: the planner then looks no agent up
        label=record.label,
        source=_ASSUMED,
        created_at=_ASSUMED,
        updated_at=_ASSUMED,
        metric_id=metric_id,
        external_id=record.external_id,
        verdict=record.verdict,
        score=record.score,
        note=record.note,
    )


def _labelled_offline(plan: Plan) -> Plan:
    """Marked offline, without the remote facts the assumed state invented."""
    conversations = [
        conversation.model_copy(
            update={
                "fingerprint": None,
                "agent_id": None,
                "changes": tuple(
                    c.model_copy(update={"remote_id": None}) for c in conversation.changes
                ),
            }
        )
        for conversation in plan.conversations
    ]
    return Plan.build(
        target=OFFLINE_TARGET,
        spec_digest=plan.spec_digest,
        conversations=conversations,
        offline=True,
        scope=plan.scope,
        sensitive_fields=plan.sensitive_fields,
    )


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
