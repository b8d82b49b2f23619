"""``POST /webhooks/calls``: a call upload creates or updates a conversation (docs/zelto-api.md).

The upload is deduplicated by ``call.externalId``: re-uploading the same call updates the same
conversation in place. The agent is named by ``agentId`` (must exist) or ``agent.externalId``
(created on first sight). Unknown body keys are accepted: providers send rich payloads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.emulator.contract import (
    EXTERNAL_ID_MAX_LENGTH,
    WEBHOOK_DEFAULT_PROVIDER,
    WEBHOOK_PROVIDER_HEADER,
    WEBHOOK_PROVIDERS,
    WEBHOOK_SOURCE_BY_PROVIDER,
    is_uuid,
)
from reconciler.emulator.store import Store
from reconciler.emulator.validation import Problem, short

__all__ = ["WebhookError", "ingest_call"]


class WebhookError(Exception):
    """The upload breaks the documented body rules; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(message for _, message in problems))
        self.problems = problems


def _provider(headers: Mapping[str, str], problems: list[Problem]) -> str:
    provider = headers.get(WEBHOOK_PROVIDER_HEADER, WEBHOOK_DEFAULT_PROVIDER).strip().lower()
    if provider not in WEBHOOK_PROVIDERS:
        allowed = ", ".join(WEBHOOK_PROVIDERS)
        problems.append(("X-Zelto-Provider", f"X-Zelto-Provider must be one of {allowed}"))
    return provider


def _call(body: Mapping[str, Any], problems: list[Problem]) -> Mapping[str, Any]:
    call = body.get("call")
    if not isinstance(call, Mapping):
        problems.append(("call", "call is required: an object with at least externalId"))
        return {}
    external_id = call.get("externalId")
    if not isinstance(external_id, str) or not 1 <= len(external_id) <= EXTERNAL_ID_MAX_LENGTH:
        problems.append(
            (
                "call.externalId",
                "call.externalId is required: a string of 1–255 characters "
                f"(got {short(external_id)})",
            )
        )
    for field in ("endedReason", "recordingUrl", "startedAt", "endedAt"):
        if call.get(field) is not None and not isinstance(call[field], str):
            problems.append((f"call.{field}", f"call.{field} must be a string"))
    cost = call.get("cost")
    if cost is not None and (isinstance(cost, bool) or not isinstance(cost, int | float | str)):
        problems.append(("call.cost", f"call.cost must be a number (got {short(cost)})"))
    customer = call.get("customer")
    if customer is not None and not isinstance(customer, Mapping):
        problems.append(("call.customer", "call.customer must be an object {number, name}"))
    return call


def _agent(
    store: Store, org_id: str, body: Mapping[str, Any], provider: str, problems: list[Problem]
) -> str | None:
    agent_id, agent = body.get("agentId"), body.get("agent")
    if (agent_id is None) == (agent is None):
        problems.append(("agent", "send exactly one of agentId and agent {externalId, name}"))
        return None
    if agent_id is not None:
        if not is_uuid(agent_id) or not store.agent_exists(org_id, agent_id):
            problems.append(("agentId", f"agentId {short(agent_id)} is not an agent of this org"))
            return None
        return str(agent_id).lower()
    if not isinstance(agent, Mapping) or not isinstance(agent.get("externalId"), str):
        problems.append(("agent.externalId", "agent.externalId is required: a string"))
        return None
    name = agent.get("name")
    if name is not None and not isinstance(name, str):
        problems.append(("agent.name", "agent.name must be a string"))
        return None
    existing = store.agent_by_external_id(org_id, agent["externalId"])
    if existing is not None:
        return existing
    return store.add_agent(
        organization_id=org_id,
        name=name or agent["externalId"],
        external_id=agent["externalId"],
        provider=provider,
    )


def ingest_call(store: Store, org_id: str, body: object, headers: Mapping[str, str]) -> str:
    """Create or update the call's conversation; returns its id (the API answer does not)."""
    if not isinstance(body, Mapping):
        raise WebhookError([("body", "the body must be a JSON object")])
    problems: list[Problem] = []
    provider = _provider(headers, problems)
    call = _call(body, problems)
    if problems:
        raise WebhookError(problems)
    agent_id = _agent(store, org_id, body, provider, problems)
    if problems or agent_id is None:
        raise WebhookError(problems)
    external_id = call["externalId"]
    customer = call.get("customer") or {}
    name = customer.get("name") if isinstance(customer.get("name"), str) else None
    cost = call.get("cost")
    return store.add_conversation(
        store.webhook_conversation_id(org_id, external_id),
        agent_id,
        organization_id=org_id,
        name=name or f"Call {external_id}",
        source=WEBHOOK_SOURCE_BY_PROVIDER[provider],
        reference_id=external_id,
        ended_reason=call.get("endedReason"),
        cost=None if cost is None else str(cost),
    )
