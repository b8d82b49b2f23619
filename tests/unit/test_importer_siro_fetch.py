"""Finding the recordings with values in few requests, against the emulator's Siro endpoint.

Each test counts the emulator's requests: the cost must follow the recordings in the window, not
the mapping, and a typo in the recordings mapping must be an error under both answers an unknown
recording may get (404, or 200 with a count of 0).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from reconciler.config import SiroSettings
from reconciler.contract.siro import UnknownRecording
from reconciler.errors import ApiError
from reconciler.importer.siro_fetch import (
    NeverEvaluated,
    Outcome,
    RecordingValues,
    batches,
    fetch_values,
)
from reconciler.importer.siro_import import build_siro_files
from reconciler.remote.http import Endpoint, HttpSession, HttpSettings, Secret
from reconciler.remote.siro import SIRO_AUTH, SiroClient, SiroQuery

ORG, TYPE = "org_1", "ct_1"
QUERY = SiroQuery(ORG, TYPE, "2026-01-01T00:00:00.000Z", "2026-02-01T00:00:00.000Z")
ROUTE = ("GET", "/v1/core/scorecards/scorecard-metrics/values")
FAST = HttpSettings(concurrency=4, max_attempts=2, backoff_base_seconds=0.001)


def _seed(emulator: Any, count: int, in_window: set[int]) -> list[str]:
    ids = [f"rec_{i:03d}" for i in range(count)]
    for i, rid in enumerate(ids):
        started = "2026-01-15T10:00:00+00:00" if i in in_window else "2025-06-01T10:00:00+00:00"
        emulator.store.add_siro_recording(
            rid, organization_id=ORG, conversation_type_id=TYPE, started_at=started,
            metric_values=[
                {"id": "a", "name": "A", "unit": "percent", "unitAbbreviated": "%",
                 "metricType": "REP_CONTROL", "value": i % 100, "passRate": 100},
                {"id": "b", "name": "B", "unit": "seconds", "unitAbbreviated": "s",
                 "metricType": "CONVERSATION_TIME", "value": 60 + i},
            ],
        )  # fmt: skip
    emulator.reset_request_counts()
    return ids


def _fetch(
    emulator: Any, ids: list[str], *, batch_size: int = 100, unknown: UnknownRecording = "404"
) -> dict[str, Outcome]:
    endpoint = Endpoint(emulator.url, Secret(emulator.siro_token), "siro", "SIRO_AUTH_TOKEN")

    async def main() -> dict[str, Outcome]:
        async with HttpSession(endpoint, FAST, auth=SIRO_AUTH) as http:
            client = SiroClient(http)
            return await fetch_values(client, QUERY, ids, batch_size=batch_size, unknown=unknown)

    return asyncio.run(main())


def _with_values(results: dict[str, Outcome]) -> dict[str, float]:
    return {
        rid: float(str(r.metric_values[0].value))
        for rid, r in results.items()
        if isinstance(r, RecordingValues) and r.count
    }


def test_an_empty_window_costs_one_request_per_batch(emulator: Any) -> None:
    ids = _seed(emulator, 60, set())
    results = _fetch(emulator, ids, batch_size=25)
    assert all(isinstance(r, RecordingValues) and r.count == 0 for r in results.values())
    assert emulator.request_counts()[ROUTE] == 3


def test_only_recordings_in_the_window_are_read_and_each_gets_its_own_values(
    emulator: Any,
) -> None:
    ids = _seed(emulator, 60, {3, 41, 42})
    results = _fetch(emulator, ids)
    assert _with_values(results) == {"rec_003": 3, "rec_041": 41, "rec_042": 42}
    assert emulator.request_counts()[ROUTE] <= 3 * 7


def test_pages_are_followed_inside_the_search(emulator_factory: Any) -> None:
    emulator = emulator_factory(siro_page_size=1)
    ids = _seed(emulator, 8, {5})
    results = _fetch(emulator, ids)
    assert len(results["rec_005"].metric_values) == 2  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", ["404", "empty"])
def test_a_typo_is_an_error_under_both_answers_for_unknown_recordings(
    emulator_factory: Any, mode: UnknownRecording
) -> None:
    emulator = emulator_factory(siro_unknown_recording=mode)
    ids = _seed(emulator, 10, {2})
    results = _fetch(emulator, [*ids, "rec_typo"], unknown=mode)
    typo = results["rec_typo"]
    if mode == "404":
        assert isinstance(typo, ApiError) and typo.status == 404
    else:
        assert typo == NeverEvaluated("rec_typo")
    assert _with_values(results) == {"rec_002": 2}
    known_empty = [r for rid, r in results.items() if rid not in {"rec_typo", "rec_002"}]
    assert all(isinstance(r, RecordingValues) and r.count == 0 for r in known_empty)


def test_batches_are_bounded_by_count_and_by_query_length() -> None:
    assert [len(b) for b in batches([f"r{i}" for i in range(250)], 100)] == [100, 100, 50]
    long_ids = ["x" * 200 for _ in range(20)]
    assert all(len(b) < 20 for b in batches(long_ids, 100))


def test_a_recording_never_evaluated_fails_the_import_naming_it(tmp_path: Path) -> None:
    """Under ``unknown_recording: empty`` a typo comes back as NeverEvaluated: an error."""
    settings = SiroSettings.model_validate(
        {
            "organizationId": ORG,
            "conversationTypeId": TYPE,
            "recordings": {"rec_typo": "3c90c3cc-0d44-4b50-8888-8dd25736052a"},
            "metrics": [{"metricType": "REP_CONTROL", "label": "Control", "score": "value"}],
        }
    )
    fetched: dict[str, Outcome] = {"rec_typo": NeverEvaluated("rec_typo")}
    recordings = {"rec_typo": "3c90c3cc-0d44-4b50-8888-8dd25736052a"}
    build = build_siro_files(settings, recordings, fetched, tmp_path)
    assert not build.files
    (error,) = build.errors
    assert str(error).startswith("recording rec_typo: Siro has never evaluated this recording")
