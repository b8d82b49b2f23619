"""The one impure step of planning: read what Zelto holds for every conversation the specs name.

One ``GET .../customer-metrics`` per conversation, concurrently (the session bounds how many are
in flight), and nothing else, except ``GET /v1/conversations/{id}`` for a conversation that has
no records yet *and* needs its agent to pick a per-agent catalog metricId. A conversation that
cannot be read becomes an error in its own state, so one bad id never hides the rest of a plan.
A refused credential (401) stops all reading, because no other request could succeed; every
conversation then carries that error, so the plan still says what it could not check.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from reconciler.errors import ApiError, AuthError
from reconciler.model import DeclaredRecord, DesiredState, inherits_agent_metric
from reconciler.plan.planner import ConversationState, CurrentState
from reconciler.remote.zelto import ReadResult, ZeltoClient

__all__ = ["OnRead", "OnState", "needs_agent", "read_current", "stream_current"]

#: Called once per conversation read (for progress), with its id and outcome.
OnRead = Callable[[str, ReadResult], None]
#: Called with each conversation's state as soon as it is known (see :func:`stream_current`).
OnState = Callable[[str, ConversationState], None]


async def read_current(
    client: ZeltoClient, desired: DesiredState, *, on_read: OnRead | None = None
) -> CurrentState:
    """The current state of every conversation in ``desired``, all held at once; failures are
    recorded per conversation, never raised. A plan streams instead (:func:`stream_current`)."""
    states: dict[str, ConversationState] = {}
    await stream_current(client, desired, states.__setitem__, on_read=on_read)
    return CurrentState(conversations={cid: states[cid] for cid in sorted(states)})


async def stream_current(
    client: ZeltoClient,
    desired: DesiredState,
    on_state: OnState,
    *,
    on_read: OnRead | None = None,
) -> None:
    """Hand each conversation's state to ``on_state`` as soon as it is read, and keep nothing.

    A conversation whose catalog metricId depends on its agent and that has no records yet is
    handed over after reading ends, once its agent is looked up. After a 401 every
    conversation is handed over again, as refused: the last state given for a conversation is
    the one that counts.
    """
    ids = sorted(desired.conversations)
    lookups: list[str] = []

    def read(conversation_id: str, result: ReadResult) -> None:
        if on_read is not None:
            on_read(conversation_id, result)
        state = _state(result)
        if (
            state.error is None
            and not state.records
            and needs_agent(desired.conversations[conversation_id], desired)
        ):
            lookups.append(conversation_id)
        else:
            on_state(conversation_id, state)

    try:
        await client.read_each(ids, read)
        if lookups:
            agents = await asyncio.gather(*(_agent_of(client, cid) for cid in lookups))
            for cid, agent in zip(lookups, agents, strict=True):
                on_state(cid, _with_agent(ConversationState(), agent))
    except AuthError as exc:
        for cid, state in _refused(ids, exc).conversations.items():
            on_state(cid, state)


def needs_agent(declared: Sequence[DeclaredRecord], desired: DesiredState) -> bool:
    """Whether a record inherits a per-agent catalog metricId (so the agent must be known)."""
    return any(inherits_agent_metric(item, desired.catalog) for item in declared)


def _refused(ids: list[str], error: AuthError) -> CurrentState:
    """Every conversation unread: the one that got the 401 says so, the rest point at it."""
    first = _one_line(error)
    rest = "not read: the credential was refused (401)"
    if error.conversation_id not in ids:
        rest = f"not read: {first}"
    return CurrentState(
        conversations={
            cid: ConversationState(error=first if cid == error.conversation_id else rest)
            for cid in ids
        }
    )


def _one_line(error: ApiError) -> str:
    return " ".join(str(error).split())


def _state(result: ReadResult) -> ConversationState:
    if isinstance(result, ApiError):
        return ConversationState(error=_one_line(result))
    return ConversationState(records=tuple(result))


async def _agent_of(client: ZeltoClient, conversation_id: str) -> str | ApiError:
    try:
        conversation = await client.get_conversation(conversation_id)
    except AuthError:
        raise
    except ApiError as exc:
        return exc
    return conversation.agent_id


def _with_agent(state: ConversationState, agent: str | ApiError) -> ConversationState:
    if isinstance(agent, ApiError):
        return ConversationState(error=f"cannot find the conversation's agent: {_one_line(agent)}")
    return ConversationState(records=state.records, agent_id=agent)
