"""Everything apply checks before its first write, without any I/O.

Each check refuses the *whole* apply: a partial apply of a plan that should not run at all is
worse than none, because nothing can be deleted afterwards (Zelto has no DELETE). Order matters
only for which message a user sees first; the cheapest and most fundamental come first.
"""

from __future__ import annotations

import math
from typing import Any

from reconciler.config.sections import ApplySettings
from reconciler.errors import ReconcilerError, UnsafePlanError
from reconciler.model import DesiredState, compared_declared, effective_metric_id
from reconciler.plan.fields import mask_value
from reconciler.plan.model import Action, Change, ConversationPlan, Plan

__all__ = [
    "RefusedPlanError",
    "adopt_conflicts",
    "check_applicable",
    "check_target",
    "check_threshold",
    "has_masked_values",
    "prepare",
    "unmask",
]

_NOTHING_WRITTEN = "nothing was written"


class RefusedPlanError(ReconcilerError):
    """The plan cannot be applied as it stands (another target, conflicts, errors, specs that
    changed since a saved plan was made). Unlike the safety threshold, --force does not help."""


def check_target(plan: Plan, target: str) -> None:
    """A saved plan describes one target's state; applying it elsewhere writes unreviewed data."""
    if plan.target != target:
        raise RefusedPlanError(
            f"the plan was made against target '{plan.target}' but this apply goes to "
            f"'{target}'; {_NOTHING_WRITTEN}. Apply it with --target {plan.target}, or make a "
            f"plan for '{target}'."
        )


#: How many unread conversations a refusal names before "and N more".
_NAMED = 10


def _unread_refusal(unread: list[tuple[str, str]]) -> str:
    """Which conversations could not be read, why the first, and how to get past it."""
    named = ", ".join(cid for cid, _ in unread[:_NAMED])
    more = f" and {len(unread) - _NAMED} more" if len(unread) > _NAMED else ""
    first_id, first_error = unread[0]
    return (
        f"{len(unread)} conversation(s) could not be read, so {_NOTHING_WRITTEN}: {named}{more}; "
        f"first: conversation {first_id}: {first_error}. If that is transient (a timeout, 5xx, "
        "429), run the same command again; to wait out a longer outage, raise plan.retrySeconds "
        "in reconciler.yaml; to retry only some, give their spec files as PATHs"
    )


def check_applicable(plan: Plan, *, adopt: bool) -> None:
    """Plans that are offline, failed or hold unadopted conflicts never write anything."""
    if plan.offline:
        raise RefusedPlanError(
            f"the plan was made offline (nothing was read from Zelto), so it cannot be applied; "
            f"{_NOTHING_WRITTEN}"
        )
    unread = [(c.id, c.error) for c in plan.conversations if c.error is not None]
    if unread:
        raise RefusedPlanError(_unread_refusal(unread))
    errors = [
        f"conversation {c.id}, label '{ch.label}': {ch.message or 'error'}"
        for c in plan.conversations
        for ch in c.changes
        if ch.action is Action.ERROR
    ]
    if errors:
        raise RefusedPlanError(
            f"the plan has {len(errors)} error(s), so {_NOTHING_WRITTEN}; first: {errors[0]}"
        )
    conflicts = [(c, ch) for c in plan.conversations for ch in c.changes if _is_conflict(ch)]
    if conflicts and not adopt:
        conversation, change = conflicts[0]
        raise RefusedPlanError(
            f"the plan has {len(conflicts)} conflict(s), so {_NOTHING_WRITTEN}; first: "
            f"conversation {conversation.id}, label '{change.label}': {_conflict_reason(change)}. "
            f"Take them over with --adopt (or `adopt: true` on the record), or change the specs."
        )


def _is_conflict(change: Change) -> bool:
    return change.action is Action.CONFLICT


def _conflict_reason(change: Change) -> str:
    if change.message:
        return change.message
    remote = change.before.external_id if change.before is not None else None
    held = f"externalId '{remote}'" if remote is not None else "no externalId"
    return f"a remote record with this label has {held}, not '{change.external_id}'"


def adopt_conflicts(plan: Plan) -> Plan:
    """``--adopt`` on a saved plan: every conflict becomes an adoption (one POST that takes the
    remote record over), using the values the plan already shows for it."""
    conversations = [_adopt_in(c) for c in plan.conversations]
    return plan.with_conversations(conversations)


def _adopt_in(conversation: ConversationPlan) -> ConversationPlan:
    if not any(_is_conflict(c) for c in conversation.changes):
        return conversation
    changes = tuple(_adopted(conversation, c) for c in conversation.changes)
    return conversation.model_copy(update={"changes": changes})


def _adopted(conversation: ConversationPlan, change: Change) -> Change:
    if not _is_conflict(change):
        return change
    if change.after is None:
        raise RefusedPlanError(
            f"conversation {conversation.id}, label '{change.label}': the saved plan does not "
            f"say what to write for this conflict; make the plan again with --adopt"
        )
    return change.model_copy(update={"action": Action.ADOPT})


def check_threshold(plan: Plan, settings: ApplySettings, *, force: bool) -> None:
    """octoDNS's safety net: a plan that rewrites a large share of what exists is more often a
    mistake (a bad import, a wrong target) than an intent, so it needs --force."""
    summary = plan.summary
    changing = summary.update + summary.relabel + summary.adopt
    existing = plan.existing_managed
    if force or existing == 0 or existing < settings.min_existing_for_threshold:
        return
    percent = 100.0 * changing / existing
    limit = settings.max_update_percent
    if percent <= limit:
        return
    allowed = math.floor(limit * existing / 100.0 + 1e-9)
    raise UnsafePlanError(
        f"safety threshold: {changing} of {existing} existing managed records would be "
        f"overwritten ({percent:.1f} %), above the {limit:g} % limit by {percent - limit:.1f} "
        f"points ({changing - allowed} record(s) too many); {_NOTHING_WRITTEN}. Review the plan, "
        f"then use --force to apply it anyway."
    )


def has_masked_values(plan: Plan) -> bool:
    """Whether any write carries a masked value, which apply must replace before sending."""
    return any(change.after is not None and change.after.masked() for _, change in plan.writes())


def unmask(plan: Plan, desired: DesiredState) -> Plan:
    """Put the real values of masked fields back, taken from the specs, after checking each
    against the digest the plan shows: a changed secret means the reviewed plan is not what
    would be written."""
    conversations = [_unmask_in(c, desired) for c in plan.conversations]
    return plan.with_conversations(conversations)


def _unmask_in(conversation: ConversationPlan, desired: DesiredState) -> ConversationPlan:
    changes = [
        _unmask_change(conversation, change, desired) if change.is_write else change
        for change in conversation.changes
    ]
    return conversation.model_copy(update={"changes": tuple(changes)})


def _unmask_change(conversation: ConversationPlan, change: Change, desired: DesiredState) -> Change:
    if change.after is None:  # a write always has values; a hand-edited plan may not
        return change
    masked = change.after.masked()
    if not masked:
        return change
    real = _declared_fields(conversation, change, desired)
    if real is None:
        raise _specs_changed(conversation, change, "record is no longer declared")
    for name, digest in masked.items():
        if mask_value(real[name]) != digest:
            raise _specs_changed(
                conversation,
                change,
                f"the sensitive field {name} no longer matches the plan's digest",
            )
    after = change.after.replaced({name: real[name] for name in masked})
    return change.model_copy(update={"after": after})


def _declared_fields(
    conversation: ConversationPlan, change: Change, desired: DesiredState
) -> dict[str, Any] | None:
    """The compared fields the specs declare now for this write, or None if it is gone."""
    for declared in desired.conversations.get(conversation.id, ()):
        record = declared
        if record.label == change.label and record.external_id == change.external_id:
            metric_id, _ = effective_metric_id(record, desired.catalog, conversation.agent_id)
            return compared_declared(record, metric_id)
    return None


def _specs_changed(conversation: ConversationPlan, change: Change, what: str) -> RefusedPlanError:
    return RefusedPlanError(
        f"the specs changed since the plan was made: conversation {conversation.id}, label "
        f"'{change.label}' (externalId {change.external_id}): {what}; {_NOTHING_WRITTEN}. "
        f"Run plan again and review it."
    )


def prepare(
    plan: Plan,
    *,
    target: str,
    settings: ApplySettings,
    force: bool = False,
    adopt: bool = False,
    desired: DesiredState | None = None,
) -> Plan:
    """Every offline check, in order; returns the plan exactly as it will be written.

    ``desired`` (the specs as they are now) is needed only when the plan masks values.
    """
    check_target(plan, target)
    check_applicable(plan, adopt=adopt)
    if adopt:
        plan = adopt_conflicts(plan)
    if has_masked_values(plan):
        if desired is None:
            raise RefusedPlanError(
                "the plan masks sensitive values; apply needs the specs to send the real ones "
                f"({_NOTHING_WRITTEN})"
            )
        plan = unmask(plan, desired)
    check_threshold(plan, settings, force=force)
    return plan
