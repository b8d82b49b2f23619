"""Desired × current → Plan: the reconciler's decisions, pure (no I/O, no printing, no clock).

Every declared record and every remote record of a planned conversation lands in exactly one
place of the plan (docs/semantics.md §3):

- a declared record: one change (create, update, relabel, conflict/adopt, error) or the ``noop``
  count;
- a remote record: the change of the declared record that holds its label (update, conflict,
  adopt, error, or the ``noop`` count), else an ``orphan`` or ``unmanaged`` change of its own.

Two identities meet here: specs name a record by (conversation, externalId), Zelto by (conversation,
label), and Zelto upserts on the label (``UPSERT_KEY`` in the Zelto registry,
``reconciler.contract.zelto``: an assumption the live suite probes). So the *label* decides which
remote record a declared record would overwrite, and the externalId only decides whether that
overwrite is ours (update) or someone else's (conflict). A relabel never touches the record it comes
from: that one stays under its old label and is reported as an orphan, unless another declared
record claims its label. docs/plan.md walks through the tricky cases.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from reconciler.contract.zelto import UPSERT_KEY
from reconciler.model import (
    CatalogEntry,
    DeclaredRecord,
    DesiredState,
    MetricRecord,
    RemoteRecord,
    compared_declared,
    compared_remote,
    effective_metric_id,
)
from reconciler.plan.fields import RecordFields, field_diffs, mask_diffs, mask_fields
from reconciler.plan.fingerprint import fingerprint
from reconciler.plan.model import Action, Change, ConversationPlan, Plan

__all__ = [
    "NOT_GIVEN",
    "ConversationState",
    "CurrentState",
    "Planner",
    "make_plan",
    "plan_conversation",
    "upsert_key",
]


@dataclass(frozen=True)
class ConversationState:
    """What reading one conversation found: its records, or why it could not be read.

    ``agent_id`` comes from ``GET /v1/conversations/{id}`` and is only looked up when the
    conversation has no records yet and a per-agent catalog needs it.
    """

    records: tuple[RemoteRecord, ...] = ()
    error: str | None = None
    agent_id: str | None = None


@dataclass(frozen=True)
class CurrentState:
    """The remote side of a plan: the state of every conversation the specs name."""

    conversations: Mapping[str, ConversationState] = field(default_factory=dict)


#: The state of a conversation the caller gave none for: planned as unread, never as empty.
NOT_GIVEN = ConversationState(error="not read (internal: no current state was given)")


@dataclass(frozen=True)
class _Rules:
    """The settings that shape every conversation's decisions."""

    catalog: Mapping[str, CatalogEntry]
    ownership_prefix: str | None
    adopt_all: bool
    sensitive: frozenset[str]
    describe_unknown_agent: bool = False


class Planner:
    """The decisions of one plan, one conversation at a time, then the plan itself.

    A plan of a large estate is made while it is read: each conversation is decided as soon as
    its records arrive (:meth:`decide`), and only the decision (a :class:`ConversationPlan`) and
    the count of managed records are kept, never the remote records themselves. :meth:`finish`
    sorts and counts what was decided into a :class:`Plan`, the same plan :func:`make_plan`
    makes from a whole :class:`CurrentState`.
    """

    def __init__(
        self,
        catalog: Mapping[str, CatalogEntry],
        *,
        ownership_prefix: str | None = None,
        adopt_all: bool = False,
        sensitive: Iterable[str] = (),
        describe_unknown_agent: bool = False,
    ) -> None:
        self._rules = _Rules(
            catalog=catalog,
            ownership_prefix=ownership_prefix or None,
            adopt_all=adopt_all,
            sensitive=frozenset(sensitive),
            describe_unknown_agent=describe_unknown_agent,
        )

    def decide(
        self, conversation_id: str, declared: Sequence[DeclaredRecord], state: ConversationState
    ) -> tuple[ConversationPlan, int]:
        """One conversation's decisions, and how many of its remote records this repository
        manages (the apply safety threshold counts them)."""
        decided = _plan_one(conversation_id, declared, state, self._rules)
        if state.error is not None:
            return decided, 0
        return decided, _count_managed(declared, state.records, self._rules.ownership_prefix)

    def finish(
        self,
        conversations: Iterable[ConversationPlan],
        *,
        target: str,
        spec_digest: str,
        existing_managed: int,
        scope: str | None = None,
    ) -> Plan:
        """The plan of the decided conversations, sorted and counted."""
        return Plan.build(
            target=target,
            spec_digest=spec_digest,
            conversations=tuple(conversations),
            existing_managed=existing_managed,
            scope=scope,
            sensitive_fields=tuple(sorted(self._rules.sensitive)),
        )


def make_plan(
    desired: DesiredState,
    current: CurrentState,
    *,
    target: str,
    ownership_prefix: str | None = None,
    adopt_all: bool = False,
    sensitive: Iterable[str] = (),
    scope: str | None = None,
    describe_unknown_agent: bool = False,
) -> Plan:
    """The plan for every conversation the specs name, against what was read for it.

    A conversation missing from ``current`` is planned as unread (an error), never as empty:
    treating "not read" as "no records" would plan creates over records that exist.
    ``describe_unknown_agent`` is for the offline preview, which knows no agent: a per-agent
    catalog metricId is then shown as the whole map rather than reported as an error.
    """
    planner = Planner(
        desired.catalog,
        ownership_prefix=ownership_prefix,
        adopt_all=adopt_all,
        sensitive=sensitive,
        describe_unknown_agent=describe_unknown_agent,
    )
    conversations: list[ConversationPlan] = []
    managed = 0
    for conversation_id in sorted(desired.conversations):
        state = current.conversations.get(conversation_id, NOT_GIVEN)
        decided, ours = planner.decide(
            conversation_id, desired.conversations[conversation_id], state
        )
        conversations.append(decided)
        managed += ours
    return planner.finish(
        conversations,
        target=target,
        spec_digest=desired.spec_digest,
        existing_managed=managed,
        scope=scope,
    )


def plan_conversation(
    conversation_id: str,
    declared: Sequence[DeclaredRecord],
    state: ConversationState,
    *,
    catalog: Mapping[str, CatalogEntry] | None = None,
    ownership_prefix: str | None = None,
    adopt_all: bool = False,
    sensitive: Iterable[str] = (),
) -> ConversationPlan:
    """The decisions for one conversation (what :func:`make_plan` does for each)."""
    planner = Planner(
        catalog or {}, ownership_prefix=ownership_prefix, adopt_all=adopt_all, sensitive=sensitive
    )
    return planner.decide(conversation_id, declared, state)[0]


def _count_managed(
    declared: Sequence[DeclaredRecord], records: Iterable[RemoteRecord], prefix: str | None
) -> int:
    """Remote records this repository manages: declared externalIds, or the ownership prefix."""
    ours = {d.external_id for d in declared}
    return sum(
        1 for r in records if r.external_id is not None and _is_ours(r.external_id, ours, prefix)
    )


def _is_ours(external_id: str, declared_ids: set[str], prefix: str | None) -> bool:
    return external_id in declared_ids or (prefix is not None and external_id.startswith(prefix))


def _conversation_agent(state: ConversationState) -> str | None:
    """The agent the catalog's per-agent metricIds are looked up for.

    Records carry the call's agent; the conversation look-up is only the fallback for a
    conversation without records. The smallest id wins if records ever disagree (deterministic).
    """
    agents = sorted({r.agent_id for r in state.records if r.agent_id})
    if agents:
        return agents[0]
    return state.agent_id


def _plan_one(
    conversation_id: str,
    declared: Sequence[DeclaredRecord],
    state: ConversationState,
    rules: _Rules,
) -> ConversationPlan:
    if state.error is not None:
        return ConversationPlan(id=conversation_id, error=state.error)
    agent = _conversation_agent(state)
    records = sorted(state.records, key=lambda r: (r.label, r.external_id or "", r.id))
    by_label: dict[str, RemoteRecord] = {}
    for record in records:
        by_label.setdefault(upsert_key(record), record)
    claimed: set[str] = set()
    changes: list[Change] = []
    noop = 0
    for item in sorted(declared, key=lambda d: d.label):
        change = _decide(item, by_label, records, agent, rules)
        holder = by_label.get(upsert_key(item))
        if holder is not None:
            claimed.add(holder.id)
        if change is None:
            noop += 1
        else:
            changes.append(change)
    declared_labels = {d.external_id: d.label for d in declared}
    for record in records:
        if record.id not in claimed:
            changes.append(_leftover(record, declared_labels, rules))
    return ConversationPlan(
        id=conversation_id,
        fingerprint=fingerprint(state.records),
        agent_id=agent,
        noop=noop,
        changes=tuple(changes),
    )


def upsert_key(record: RemoteRecord | MetricRecord | DeclaredRecord) -> str:
    """The value Zelto replaces a record by: which remote record a declared one would overwrite."""
    return str(getattr(record, UPSERT_KEY))


def _decide(
    item: DeclaredRecord,
    by_label: Mapping[str, RemoteRecord],
    records: Sequence[RemoteRecord],
    agent: str | None,
    rules: _Rules,
) -> Change | None:
    """The one change for a declared record, or None when Zelto already holds it as declared."""
    record = item
    holder = by_label.get(upsert_key(record))
    metric_id, problem = effective_metric_id(
        record, rules.catalog, agent, describe_unknown_agent=rules.describe_unknown_agent
    )
    if problem is not None:
        return _change(Action.ERROR, item, holder, None, rules, message=problem)
    declared_fields = compared_declared(record, metric_id)
    if holder is not None and holder.external_id == record.external_id:
        # Compare plain dicts first: most records are unchanged (docs/semantics.md §6).
        if compared_remote(holder) == declared_fields:
            return None
        wanted = RecordFields.from_compared(declared_fields)
        return _change(Action.UPDATE, item, holder, wanted, rules)
    wanted = RecordFields.from_compared(declared_fields)
    if holder is not None:
        return _conflict(item, holder, wanted, rules)
    moved_from = next((r for r in records if r.external_id == record.external_id), None)
    if moved_from is not None:
        message = (
            f"externalId '{record.external_id}' moves from label '{moved_from.label}' to "
            f"'{record.label}': a new record is written; the one under '{moved_from.label}' stays "
            "(Zelto has no DELETE) and must be cleared in the Zelto app"
        )
        return _change(
            Action.RELABEL, item, None, wanted, rules, message=message, shown_before=moved_from
        )
    return _change(Action.CREATE, item, None, wanted, rules)


def _conflict(
    item: DeclaredRecord, holder: RemoteRecord, wanted: RecordFields, rules: _Rules
) -> Change:
    """Label L is held by another externalId (or none): blocked unless adopted."""
    record = item
    owner = (
        f"externalId '{holder.external_id}'"
        if holder.external_id is not None
        else "a record without externalId (made outside this repository?)"
    )
    if record.adopt or rules.adopt_all:
        why = "adopt: true" if record.adopt else "--adopt"
        message = f"takes over label '{record.label}' from {owner} ({why})"
        return _change(Action.ADOPT, item, holder, wanted, rules, message=message)
    message = (
        f"label '{record.label}' is already held in Zelto by {owner}, not "
        f"'{record.external_id}'; to overwrite it, set `adopt: true` on the record or run with "
        "--adopt"
    )
    return _change(Action.CONFLICT, item, holder, wanted, rules, message=message)


def _leftover(record: RemoteRecord, declared_labels: Mapping[str, str], rules: _Rules) -> Change:
    """A remote record no declared record holds by label: an orphan or unmanaged."""
    external_id = record.external_id
    if external_id is not None and external_id in declared_labels:
        message = (
            f"left behind: externalId '{external_id}' is now declared under label "
            f"'{declared_labels[external_id]}'; clear this record in the Zelto app"
        )
        return _remote_only(Action.ORPHAN, record, rules, message)
    prefix = rules.ownership_prefix
    if external_id is not None and prefix is not None and external_id.startswith(prefix):
        message = (
            f"no spec declares it any more (externalId prefix '{prefix}'); it cannot be deleted "
            "through the API: clear it in the Zelto app"
        )
        return _remote_only(Action.ORPHAN, record, rules, message)
    return _remote_only(Action.UNMANAGED, record, rules, None)


def _remote_only(
    action: Action, record: RemoteRecord, rules: _Rules, message: str | None
) -> Change:
    before = RecordFields.from_compared(compared_remote(record))
    return Change(
        action=action,
        label=record.label,
        external_id=record.external_id,
        before=mask_fields(before, rules.sensitive),
        remote_id=record.id,
        message=message,
    )


def _change(
    action: Action,
    item: DeclaredRecord,
    holder: RemoteRecord | None,
    wanted: RecordFields | None,
    rules: _Rules,
    *,
    message: str | None = None,
    shown_before: RemoteRecord | None = None,
) -> Change:
    """A change for a declared record; ``holder`` is the remote record it accounts for.

    ``shown_before`` is for relabels: the record the externalId moves from is shown as
    ``before`` so a reviewer sees what moves, but it is not written (so no ``remoteId``).
    """
    shown = holder if holder is not None else shown_before
    before = RecordFields.from_compared(compared_remote(shown)) if shown is not None else None
    diff = field_diffs(before, wanted) if wanted is not None else ()
    return Change(
        action=action,
        label=item.label,
        external_id=item.external_id,
        before=mask_fields(before, rules.sensitive),
        after=mask_fields(wanted, rules.sensitive),
        diff=mask_diffs(diff, rules.sensitive),
        source=str(item.location),
        remote_id=holder.id if holder is not None else None,
        message=message,
    )
