"""Seed files and persisted state: what an emulator run starts from, and what it keeps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from contract_check import ClientFactory

from reconciler.emulator import (
    EmulatorConfig,
    EmulatorError,
    SeedError,
    load_seed,
    start_in_thread,
)

ORG = "5b0f2c1e-8d3a-4f6b-9e2d-1a3c5e7f9b0d"
AGENT = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"
METRIC = "0b6a1c1e-5f7d-4c1a-9b1e-2f4d8c9e7a10"
CONVERSATION = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
DISABLED_ORG = "6e5d4c3b-2a19-4f8e-9d7c-6b5a4f3e2d1c"
DISABLED_CONVERSATION = "4d01d4dd-1e55-4c61-9999-9ee36847163b"

SEED_YAML = f"""
organizations:
  - {{id: {ORG}, apiKey: team-key, metricsEnabled: true}}
  - {{id: {DISABLED_ORG}, apiKey: disabled-key, metricsEnabled: false}}
agents:
  - {{id: {AGENT}, organizationId: {ORG}, name: Support bot, externalId: bot-1,
     metrics: [{METRIC}]}}
conversations:
  - {{id: {CONVERSATION}, organizationId: {ORG}, agentId: {AGENT}, name: First call}}
  - {{id: {DISABLED_CONVERSATION}, organizationId: {DISABLED_ORG}}}
customerMetrics:
  - {{conversationId: {CONVERSATION}, label: Made in the app, verdict: pass}}
  - {{conversationId: {CONVERSATION}, label: Empathy, score: 80, externalId: qa-1}}
siro:
  tokens: [another-token]
  recordings:
    - id: rec_1
      organizationId: org_123
      conversationTypeId: type-1
      startedAt: 2026-01-10T12:00:00Z
      metricValues:
        - {{id: mv_1, name: Talk time, unit: seconds, unitAbbreviated: sec,
            metricType: CONVERSATION_TIME, value: 1800, passRate: 87.5}}
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_yaml_seed_sets_up_every_section(
    tmp_path: Path, emulator_factory: Any, client_for: ClientFactory
) -> None:
    running = emulator_factory(seed=_write(tmp_path, "seed.yaml", SEED_YAML))
    team = client_for(running, Authorization="Bearer team-key")
    records = team.get(f"/v1/conversations/{CONVERSATION}/customer-metrics").json()["data"]
    assert [(r["label"], r["externalId"], r["source"], r["agentId"]) for r in records] == [
        ("Made in the app", None, "app", AGENT),
        ("Empathy", "qa-1", "app", AGENT),
    ]
    wrong_metric = {"label": "L", "score": 1, "metricId": "1c7b2d2f-6a8e-4d2b-8c2f-3a5e9d0f8b21"}
    url = f"/v1/conversations/{CONVERSATION}/customer-metrics"
    assert team.post(url, json=wrong_metric).status_code == 422
    assert team.post(url, json={**wrong_metric, "metricId": METRIC}).status_code == 200
    assert [a["externalId"] for a in team.get("/v1/agents").json()["data"]] == ["bot-1"]
    disabled = client_for(running, Authorization="Bearer disabled-key")
    url = f"/v1/conversations/{DISABLED_CONVERSATION}/customer-metrics"
    assert disabled.get(url).status_code == 403
    siro = client_for(running, **{"x-siro-auth-token": "another-token"})
    params = {
        "requestedOrganizationId": "org_123",
        "conversationTypeId": "type-1",
        "startAt": "2026-01-01T00:00:00Z",
        "endAt": "2026-02-01T00:00:00Z",
        "filterByIds": "rec_1",
        "filterBy": "RECORDING",
    }
    values = siro.get("/v1/core/scorecards/scorecard-metrics/values", params=params).json()
    assert values["data"]["metricValues"][0]["value"] == 1800


def test_a_json_seed_and_a_dict_seed_are_the_same_format(tmp_path: Path) -> None:
    data = {"agents": [{"id": AGENT, "name": "Bot"}], "conversations": [{"id": CONVERSATION}]}
    from_file = load_seed(_write(tmp_path, "seed.json", json.dumps(data)))
    assert from_file == load_seed(data)
    assert from_file.conversations[0].id == CONVERSATION


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("agents:\n  - {nmae: Bot}\n", "agents[0].nmae: Extra inputs are not permitted"),
        ("conversations:\n  - {id: nope}\n", "conversations[0].id: Value error, must be a UUID"),
        (
            "customerMetrics:\n  - {conversationId: " + CONVERSATION + ", label: L, score: 101}\n",
            "customerMetrics[0].score",
        ),
        (
            "siro:\n  recordings:\n    - {id: r, organizationId: o, conversationTypeId: t,"
            " startedAt: '2026-01-10T12:00:00'}\n",
            "must carry a timezone",
        ),
        ("- just\n- a list\n", "the top level must be a mapping"),
        ("agents: [\n", "not valid YAML"),
        ("agents: []\nagents: []\n", 'found duplicate key "agents"'),
        ("agents:\n\t- x\n", "seed.yaml, line 2, column 1"),
        (
            "conversations:\n  - {id: " + CONVERSATION + ", agentId: " + AGENT + "}\n",
            "conversations[0]: unknown agent",
        ),
    ],
)
def test_a_bad_seed_names_the_file_the_path_and_the_rule(
    tmp_path: Path, emulator_factory: Any, text: str, words: str
) -> None:
    path = _write(tmp_path, "seed.yaml", text)
    with pytest.raises(SeedError) as caught:
        emulator_factory(seed=path)
    assert words in str(caught.value)
    assert "Traceback" not in str(caught.value)


def test_a_missing_seed_file_is_a_seed_error(tmp_path: Path) -> None:
    with pytest.raises(SeedError, match="cannot read seed file"):
        load_seed(tmp_path / "absent.yaml")


def test_a_database_file_keeps_state_and_reseeding_never_undoes_api_writes(
    tmp_path: Path, emulator_factory: Any, client_for: ClientFactory
) -> None:
    db = tmp_path / "state" / "local.sqlite"
    seed = _write(tmp_path, "seed.yaml", SEED_YAML)
    first = emulator_factory(db_path=db, seed=seed)
    url = f"/v1/conversations/{CONVERSATION}/customer-metrics"
    team = client_for(first, Authorization="Bearer team-key")
    team.post(url, json={"label": "Empathy", "score": 95, "externalId": "qa-1"})
    team.post(url, json={"label": "New", "verdict": "fail"})
    first.stop()
    second = emulator_factory(db_path=db, seed=seed)
    records = client_for(second, Authorization="Bearer team-key").get(url).json()["data"]
    assert [(r["label"], r["score"]) for r in records] == [
        ("Made in the app", None),
        ("Empathy", 95),
        ("New", None),
    ]


def test_a_state_file_that_is_not_sqlite_is_a_clear_error(tmp_path: Path) -> None:
    state = _write(tmp_path, "local.sqlite", "this is not a database\n" * 200)
    with pytest.raises(EmulatorError, match=r"cannot open emulator state .*local\.sqlite"):
        start_in_thread(EmulatorConfig(db_path=state))
