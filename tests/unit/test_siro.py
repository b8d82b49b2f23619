"""The Siro client over real HTTP against the emulator's Siro endpoint, paging included."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from reconciler.contract.siro import VENDOR_EXAMPLE_METRIC_VALUE
from reconciler.errors import ApiError, AuthError
from reconciler.remote.http import Endpoint, HttpSession, HttpSettings, Secret
from reconciler.remote.siro import (
    SIRO_AUTH,
    Aggregate,
    SiroClient,
    SiroQuery,
    siro_http_settings,
)

ORG = "org_123"
TYPE = "7a1b2c3d-0000-4000-8000-000000000001"
START, END = "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"
FAST = HttpSettings(concurrency=4, max_attempts=3, backoff_base_seconds=0.001)


def _seed(emulator: Any, recording: str = "rec_1") -> None:
    emulator.store.add_siro_recording(
        recording,
        organization_id=ORG,
        conversation_type_id=TYPE,
        started_at="2026-01-15T10:00:00+00:00",
        metric_values=[
            {
                "id": "mv_1", "name": "Interactivity", "unit": "score",
                "unitAbbreviated": "pts", "metricType": "INTERACTIVITY_SCORE",
                "value": 7.5, "passRate": 80,
            },
            {
                "id": "mv_2", "name": "Brand new", "unit": "count",
                "unitAbbreviated": "#", "metricType": "SOMETHING_NEW", "value": None,
            },
        ],
    )  # fmt: skip


def _values(
    emulator: Any,
    recording: str | list[str] = "rec_1",
    *,
    token: str | None = None,
    settings: HttpSettings = FAST,
    start: str = START,
    **session: Any,
) -> Aggregate:
    endpoint = Endpoint(
        emulator.url, Secret(token or emulator.siro_token), "siro", "SIRO_AUTH_TOKEN"
    )

    ids = [recording] if isinstance(recording, str) else recording

    async def main() -> Aggregate:
        async with HttpSession(endpoint, settings, auth=SIRO_AUTH, **session) as http:
            return await SiroClient(http).values(SiroQuery(ORG, TYPE, start, END), ids)

    return asyncio.run(main())


def test_recording_values_keep_unknown_metric_types(emulator: Any) -> None:
    _seed(emulator)
    values = _values(emulator)
    assert values.recording_ids == ("rec_1",) and values.recordings_evaluated_count == 1
    first, second = values.metric_values
    assert (first.metric_type, first.value, first.pass_rate, first.known_type) == (
        "INTERACTIVITY_SCORE", 7.5, 80, True,
    )  # fmt: skip
    assert (second.metric_type, second.value, second.known_type) == ("SOMETHING_NEW", None, False)


def test_an_unknown_recording_is_a_clear_404(emulator: Any) -> None:
    _seed(emulator)
    with pytest.raises(ApiError) as caught:
        _values(emulator, "rec_missing")
    assert caught.value.status == 404
    assert "recording rec_missing: Siro does not know this recording" in str(caught.value)
    assert "Recording not found: rec_missing" in str(caught.value)


def test_401_says_the_token_may_be_old(emulator: Any) -> None:
    _seed(emulator)
    token = "siro_expired_token_0123456789"
    with pytest.raises(AuthError) as caught:
        _values(emulator, token=token)
    message = str(caught.value)
    assert "missing, wrong or older than 16 hours" in message and "SIRO_AUTH_TOKEN" in message
    assert token not in message and token not in repr(caught.value)


def test_422_renders_the_zod_issues(emulator: Any) -> None:
    _seed(emulator)
    with pytest.raises(ApiError) as caught:
        _values(emulator, start="last tuesday")
    assert caught.value.status == 422
    assert "startAt: Invalid datetime" in str(caught.value)


def test_an_organization_without_access_is_a_403(emulator: Any) -> None:
    with pytest.raises(ApiError, match="HTTP 403") as caught:
        _values(emulator)
    assert f"no access to organization {ORG}" in str(caught.value)


def test_429_without_retry_after_backs_off_exponentially(emulator_factory: Any) -> None:
    emulator = emulator_factory(siro_requests_per_minute=1)
    _seed(emulator)
    _values(emulator)  # uses the one request of this minute
    delays: list[float] = []

    async def record(delay: float) -> None:
        delays.append(delay)

    def clock() -> float:  # the time the recorded waits would have taken
        return sum(delays)

    settings = HttpSettings(max_attempts=3, backoff_base_seconds=1.0, backoff_cap_seconds=10)
    with pytest.raises(ApiError, match="HTTP 429") as caught:
        _values(emulator, settings=settings, sleep=record, clock=clock, rng=random.Random(4))
    assert caught.value.transient
    assert len(delays) == 2
    assert 0 <= delays[0] <= 1.0 and 0 <= delays[1] <= 2.0  # full jitter under 1 s, then 2 s


def test_default_settings_respect_the_documented_rate_limit() -> None:
    settings = siro_http_settings()
    assert settings.requests_per_second == pytest.approx(1000 / 60)
    assert siro_http_settings(requests_per_minute=120).requests_per_second == 2


def test_a_list_goes_on_the_wire_as_a_repeated_parameter(emulator: Any) -> None:
    """Before, a list became the literal text "['rec_1', 'rec_2']": one unknown recording."""
    _seed(emulator)
    _seed(emulator, "rec_2")
    assert _values(emulator, ["rec_1", "rec_2"]).recordings_evaluated_count == 2


def test_every_page_is_read(emulator_factory: Any) -> None:
    emulator = emulator_factory(siro_page_size=1)
    _seed(emulator)
    values = _values(emulator)
    assert [v.id for v in values.metric_values] == ["mv_1", "mv_2"]
    assert emulator.request_counts()[("GET", "/v1/core/scorecards/scorecard-metrics/values")] == 2


@pytest.mark.parametrize("broken", ["null", "repeat"])
def test_a_broken_cursor_is_an_error_naming_the_recording(
    emulator_factory: Any, broken: str
) -> None:
    """Before, hasNextPage with a null or repeated cursor stopped quietly after page 1."""
    emulator = emulator_factory(siro_page_size=1, siro_broken_cursor=broken)
    _seed(emulator)
    with pytest.raises(ApiError) as caught:
        _values(emulator)
    message = str(caught.value)
    assert "recording rec_1:" in message and "hasNextPage" in message
    assert ("null or empty" if broken == "null" else "repeated") in message


def test_the_vendors_own_example_response_is_read(emulator: Any) -> None:
    """The vendor page's example, verbatim: passRate 123 is kept, not a malformed response."""
    emulator.store.add_siro_recording(
        "rec_1", organization_id=ORG, conversation_type_id=TYPE,
        started_at="2026-01-15T10:00:00+00:00", metric_values=[VENDOR_EXAMPLE_METRIC_VALUE],
    )  # fmt: skip
    (value,) = _values(emulator).metric_values
    assert (value.metric_type, value.value, value.pass_rate) == ("CONVERSATION_TIME", 1800, 123)
