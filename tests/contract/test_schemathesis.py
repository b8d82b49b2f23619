"""Schemathesis against the emulator, for both contracts, bounded in time.

Schemathesis generates requests from ``contracts/*-openapi.yaml`` (valid and invalid ones) and
checks every answer against the same documents: no 5xx, documented statuses, content types and
response schemas, invalid data refused, valid data accepted. The emulator runs lenient (its
default), the behaviour the vendors' pages document; where it differs from them, the difference is
an assumption listed in docs/contract.md. A few examples per operation keep the whole file near
half a minute on the shared 2-core machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from contract_check import SIRO_SPEC, ZELTO_SPEC
from hypothesis import HealthCheck, settings

from reconciler.emulator import EmulatorConfig, RunningEmulator, start_in_thread

ZELTO = schemathesis.openapi.from_path(ZELTO_SPEC)
SIRO = schemathesis.openapi.from_path(SIRO_SPEC)
BOUNDED = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def lenient() -> Iterator[RunningEmulator]:
    running = start_in_thread(EmulatorConfig())
    running.store.add_siro_recording(
        "rec_1", organization_id="org_123", conversation_type_id="ct_1",
        started_at="2026-01-10T12:00:00+00:00",
        metric_values=[{"id": "m", "name": "M", "unit": "percent", "unitAbbreviated": "%",
                        "metricType": "REP_CONTROL", "value": 50, "passRate": 123}],
    )  # fmt: skip
    yield running
    running.stop()


def _headers(running: RunningEmulator, siro: bool) -> dict[str, Any]:
    if siro:
        return {"x-siro-auth-token": running.siro_token}
    return {"Authorization": f"Bearer {running.zelto_api_key}"}


@ZELTO.parametrize()
@BOUNDED
def test_zelto_contract(case: Any, lenient: RunningEmulator) -> None:
    case.call_and_validate(base_url=lenient.url, headers=_headers(lenient, siro=False))


@SIRO.parametrize()
@BOUNDED
def test_siro_contract(case: Any, lenient: RunningEmulator) -> None:
    case.call_and_validate(base_url=lenient.url, headers=_headers(lenient, siro=True))
