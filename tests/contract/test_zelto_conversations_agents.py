"""Conversations, the call-upload webhook and the agents listing (zelto.md), contract-checked."""

from __future__ import annotations

import uuid

import pytest
from contract_check import CheckedClient, ClientFactory

from reconciler.emulator import RunningEmulator

DEFAULT_ORG = "00000000-0000-4000-8000-00000000e001"
UNKNOWN_AGENT = "6efa97dd-bd5f-4cf9-8d79-3980dbe843ec"


def test_get_conversation_returns_the_documented_fields(
    emulator: RunningEmulator, zelto: CheckedClient
) -> None:
    agent = emulator.store.add_agent(name="Bot")
    conversation = emulator.store.add_conversation(
        agent_id=agent, name="Call 1", source="vapi", reference_id="call-1", cost="0.12"
    )
    body = zelto.get(f"/v1/conversations/{conversation}").json()
    assert body["id"] == conversation
    assert body["agentId"] == agent
    assert (body["name"], body["source"], body["referenceId"], body["cost"]) == (
        "Call 1",
        "vapi",
        "call-1",
        "0.12",
    )
    assert body["receiverId"] is None


def test_get_unknown_conversation_is_404_and_bad_key_401(
    emulator: RunningEmulator, zelto: CheckedClient, client_for: ClientFactory
) -> None:
    assert zelto.get(f"/v1/conversations/{uuid.uuid4()}").status_code == 404
    conversation = emulator.store.add_conversation()
    anonymous = client_for(emulator)
    assert anonymous.get(f"/v1/conversations/{conversation}").status_code == 401


def _call(external_id: str, **extra: object) -> dict[str, object]:
    return {
        "call": {
            "externalId": external_id,
            "startedAt": "2026-01-05T10:00:00Z",
            "endedAt": "2026-01-05T10:05:00Z",
            "durationSeconds": 300,
            "endedReason": "customer-ended-call",
            "cost": 0.42,
            "customer": {"number": "+15550100", "name": "Ada"},
        },
        "agent": {"externalId": "bot-1", "name": "Bot One"},
        "transcript": {"turns": [{"role": "agent", "content": "Hello"}]},
        **extra,
    }


def test_webhook_creates_a_conversation_and_its_agent(
    emulator: RunningEmulator, zelto: CheckedClient
) -> None:
    response = zelto.post("/webhooks/calls", json=_call("call-77"))
    assert response.json() == {"received": True}
    conversation_id = emulator.store.webhook_conversation_id(DEFAULT_ORG, "call-77")
    conversation = zelto.get(f"/v1/conversations/{conversation_id}").json()
    assert (conversation["name"], conversation["referenceId"]) == ("Ada", "call-77")
    assert (conversation["endedReason"], conversation["cost"]) == ("customer-ended-call", "0.42")
    assert conversation["source"] == "upload"
    agents = zelto.get("/v1/agents").json()["data"]
    assert [(a["id"], a["externalId"], a["name"]) for a in agents] == [
        (conversation["agentId"], "bot-1", "Bot One")
    ]


def test_webhook_deduplicates_by_call_external_id(
    emulator: RunningEmulator, zelto: CheckedClient
) -> None:
    zelto.post("/webhooks/calls", json=_call("call-1"))
    conversation_id = emulator.store.webhook_conversation_id(DEFAULT_ORG, "call-1")
    before = zelto.get(f"/v1/conversations/{conversation_id}").json()
    again = _call("call-1")
    again["call"]["endedReason"] = "agent-ended-call"  # type: ignore[index]
    zelto.post("/webhooks/calls", json=again, headers={"X-Zelto-Provider": "vapi"})
    after = zelto.get(f"/v1/conversations/{conversation_id}").json()
    assert after["createdAt"] == before["createdAt"]
    assert (after["endedReason"], after["source"]) == ("agent-ended-call", "vapi")
    assert len(zelto.get("/v1/agents").json()["data"]) == 1
    zelto.post("/webhooks/calls", json=_call("call-2"))
    other = emulator.store.webhook_conversation_id(DEFAULT_ORG, "call-2")
    assert other != conversation_id
    assert zelto.get(f"/v1/conversations/{other}").status_code == 200


def test_webhook_with_an_existing_agent_id(emulator: RunningEmulator, zelto: CheckedClient) -> None:
    agent = emulator.store.add_agent(name="Known")
    body = {"call": {"externalId": "c"}, "agentId": agent}
    assert zelto.post("/webhooks/calls", json=body).status_code == 200
    conversation_id = emulator.store.webhook_conversation_id(DEFAULT_ORG, "c")
    assert zelto.get(f"/v1/conversations/{conversation_id}").json()["agentId"] == agent


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"agentId": "00000000-0000-4000-8000-000000000001"}, "call is required"),
        ({"call": {"externalId": ""}, "agent": {"externalId": "a"}}, "call.externalId"),
        ({"call": {"externalId": "c"}}, "exactly one of agentId and agent"),
        (
            {"call": {"externalId": "c"}, "agentId": "6efa97dd-bd5f-4cf9-8d79-3980dbe843ec"},
            "not an agent",
        ),
        ({"call": {"externalId": "c"}, "agent": {"name": "x"}}, "agent.externalId"),
        ({"call": {"externalId": "c", "cost": [1]}, "agent": {"externalId": "a"}}, "call.cost"),
    ],
)
def test_webhook_rejects_bad_uploads(
    zelto: CheckedClient, body: dict[str, object], words: str
) -> None:
    response = zelto.post("/webhooks/calls", json=body)
    assert response.status_code == 422
    assert words in response.json()["error"]["message"]


def test_webhook_rejects_an_unknown_provider_and_needs_a_key(
    emulator: RunningEmulator, zelto: CheckedClient, client_for: ClientFactory
) -> None:
    response = zelto.post("/webhooks/calls", json=_call("c"), headers={"X-Zelto-Provider": "x"})
    assert response.status_code == 422
    assert "vapi" in response.json()["error"]["message"]
    assert client_for(emulator).post("/webhooks/calls", json=_call("c")).status_code == 401


def test_agents_paginate_with_an_opaque_cursor(
    emulator: RunningEmulator, zelto: CheckedClient
) -> None:
    created = [emulator.store.add_agent(name=f"agent {i}") for i in range(7)]
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 3}
        if cursor is not None:
            params["cursor"] = cursor
        page = zelto.get("/v1/agents", params=params).json()
        seen += [a["id"] for a in page["data"]]
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == created
    assert pages == 3


def test_agents_default_limit_is_50_and_exact_pages_end_with_null(
    emulator: RunningEmulator, zelto: CheckedClient
) -> None:
    for i in range(51):
        emulator.store.add_agent(name=f"a{i}")
    first = zelto.get("/v1/agents").json()
    assert len(first["data"]) == 50
    assert first["nextCursor"] is not None
    second = zelto.get("/v1/agents", params={"cursor": first["nextCursor"], "limit": 1}).json()
    assert len(second["data"]) == 1
    assert second["nextCursor"] is None
    assert zelto.get("/v1/agents", params={"limit": 51}).json()["nextCursor"] is None


def test_agents_are_scoped_to_the_organization(
    emulator: RunningEmulator, zelto: CheckedClient
) -> None:
    other_org = emulator.store.add_organization(api_key="other")
    emulator.store.add_agent(organization_id=other_org, name="theirs")
    mine = emulator.store.add_agent(name="mine")
    assert [a["id"] for a in zelto.get("/v1/agents").json()["data"]] == [mine]


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"limit": "0"}, "limit must be an integer from 1 to 200"),
        ({"limit": "201"}, "from 1 to 200 (got 201)"),
        ({"limit": "ten"}, "from 1 to 200"),
        ({"cursor": "bogus!"}, "cursor is not one this API returned"),
    ],
)
def test_agents_reject_bad_limit_and_cursor(
    zelto: CheckedClient, params: dict[str, str], words: str
) -> None:
    response = zelto.get("/v1/agents", params=params)
    assert response.status_code == 422
    assert words in response.json()["error"]["message"]


def test_unknown_paths_and_methods_answer_json_errors(zelto: CheckedClient) -> None:
    assert zelto.get("/v1/nothing-here").status_code == 404
    response = zelto.delete(f"/v1/conversations/{uuid.uuid4()}/customer-metrics")
    assert response.status_code == 405
    assert "error" in response.json()


def test_a_server_bug_still_answers_a_json_500(
    emulator: RunningEmulator, zelto: CheckedClient
) -> None:
    emulator.store.close()  # every query now fails inside the handler
    response = zelto.get("/v1/agents")
    assert response.status_code == 500
    assert response.json()["error"]["message"] == "GET /v1/agents: internal error"
