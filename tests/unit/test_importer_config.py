"""The siro section of reconciler.yaml: mistakes are caught when the config loads."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from reconciler.config import Config
from reconciler.config.siro import SiroSettings

CONV = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
CONV2 = "9a1f6f2e-3a4b-4c5d-8e9f-0a1b2c3d4e5f"


def siro(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "organizationId": "org_1",
        "conversationTypeId": "ct_1",
        "recordings": {"rec_1": CONV},
        "metrics": [{"metricType": "REP_CONTROL", "label": "Control", "score": "passRate"}],
    }
    base.update(overrides)
    return base


def error_text(data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as info:
        SiroSettings.model_validate(data)
    return str(info.value)


def test_defaults() -> None:
    s = SiroSettings.model_validate(siro())
    assert s.url == "https://api.siro.ai"
    assert s.token_env == "SIRO_AUTH_TOKEN"
    assert s.output == "specs/imported/siro"
    assert Config.model_validate({"siro": siro()}).siro == s
    assert Config().siro is None


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        ({"label": "X", "score": "passRate"}, "exactly one of metricType and name"),
        ({"metricType": "A", "name": "B", "label": "X", "score": "value"}, "exactly one"),
        ({"metricType": "A", "label": "X"}, "needs score, verdict or both"),
        ({"metricType": "A", "label": "X", "score": "average"}, "passRate"),
        ({"metricType": "A", "label": "", "score": "value"}, "at least 1 character"),
        (
            {
                "metricType": "A",
                "label": "X",
                "verdict": {"from": "value", "op": "==", "threshold": 1},
            },
            "'>='",
        ),
        (
            {"metricType": "A", "label": "X", "score": "value", "note": "{bogus}"},
            "{bogus} is unknown",
        ),
        ({"metricType": "A", "label": "X", "score": "value", "note": "{"}, "malformed"),
        ({"metricType": "A", "label": "X", "score": "value", "extra": 1}, "Extra inputs"),
    ],
)
def test_bad_metric_mappings(metric: dict[str, Any], expected: str) -> None:
    assert expected in error_text(siro(metrics=[metric]))


def test_duplicate_labels_and_keys() -> None:
    twice = [
        {"metricType": "A", "label": "X", "score": "value"},
        {"metricType": "B", "label": "X", "score": "value"},
    ]
    assert "label X appears twice" in error_text(siro(metrics=twice))
    same_key = [
        {"metricType": "A", "label": "X", "score": "value"},
        {"metricType": "A", "label": "Y", "score": "value"},
    ]
    assert "metricType A appears twice" in error_text(siro(metrics=same_key))


def test_recordings_are_required_and_one_per_conversation() -> None:
    assert "needs recordings" in error_text(siro(recordings={}))
    both = {"rec_1": CONV, "rec_2": CONV}
    assert "rec_1 and rec_2 both map" in error_text(siro(recordings=both))
    assert "UUID" in error_text(siro(recordings={"rec_1": "not-a-uuid"}))
    SiroSettings.model_validate(siro(recordings={"rec_1": CONV, "rec_2": CONV2}))
    SiroSettings.model_validate(siro(recordings={}, recordingsFile="recordings.csv"))
