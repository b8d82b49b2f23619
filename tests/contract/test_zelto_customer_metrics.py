"""Customer metrics, behaviour by behaviour (zelto.md); every response is contract-checked."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from contract_check import CheckedClient, ClientFactory

from reconciler.emulator import RunningEmulator

METRIC_A = "0b6a1c1e-5f7d-4c1a-9b1e-2f4d8c9e7a10"
METRIC_B = "1c7b2d2f-6a8e-4d2b-8c2f-3a5e9d0f8b21"


def _url(conversation_id: str) -> str:
    return f"/v1/conversations/{conversation_id}/customer-metrics"


def _error(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    return body


def test_submit_creates_a_record_with_server_owned_fields(
    emulator: RunningEmulator, zelto: CheckedClient
) -> None:
    agent = emulator.store.add_agent(name="Support bot")
    conversation = emulator.store.add_conversation(agent_id=agent)
    body = {"label": "Compliance Check", "verdict": "pass", "score": 92, "note": "ok"}
    record = zelto.post(_url(conversation), json={**body, "externalId": "qa-1"}).json()
    assert {k: record[k] for k in body} == body
    assert record["externalId"] == "qa-1"
    assert record["conversationId"] == conversation
    assert record["agentId"] == agent
    assert record["source"] == "api"
    assert record["metricId"] is None
    assert record["createdAt"] == record["updatedAt"]
    uuid.UUID(record["id"])


def test_resubmitting_a_label_replaces_the_record_in_place(
    emulator: RunningEmulator, zelto: CheckedClient
) -> None:
    conversation = emulator.store.add_conversation()
    first = zelto.post(_url(conversation), json={"label": "L", "score": 10}).json()
    second = zelto.post(_url(conversation), json={"label": "L", "score": 20}).json()
    assert second["id"] == first["id"]
    assert second["createdAt"] == first["createdAt"]
    assert second["updatedAt"] >= first["updatedAt"]
    assert second["score"] == 20
    listed = zelto.get(_url(conversation)).json()["data"]
    assert [r["score"] for r in listed] == [20]


def test_a_different_label_is_a_different_record_even_with_the_same_external_id(
    emulator: RunningEmulator, zelto: CheckedClient
) -> None:
    conversation = emulator.store.add_conversation()
    zelto.post(_url(conversation), json={"label": "A", "verdict": "pass", "externalId": "x"})
    zelto.post(_url(conversation), json={"label": "B", "verdict": "fail", "externalId": "x"})
    listed = zelto.get(_url(conversation)).json()["data"]
    assert [(r["label"], r["externalId"]) for r in listed] == [("A", "x"), ("B", "x")]


def test_replace_is_full_fields_left_out_are_cleared(
    emulator: RunningEmulator, zelto: CheckedClient
) -> None:
    conversation = emulator.store.add_conversation()
    full = {
        "label": "L",
        "verdict": "pass",
        "score": 50,
        "note": "n",
        "metricId": METRIC_A,
        "externalId": "e",
    }
    zelto.post(_url(conversation), json=full)
    replaced = zelto.post(_url(conversation), json={"label": "L", "verdict": "fail"}).json()
    assert replaced["verdict"] == "fail"
    for cleared in ("score", "note", "metricId", "externalId"):
        assert replaced[cleared] is None, cleared


def test_list_returns_every_record_of_the_conversation_only(
    emulator: RunningEmulator, zelto: CheckedClient
) -> None:
    mine, other = emulator.store.add_conversation(), emulator.store.add_conversation()
    for label in ("one", "two", "three"):
        zelto.post(_url(mine), json={"label": label, "score": 1})
    zelto.post(_url(other), json={"label": "elsewhere", "score": 1})
    assert [r["label"] for r in zelto.get(_url(mine)).json()["data"]] == ["one", "two", "three"]
    assert zelto.get(_url(emulator.store.add_conversation())).json() == {"data": []}


def test_server_side_records_with_null_external_id_are_listed(
    emulator: RunningEmulator, zelto: CheckedClient
) -> None:
    conversation = emulator.store.add_conversation()
    emulator.store.put_metric(conversation, label="Made in the app", verdict="pass")
    [record] = zelto.get(_url(conversation)).json()["data"]
    assert record["externalId"] is None
    assert record["source"] == "app"
    assert emulator.store.list_metrics(conversation) == [record]


def test_upper_case_conversation_id_finds_the_conversation(
    emulator: RunningEmulator, zelto: CheckedClient
) -> None:
    conversation = emulator.store.add_conversation()
    response = zelto.post(_url(conversation.upper()), json={"label": "L", "score": 1})
    assert response.status_code == 200
    assert response.json()["conversationId"] == conversation


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"score": 1}, "label", "label is required"),
        ({"label": "", "score": 1}, "label", "1–255 UTF-16 code units (got 0"),
        ({"label": "x" * 256, "score": 1}, "label", "1–255 UTF-16 code units (got 256"),
        ({"label": 7, "score": 1}, "label", "must be a string"),
        ({"label": "L"}, "verdict", "at least one of verdict or score"),
        ({"label": "L", "score": 100.5}, "score", "from 0 to 100 (got 100.5)"),
        ({"label": "L", "score": -1}, "score", "from 0 to 100"),
        ({"label": "L", "score": "90"}, "score", "must be a number"),
        ({"label": "L", "score": True}, "score", "must be a number"),
        ({"label": "L", "verdict": "yes"}, "verdict", "'pass' or 'fail' (got 'yes')"),
        ({"label": "L", "verdict": "PASS"}, "verdict", "'pass' or 'fail'"),
        ({"label": "L", "score": 1, "note": "n" * 5001}, "note", "0–5000 UTF-16 code units"),
        ({"label": "L", "score": 1, "externalId": "e" * 256}, "externalId", "0–255"),
        ({"label": "L", "score": 1, "metricId": "abc"}, "metricId", "must be a UUID"),
        ({"label": "L", "score": 1, "note": None}, "note", "must not be null"),
        ({"label": "L", "score": None, "verdict": "pass"}, "score", "must not be null"),
        ({"label": "L", "score": 1, "adopt": True}, "adopt", "unknown field 'adopt'"),
    ],
)
def test_invalid_bodies_are_422_naming_the_field_and_rule(
    emulator: RunningEmulator, zelto: CheckedClient, body: dict[str, Any], field: str, words: str
) -> None:
    conversation = emulator.store.add_conversation()
    response = zelto.post(_url(conversation), json=body)
    assert response.status_code == 422
    error = _error(response)
    assert error["code"] == "validation_error"
    assert words in error["message"]
    assert field in [d["field"] for d in error["details"]]
    assert emulator.store.list_metrics(conversation) == []


def test_boundary_values_are_accepted(emulator: RunningEmulator, zelto: CheckedClient) -> None:
    conversation = emulator.store.add_conversation()
    for body in (
        {"label": "x", "score": 0},
        {"label": "y" * 255, "score": 100, "note": "n" * 5000, "externalId": "e" * 255},
        {"label": "z", "score": 55.5, "note": ""},
    ):
        assert zelto.post(_url(conversation), json=body).status_code == 200


def test_every_problem_of_a_body_is_reported(
    emulator: RunningEmulator, zelto: CheckedClient
) -> None:
    conversation = emulator.store.add_conversation()
    response = zelto.post(_url(conversation), json={"label": "", "score": 200, "x": 1})
    assert {d["field"] for d in _error(response)["details"]} == {"label", "score", "x"}


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"text"'])
def test_a_body_that_is_not_a_json_object_is_422(
    emulator: RunningEmulator, zelto: CheckedClient, raw: bytes
) -> None:
    conversation = emulator.store.add_conversation()
    response = zelto.post(
        _url(conversation), content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "body" in _error(response)["message"]


def test_metric_id_must_be_a_metric_of_the_calls_agent(
    emulator: RunningEmulator, zelto: CheckedClient
) -> None:
    agent = emulator.store.add_agent(metric_ids=[METRIC_A])
    conversation = emulator.store.add_conversation(agent_id=agent)
    ok = zelto.post(_url(conversation), json={"label": "L", "score": 1, "metricId": METRIC_A})
    assert ok.status_code == 200
    upper = {"label": "U", "score": 1, "metricId": METRIC_A.upper()}
    assert zelto.post(_url(conversation), json=upper).status_code == 200
    bad = zelto.post(_url(conversation), json={"label": "M", "score": 1, "metricId": METRIC_B})
    assert bad.status_code == 422
    assert f"not a metric on the call's agent {agent}" in _error(bad)["message"]


def test_an_agent_without_declared_metrics_accepts_any_metric_id(
    emulator: RunningEmulator, zelto: CheckedClient
) -> None:
    conversation = emulator.store.add_conversation(agent_id=emulator.store.add_agent())
    response = zelto.post(_url(conversation), json={"label": "L", "score": 1, "metricId": METRIC_B})
    assert response.json()["metricId"] == METRIC_B


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("conversation_id", ["6efa97dd-bd5f-4cf9-8d79-3980dbe843ec", "not-a-uuid"])
def test_unknown_conversation_is_404(
    zelto: CheckedClient, method: str, conversation_id: str
) -> None:
    response = zelto.request(method, _url(conversation_id), json={"label": "L", "score": 1})
    assert response.status_code == 404
    assert _error(response)["code"] == "not_found"


def test_a_conversation_of_another_organization_is_404(
    emulator: RunningEmulator, client_for: ClientFactory
) -> None:
    emulator.store.add_organization("7d6c5b4a-3e2f-4a1b-9c8d-7e6f5a4b3c2d", api_key="other-key")
    conversation = emulator.store.add_conversation()
    other = client_for(emulator, Authorization="Bearer other-key")
    assert other.get(_url(conversation)).status_code == 404
    assert other.post(_url(conversation), json={"label": "L", "score": 1}).status_code == 404


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic emulator-zelto-key"}],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_missing_or_wrong_key_is_401(
    emulator: RunningEmulator, client_for: ClientFactory, headers: dict[str, str], method: str
) -> None:
    conversation = emulator.store.add_conversation()
    client = client_for(emulator, **headers)
    response = client.request(method, _url(conversation), json={"label": "L", "score": 1})
    assert response.status_code == 401
    assert _error(response)["code"] == "unauthorized"
    assert emulator.store.list_metrics(conversation) == []


def test_metrics_disabled_for_the_organization_is_403(
    emulator: RunningEmulator, zelto: CheckedClient
) -> None:
    conversation = emulator.store.add_conversation()
    emulator.store.set_metrics_enabled("00000000-0000-4000-8000-00000000e001", False)
    for response in (
        zelto.get(_url(conversation)),
        zelto.post(_url(conversation), json={"label": "L", "score": 1}),
    ):
        assert response.status_code == 403
        assert "not enabled" in _error(response)["message"]
    assert zelto.get(f"/v1/conversations/{conversation}").status_code == 200


def test_auto_create_makes_unknown_well_formed_conversations(
    emulator_factory: Any, client_for: ClientFactory
) -> None:
    running = emulator_factory(auto_create_conversations=True)
    client = client_for(running, Authorization=f"Bearer {running.zelto_api_key}")
    conversation = str(uuid.uuid4())
    record = client.post(_url(conversation), json={"label": "L", "score": 1}).json()
    assert record["agentId"] == "00000000-0000-4000-8000-00000000a001"
    assert client.get(f"/v1/conversations/{conversation}").json()["id"] == conversation
    assert client.get(_url("not-a-uuid")).status_code == 404


def test_labels_match_exactly_case_and_spaces_count(
    emulator: RunningEmulator, zelto: CheckedClient
) -> None:
    conversation = emulator.store.add_conversation()
    for label in ("Empathy", "empathy", "Empathy "):
        zelto.post(_url(conversation), json={"label": label, "score": 1})
    labels = [r["label"] for r in zelto.get(_url(conversation)).json()["data"]]
    assert labels == ["Empathy", "empathy", "Empathy "]


def test_auto_create_never_takes_over_another_organizations_conversation(
    emulator_factory: Any, client_for: ClientFactory
) -> None:
    running = emulator_factory(auto_create_conversations=True)
    theirs = running.store.add_organization(api_key="their-key")
    agent = running.store.add_agent(organization_id=theirs)
    conversation = running.store.add_conversation(agent_id=agent, organization_id=theirs)
    mine = client_for(running, Authorization=f"Bearer {running.zelto_api_key}")
    assert mine.get(_url(conversation)).status_code == 404
    their_client = client_for(running, Authorization="Bearer their-key")
    assert their_client.get(f"/v1/conversations/{conversation}").json()["agentId"] == agent


def test_lengths_count_utf16_units_as_a_javascript_server_would(
    zelto: CheckedClient, emulator: RunningEmulator
) -> None:
    """128 emoji are 128 code points but 256 UTF-16 units: over the label limit of 255."""
    path = f"/v1/conversations/{emulator.store.add_conversation()}/customer-metrics"
    refused = zelto.post(path, json={"label": "😀" * 128, "score": 1})
    assert refused.status_code == 422
    assert "1–255 UTF-16 code units (got 256)" in refused.text
    assert zelto.post(path, json={"label": "😀" * 127, "score": 1}).status_code == 200
