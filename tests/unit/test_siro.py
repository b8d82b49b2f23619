"""The Siro client over real HTTP against the emulator's Siro endpoint; paging through a fake."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import httpx
import pytest

from reconciler.errors import ApiError, AuthError
from reconciler.remote.http import Endpoint, HttpSession, HttpSettings, Secret
from reconciler.remote.siro import SIRO_AUTH, RecordingValues, SiroClient, siro_http_settings

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
    recording: str = "rec_1",
    *,
    token: str | None = None,
    settings: HttpSettings = FAST,
    start: str = START,
    **session: Any,
) -> RecordingValues:
    endpoint = Endpoint(
        emulator.url, Secret(token or emulator.siro_token), "siro", "SIRO_AUTH_TOKEN"
    )

    async def main() -> RecordingValues:
        async with HttpSession(endpoint, settings, auth=SIRO_AUTH, **session) as http:
            return await SiroClient(http).recording_values(ORG, TYPE, start, END, recording)

    return asyncio.run(main())


def test_recording_values_keep_unknown_metric_types(emulator: Any) -> None:
    _seed(emulator)
    values = _values(emulator)
    assert values.recording_id == "rec_1" and values.recordings_evaluated_count == 1
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

    settings = HttpSettings(max_attempts=3, backoff_base_seconds=1.0, backoff_cap_seconds=10)
    with pytest.raises(ApiError, match="HTTP 429") as caught:
        _values(emulator, settings=settings, sleep=record, rng=random.Random(4))
    assert caught.value.transient
    assert len(delays) == 2
    assert 0 <= delays[0] <= 1.0 and 0 <= delays[1] <= 2.0  # full jitter under 1 s, then 2 s


def test_default_settings_respect_the_documented_rate_limit() -> None:
    settings = siro_http_settings()
    assert settings.requests_per_second == pytest.approx(1000 / 60)
    assert siro_http_settings(requests_per_minute=120).requests_per_second == 2


def _paged(pages: dict[str | None, dict[str, Any]]) -> httpx.MockTransport:
    """Siro documents a paging envelope but the values endpoint is not paginated in practice, so
    the emulator never sets hasNextPage: only a fake can exercise the defensive paging."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=json.dumps(pages[request.url.params.get("cursor")]))

    return httpx.MockTransport(answer)


def _page(value_id: str, cursor: str | None, more: bool) -> dict[str, Any]:
    value = {"id": value_id, "name": value_id, "unit": "s", "unitAbbreviated": "s",
             "metricType": "CONVERSATION_TIME", "value": 1}  # fmt: skip
    data = {"recordingsEvaluatedCount": 1, "metricValues": [value], "startAt": START,
            "endAt": END, "filterByIds": ["rec_1"], "filterBy": "RECORDING"}  # fmt: skip
    return {"data": data, "cursor": cursor, "hasNextPage": more}


@pytest.mark.parametrize(
    ("pages", "ids"),
    [
        ({None: _page("a", "c2", True), "c2": _page("b", None, False)}, ["a", "b"]),
        ({None: _page("a", "c2", True), "c2": _page("b", "c2", True)}, ["a", "b"]),  # repeats
        ({None: _page("a", None, True)}, ["a"]),  # hasNextPage without a cursor
    ],
)
def test_pages_are_followed_defensively(pages: dict[str | None, Any], ids: list[str]) -> None:
    endpoint = Endpoint("https://api.siro.ai", Secret("siro_token_0123456789"), "api.siro.ai")

    async def main() -> RecordingValues:
        async with HttpSession(endpoint, FAST, auth=SIRO_AUTH, transport=_paged(pages)) as http:
            return await SiroClient(http).recording_values(ORG, TYPE, START, END, "rec_1")

    values = asyncio.run(main())
    assert [v.id for v in values.metric_values] == ids
