"""Fault injection: each fault as a client meets it, and determinism under a seed."""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx
import pytest
from contract_check import ClientFactory

from reconciler.emulator import EmulatorError, Faults, RunningEmulator

SIRO_PATH = "/v1/core/scorecards/scorecard-metrics/values"


def _statuses(client: httpx.Client, path: str, count: int) -> list[int]:
    return [client.get(path).status_code for _ in range(count)]


def _metrics_path(running: RunningEmulator) -> str:
    return f"/v1/conversations/{running.store.add_conversation()}/customer-metrics"


def _zelto(running: RunningEmulator, client_for: ClientFactory) -> httpx.Client:
    return client_for(running, Authorization=f"Bearer {running.zelto_api_key}")


def test_error_rate_one_answers_503_in_each_apis_error_shape(
    emulator_factory: Any, client_for: ClientFactory
) -> None:
    running = emulator_factory(faults=Faults(error_rate=1.0))
    client = _zelto(running, client_for)
    zelto = client.get(_metrics_path(running))
    assert zelto.status_code == 503
    assert zelto.json()["error"]["code"] == "service_unavailable"
    siro = client.get(SIRO_PATH)
    assert siro.status_code == 503
    assert isinstance(siro.json()["error"], str)


@pytest.mark.parametrize(("seconds", "header"), [(2.0, "2"), (0.05, "0.05")])
def test_throttle_rate_one_answers_429_with_retry_after(
    emulator_factory: Any, client_for: ClientFactory, seconds: float, header: str
) -> None:
    running = emulator_factory(faults=Faults(throttle_rate=1.0, retry_after_seconds=seconds))
    response = _zelto(running, client_for).get(_metrics_path(running))
    assert response.status_code == 429
    assert response.headers["retry-after"] == header


def test_drop_rate_one_makes_httpx_raise_a_transport_error_without_server_noise(
    emulator_factory: Any, client_for: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    running = emulator_factory(faults=Faults(drop_rate=1.0))
    client = _zelto(running, client_for)
    with caplog.at_level(logging.ERROR), pytest.raises(httpx.TransportError):
        client.get(_metrics_path(running))
    assert not [r for r in caplog.records if r.name.startswith("uvicorn")]
    running.set_faults(Faults())
    assert client.get(_metrics_path(running)).status_code == 200


def test_latency_delays_every_response(emulator_factory: Any, client_for: ClientFactory) -> None:
    running = emulator_factory(faults=Faults(latency_ms=60))
    client = _zelto(running, client_for)
    path = _metrics_path(running)
    started = time.perf_counter()
    for _ in range(3):
        assert client.get(path).status_code == 200
    assert time.perf_counter() - started >= 0.18


def test_hard_rate_limit_answers_429_beyond_it(
    emulator_factory: Any, client_for: ClientFactory
) -> None:
    running = emulator_factory(faults=Faults(max_requests_per_second=5))
    client = _zelto(running, client_for)
    path = _metrics_path(running)
    responses = [client.get(path) for _ in range(8)]
    assert [r.status_code for r in responses] == [200] * 5 + [429] * 3
    assert responses[-1].headers["retry-after"] == "1"
    time.sleep(1.05)
    assert client.get(path).status_code == 200


def _fates(running: RunningEmulator, client: httpx.Client, path: str) -> list[str]:
    fates = []
    for _ in range(60):
        try:
            fates.append(str(client.get(path).status_code))
        except httpx.TransportError:
            fates.append("drop")
    return fates


def test_faults_are_deterministic_under_a_seed(
    emulator_factory: Any, client_for: ClientFactory
) -> None:
    faults = Faults(error_rate=0.2, throttle_rate=0.2, drop_rate=0.1, retry_after_seconds=0, seed=7)
    runs = []
    for _ in range(2):
        running = emulator_factory(faults=faults)
        runs.append(_fates(running, _zelto(running, client_for), _metrics_path(running)))
    assert runs[0] == runs[1]
    assert {"200", "503", "429", "drop"} <= set(runs[0])
    running = emulator_factory(faults=Faults(**{**faults.__dict__, "seed": 8}))
    assert _fates(running, _zelto(running, client_for), _metrics_path(running)) != runs[0]
    running.set_faults(faults)
    assert _fates(running, _zelto(running, client_for), _metrics_path(running)) == runs[0]


def test_request_counts_are_keyed_by_method_and_route_template(
    emulator: RunningEmulator, client_for: ClientFactory
) -> None:
    client = _zelto(emulator, client_for)
    path = _metrics_path(emulator)
    client.get(path)
    client.post(path, json={"label": "L", "score": 1})
    client.post(path, json={"label": "M", "score": 1})
    client.get("/v1/agents")
    assert emulator.request_counts() == {
        ("GET", "/v1/conversations/{id}/customer-metrics"): 1,
        ("POST", "/v1/conversations/{id}/customer-metrics"): 2,
        ("GET", "/v1/agents"): 1,
    }
    emulator.reset_request_counts()
    assert emulator.request_counts() == {}


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"error_rate": 1.5}, "faults.error_rate must be a fraction between 0 and 1"),
        ({"drop_rate": -0.1}, "faults.drop_rate"),
        ({"latency_ms": -1}, "faults.latency_ms must be a finite number >= 0"),
        ({"max_requests_per_second": 0}, "faults.max_requests_per_second"),
        ({"seed": "x"}, "faults.seed must be an integer"),
    ],
)
def test_bad_fault_settings_are_refused_with_the_rule(kwargs: dict[str, Any], words: str) -> None:
    with pytest.raises(EmulatorError, match=words.replace(".", r"\.")):
        Faults(**kwargs)


def test_faults_can_target_one_method(emulator_factory: Any, client_for: ClientFactory) -> None:
    running = emulator_factory(faults=Faults(error_rate=1.0, methods=("post",)))
    client = _zelto(running, client_for)
    path = _metrics_path(running)
    assert client.post(path, json={"label": "L", "score": 1}).status_code == 503
    assert client.get(path).status_code == 200
    assert running.faults.methods == ("POST",)


@pytest.mark.parametrize(
    ("methods", "words"), [("POST", "must be a list"), (("FETCH",), "'FETCH' is not one of")]
)
def test_bad_fault_methods_are_refused(methods: object, words: str) -> None:
    with pytest.raises(EmulatorError, match=words):
        Faults(methods=methods)  # type: ignore[arg-type]


def test_a_lost_response_still_stores_the_write(
    emulator_factory: Any, client_for: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    running = emulator_factory(faults=Faults(lost_response_rate=1.0, methods=("POST",)))
    client = _zelto(running, client_for)
    path = _metrics_path(running)
    with caplog.at_level(logging.ERROR), pytest.raises(httpx.TransportError):
        client.post(path, json={"label": "L", "verdict": "pass"})
    assert not [r for r in caplog.records if r.name.startswith("uvicorn")]
    [record] = client.get(path).json()["data"]
    assert (record["label"], record["verdict"]) == ("L", "pass")
