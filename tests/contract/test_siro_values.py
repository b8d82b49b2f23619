"""Siro scorecard metric values (siro.md): envelope, filters, window, errors, rate limit."""

from __future__ import annotations

from typing import Any

import pytest
from contract_check import CheckedClient, ClientFactory

from reconciler.emulator import RunningEmulator

PATH = "/v1/core/scorecards/scorecard-metrics/values"
ORG = "org_123"
TYPE = "6a3c1f0e-2b4d-4e8f-9a1b-3c5d7e9f1a2b"
WINDOW = {"startAt": "2026-01-01T00:00:00Z", "endAt": "2026-01-31T23:59:59Z"}


def _value(metric_id: str, value: float | None, pass_rate: float | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": metric_id,
        "name": metric_id.title(),
        "unit": "seconds",
        "unitAbbreviated": "sec",
        "metricType": "CONVERSATION_TIME",
        "description": "Time on the call",
    }
    if value is not None:
        entry["value"] = value
    if pass_rate is not None:
        entry["passRate"] = pass_rate
    return entry


def _record(
    emulator: RunningEmulator, rec_id: str, started_at: str, values: list[dict[str, Any]], **kw: Any
) -> None:
    emulator.store.add_siro_recording(
        rec_id,
        organization_id=kw.pop("organization_id", ORG),
        conversation_type_id=kw.pop("conversation_type_id", TYPE),
        started_at=started_at,
        metric_values=values,
        **kw,
    )


def _params(ids: list[str] | str, filter_by: str = "RECORDING", **extra: str) -> dict[str, Any]:
    return {
        "requestedOrganizationId": ORG,
        "conversationTypeId": TYPE,
        **WINDOW,
        "filterByIds": ids,
        "filterBy": filter_by,
        **extra,
    }


def test_one_recording_returns_its_values_in_the_documented_envelope(
    emulator: RunningEmulator, siro: CheckedClient
) -> None:
    values = [_value("talk", 1800, 87.5), _value("silence", None)]
    _record(emulator, "rec_1", "2026-01-10T12:00:00Z", values)
    body = siro.get(PATH, params=_params("rec_1")).json()
    assert body == {
        "data": {
            "recordingsEvaluatedCount": 1,
            "metricValues": values,
            **WINDOW,
            "filterByIds": ["rec_1"],
            "filterBy": "RECORDING",
        },
        "cursor": None,
        "pageSize": 0,
        "limit": 0,
        "total": None,
        "hasNextPage": False,
    }


def test_several_ids_aggregate_as_the_mean(emulator: RunningEmulator, siro: CheckedClient) -> None:
    _record(emulator, "rec_1", "2026-01-10T12:00:00Z", [_value("talk", 100, 50)])
    _record(emulator, "rec_2", "2026-01-11T12:00:00Z", [_value("talk", 300, None)])
    data = siro.get(PATH, params=_params(["rec_1", "rec_2"])).json()["data"]
    assert data["recordingsEvaluatedCount"] == 2
    assert data["filterByIds"] == ["rec_1", "rec_2"]
    [metric] = data["metricValues"]
    assert (metric["value"], metric["passRate"]) == (200, 50)


@pytest.mark.parametrize(
    ("started_at", "kw"),
    [
        ("2025-12-31T23:59:59Z", {}),
        ("2026-02-01T00:00:00Z", {}),
        ("2026-01-10T12:00:00Z", {"conversation_type_id": "another-type"}),
    ],
)
def test_recordings_outside_the_window_or_type_count_zero_with_null_values(
    emulator: RunningEmulator, siro: CheckedClient, started_at: str, kw: dict[str, str]
) -> None:
    _record(emulator, "rec_1", started_at, [_value("talk", 100, 50)], **kw)
    data = siro.get(PATH, params=_params("rec_1")).json()["data"]
    assert data["recordingsEvaluatedCount"] == 0
    [metric] = data["metricValues"]
    assert (metric["value"], metric["passRate"]) == (None, None)


def _count(siro: CheckedClient, params: dict[str, Any]) -> int:
    count: int = siro.get(PATH, params=params).json()["data"]["recordingsEvaluatedCount"]
    return count


def test_user_team_and_organization_filters(emulator: RunningEmulator, siro: CheckedClient) -> None:
    _record(emulator, "r1", "2026-01-10T00:00:00Z", [_value("m", 10)], user_id="u1", team_id="t")
    _record(emulator, "r2", "2026-01-11T00:00:00Z", [_value("m", 30)], user_id="u2", team_id="t")
    counts = {
        (by, ids): _count(siro, _params(ids, by))
        for by, ids in [("USER", "u1"), ("TEAM", "t"), ("ORGANIZATION", ORG), ("USER", "none")]
    }
    assert counts == {
        ("USER", "u1"): 1,
        ("TEAM", "t"): 2,
        ("ORGANIZATION", ORG): 2,
        ("USER", "none"): 0,
    }


def test_unknown_recording_is_404_with_the_error_shape(
    emulator: RunningEmulator, siro: CheckedClient
) -> None:
    _record(emulator, "rec_1", "2026-01-10T12:00:00Z", [_value("talk", 1)])
    response = siro.get(PATH, params=_params(["rec_1", "rec_404"]))
    assert response.status_code == 404
    assert response.json() == {"error": "Recording not found: rec_404"}


def test_a_recording_of_another_organization_is_404(
    emulator: RunningEmulator, siro: CheckedClient
) -> None:
    _record(emulator, "rec_1", "2026-01-10T12:00:00Z", [_value("t", 1)])
    _record(emulator, "rec_x", "2026-01-10T12:00:00Z", [_value("t", 1)], organization_id="org_x")
    assert siro.get(PATH, params=_params("rec_x")).status_code == 404


def test_an_organization_the_token_cannot_see_is_403(siro: CheckedClient) -> None:
    response = siro.get(PATH, params=_params("rec_1"))
    assert response.status_code == 403
    assert ORG in response.json()["error"]


@pytest.mark.parametrize("headers", [{}, {"x-siro-auth-token": "wrong"}])
def test_missing_or_wrong_token_is_401(
    emulator: RunningEmulator, client_for: ClientFactory, headers: dict[str, str]
) -> None:
    response = client_for(emulator, **headers).get(PATH, params=_params("rec_1"))
    assert response.status_code == 401
    assert "x-siro-auth-token" in response.json()["error"]


def test_every_missing_parameter_is_a_zod_issue(siro: CheckedClient) -> None:
    response = siro.get(PATH)
    assert response.status_code == 422
    body = response.json()
    assert body["name"] == "ZodError"
    assert [(i["code"], i["path"], i["message"]) for i in body["issues"]] == [
        ("invalid_type", [name], "Required")
        for name in (
            "requestedOrganizationId",
            "conversationTypeId",
            "startAt",
            "endAt",
            "filterByIds",
            "filterBy",
        )
    ]


@pytest.mark.parametrize(
    ("override", "code", "path", "words"),
    [
        ({"filterBy": "CALL"}, "invalid_enum_value", "filterBy", "received 'CALL'"),
        ({"groupBy": "NOPE"}, "invalid_enum_value", "groupBy", "Expected 'RECORDING'"),
        ({"startAt": "yesterday"}, "invalid_string", "startAt", "Invalid datetime"),
        ({"endAt": "2026-01-31T23:59:59"}, "invalid_string", "endAt", "Invalid datetime"),
        ({"filterByIds": ""}, "too_small", "filterByIds", "at least 1 character"),
        ({"startAt": ["2026-01-01T00:00:00Z"] * 2}, "invalid_type", "startAt", "received array"),
        ({"startAt": "2026-03-01T00:00:00Z"}, "custom", "endAt", "before startAt"),
    ],
)
def test_invalid_parameters_are_zod_issues(
    siro: CheckedClient, override: dict[str, Any], code: str, path: str, words: str
) -> None:
    response = siro.get(PATH, params={**_params("rec_1"), **override})
    assert response.status_code == 422
    [issue] = response.json()["issues"]
    assert (issue["code"], issue["path"]) == (code, [path])
    assert words in issue["message"]


def test_the_per_token_rate_limit_answers_429(
    emulator_factory: Any, client_for: ClientFactory
) -> None:
    running = emulator_factory(
        siro_requests_per_minute=3, seed={"siro": {"tokens": ["second-token"]}}
    )
    first = client_for(running, **{"x-siro-auth-token": running.siro_token})
    statuses = [first.get(PATH, params=_params("r")).status_code for _ in range(5)]
    assert statuses == [403, 403, 403, 429, 429]
    limited = first.get(PATH, params=_params("r"))
    assert "3 requests per token per minute" in limited.json()["error"]
    assert "retry-after" not in limited.headers
    second = client_for(running, **{"x-siro-auth-token": "second-token"})
    assert second.get(PATH, params=_params("r")).status_code == 403


LENIENT_CASES = [
    ("lower-case t and z", {"startAt": "2026-01-01t00:00:00z"}, 1),
    ("an empty id beside a real one", {"filterByIds": ["", "rec_1"]}, 1),
    ("endAt before startAt: an empty window", {"endAt": "2025-12-31T00:00:00Z"}, 0),
    ("filterBy repeated, as an array", {"filterBy": ["RECORDING", "RECORDING"]}, 1),
]


@pytest.mark.parametrize(
    ("case", "change", "count"), LENIENT_CASES, ids=[c[0] for c in LENIENT_CASES]
)
def test_what_the_vendor_page_allows_is_accepted_unless_strict(
    emulator_factory: Any, client_for: ClientFactory, case: str, change: dict[str, Any], count: int
) -> None:
    for strict in (False, True):
        running = emulator_factory(strict=strict)
        _record(running, "rec_1", "2026-01-10T12:00:00Z", [_value("talk", 1)])
        client = client_for(running, **{"x-siro-auth-token": running.siro_token})
        response = client.get(PATH, params={**_params("rec_1"), **change})
        if strict:
            assert response.status_code == 422, case
        else:
            assert response.status_code == 200, (case, response.text)
            assert response.json()["data"]["recordingsEvaluatedCount"] == count


def test_405_names_the_allowed_methods(siro: CheckedClient) -> None:
    response = siro.request("DELETE", PATH)
    assert response.status_code == 405
    # Starlette lists the methods from a set: their order varies between processes.
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD"}
