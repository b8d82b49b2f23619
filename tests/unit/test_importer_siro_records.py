"""Siro values → records: every bad value becomes a named problem, never a wrong record."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.config.siro import SiroSettings
from reconciler.contract.siro import VENDOR_EXAMPLE_METRIC_VALUE
from reconciler.importer.siro_records import SiroValue, records_for_recording

CONV = "3c90c3cc-0d44-4b50-8888-8dd25736052a"


def settings_of(*metrics: dict[str, Any]) -> SiroSettings:
    return SiroSettings.model_validate(
        {
            "organizationId": "org_1",
            "conversationTypeId": "ct_1",
            "recordings": {"rec_1": CONV},
            "metrics": list(metrics),
        }
    )


def value(metric_type: str = "INTERACTIVITY_SCORE", **kw: Any) -> SiroValue:
    base: dict[str, Any] = {
        "metric_type": metric_type,
        "name": kw.pop("name", metric_type.title()),
        "id": kw.pop("id", f"mv_{metric_type}"),
        "unit": kw.pop("unit", "percent"),
        "unit_abbreviated": "%",
    }
    return SiroValue(**base, **kw)


def test_score_from_pass_rate_and_verdict_by_threshold() -> None:
    s = settings_of(
        {
            "metricType": "INTERACTIVITY_SCORE",
            "label": "Interactivity",
            "score": "passRate",
            "verdict": {"from": "value", "op": ">=", "threshold": 50},
            "note": "{name}: {value}{unitAbbreviated}, pass rate {passRate:.1f}",
        }
    )
    out = records_for_recording("rec_1", CONV, [value(value=62.0, pass_rate=87.5)], s)
    assert out.ok and not out.unmapped
    (record,) = out.records
    assert record.external_id == "siro:rec_1:INTERACTIVITY_SCORE"
    assert record.label == "Interactivity"
    assert record.score == 87.5
    assert record.verdict == "pass"
    assert record.note == "Interactivity_Score: 62%, pass rate 87.5"


@pytest.mark.parametrize(
    ("op", "number", "expected"),
    [
        (">=", 50, "pass"),
        (">", 50, "fail"),
        ("<=", 50, "pass"),
        ("<", 50, "fail"),
        (">", 51, "pass"),
    ],
)
def test_verdict_operators(op: str, number: float, expected: str) -> None:
    s = settings_of(
        {
            "metricType": "REP_CONTROL",
            "label": "Control",
            "verdict": {"from": "value", "op": op, "threshold": 50},
        }
    )
    out = records_for_recording("rec_1", CONV, [value("REP_CONTROL", value=number)], s)
    assert out.records[0].verdict == expected
    assert out.records[0].score is None


def test_integral_value_is_written_as_int() -> None:
    s = settings_of({"metricType": "REP_CONTROL", "label": "Control", "score": "value"})
    out = records_for_recording("rec_1", CONV, [value("REP_CONTROL", value=92.0)], s)
    assert out.records[0].score == 92
    assert isinstance(out.records[0].score, int)


@pytest.mark.parametrize("number", [100.5, -1.0, 1800.0])
def test_score_from_value_outside_0_100_is_an_error(number: float) -> None:
    s = settings_of({"metricType": "REP_CONTROL", "label": "Control", "score": "value"})
    out = records_for_recording(
        "rec_1", CONV, [value("REP_CONTROL", value=number, pass_rate=50.0)], s
    )
    assert not out.ok and not out.records
    (problem,) = out.problems
    text = str(problem)
    assert "recording rec_1" in text and "REP_CONTROL" in text
    assert "outside 0-100" in text and "(percent)" in text and "score: value" in text


def _vendor_value() -> SiroValue:
    v = VENDOR_EXAMPLE_METRIC_VALUE
    return SiroValue(
        metric_type=str(v["metricType"]), name=str(v["name"]), id=str(v["id"]),
        unit=str(v["unit"]), unit_abbreviated=str(v["unitAbbreviated"]),
        description=str(v["description"]), value=v["value"], pass_rate=v["passRate"],
    )  # fmt: skip


def test_the_vendors_example_makes_a_record_when_pass_rate_is_not_mapped() -> None:
    """Before, its passRate of 123 threw the whole recording away, mapped or not."""
    s = settings_of(
        {
            "metricType": "CONVERSATION_TIME",
            "label": "Short call",
            "verdict": {"from": "value", "op": "<=", "threshold": 1800},
            "note": "{value} {unitAbbreviated}",
        }
    )
    out = records_for_recording("rec_1", CONV, [_vendor_value()], s)
    assert out.ok
    (record,) = out.records
    assert (record.verdict, record.note) == ("pass", "1800 sec")


def test_a_mapped_pass_rate_of_123_is_an_error_naming_recording_metric_value_and_rule() -> None:
    s = settings_of({"metricType": "CONVERSATION_TIME", "label": "Rate", "score": "passRate"})
    out = records_for_recording("rec_1", CONV, [_vendor_value()], s)
    (problem,) = out.problems
    assert str(problem) == (
        "recording rec_1, metric CONVERSATION_TIME 'Conversation Time': passRate 123 is outside "
        "0-100, what score: passRate accepts"
    )


def test_a_seconds_metric_cannot_become_a_score_as_it_is() -> None:
    """Before, `score: value` made a 45-second CONVERSATION_TIME a score of 45."""
    with pytest.raises(ValueError, match="CONVERSATION_TIME's value is in seconds"):
        settings_of({"metricType": "CONVERSATION_TIME", "label": "Talk", "score": "value"})
    # A type we cannot know the unit of is checked on the unit Siro sends.
    s = settings_of({"name": "Call length", "label": "Talk", "score": "value"})
    seconds = value("AI_METRIC", name="Call length", value=45, unit="seconds")
    (problem,) = records_for_recording("rec_1", CONV, [seconds], s).problems
    assert "value 45 (seconds) is in unit 'seconds', not a 0-100 score" in str(problem)


@pytest.mark.parametrize(
    ("rule", "number", "expected"),
    [
        ({"from": "value", "range": [0, 600]}, 45, 7.5),
        ({"from": "value", "range": [0, 600]}, 600, 100),
        ({"from": "value", "range": [0, 600], "clamp": True}, 900, 100),
        ({"from": "value", "scale": 20}, 4, 80),
    ],
)
def test_a_score_rule_converts_the_unit(
    rule: dict[str, Any], number: float, expected: float
) -> None:
    s = settings_of({"metricType": "CONVERSATION_TIME", "label": "Talk", "score": rule})
    (record,) = records_for_recording(
        "rec_1", CONV, [value("CONVERSATION_TIME", value=number, unit="seconds")], s
    ).records
    assert record.score == expected


def test_a_value_outside_the_range_is_an_error_unless_clamped() -> None:
    rule = {"from": "value", "range": [0, 600]}
    s = settings_of({"metricType": "CONVERSATION_TIME", "label": "Talk", "score": rule})
    out = records_for_recording(
        "rec_1", CONV, [value("CONVERSATION_TIME", value=601, unit="seconds")], s
    )
    assert "value 601 (seconds) is outside [0, 600] of score: {from: value, range: [0, 600]}" in (
        str(out.problems[0])
    )


@pytest.mark.parametrize("source", ["passRate", "value"])
def test_missing_number_is_an_error(source: str) -> None:
    s = settings_of({"metricType": "REP_CONTROL", "label": "Control", "score": source})
    out = records_for_recording("rec_1", CONV, [value("REP_CONTROL")], s)
    assert not out.ok and not out.records
    assert f"Siro sent no {source}" in str(out.problems[0])


def test_missing_number_for_verdict_is_an_error() -> None:
    s = settings_of(
        {
            "metricType": "REP_CONTROL",
            "label": "C",
            "verdict": {"from": "passRate", "op": ">", "threshold": 1},
        }
    )
    out = records_for_recording("rec_1", CONV, [value("REP_CONTROL", value=3.0)], s)
    assert not out.ok
    assert "no passRate" in str(out.problems[0])


def test_note_placeholder_without_number_is_an_error() -> None:
    s = settings_of(
        {"metricType": "REP_CONTROL", "label": "C", "score": "passRate", "note": "raw {value}"}
    )
    out = records_for_recording("rec_1", CONV, [value("REP_CONTROL", pass_rate=10.0)], s)
    assert not out.ok
    assert "{value}" in str(out.problems[0])


def test_note_with_bad_format_spec_is_an_error_not_a_crash() -> None:
    s = settings_of(
        {"metricType": "REP_CONTROL", "label": "C", "score": "passRate", "note": "{name:.1f}"}
    )
    out = records_for_recording("rec_1", CONV, [value("REP_CONTROL", pass_rate=10.0)], s)
    assert not out.ok
    assert "note template cannot be filled in" in str(out.problems[0])


def test_too_long_note_is_an_error() -> None:
    s = settings_of(
        {"metricType": "REP_CONTROL", "label": "C", "score": "passRate", "note": "{description}"}
    )
    v = value("REP_CONTROL", pass_rate=10.0, description="x" * 5001)
    out = records_for_recording("rec_1", CONV, [v], s)
    assert not out.ok
    assert "note" in str(out.problems[0]) and "5000" in str(out.problems[0])


def test_unmapped_metrics_are_listed_not_recorded() -> None:
    s = settings_of({"metricType": "REP_CONTROL", "label": "C", "score": "passRate"})
    values = [value("REP_CONTROL", pass_rate=10.0), value("NEW_FUTURE_TYPE", pass_rate=1.0)]
    out = records_for_recording("rec_1", CONV, values, s)
    assert out.ok
    assert [v.metric_type for v in out.unmapped] == ["NEW_FUTURE_TYPE"]
    assert [r.label for r in out.records] == ["C"]
    assert out.matched == frozenset({"metricType REP_CONTROL"})


def test_ai_metrics_map_by_name_with_name_in_external_id() -> None:
    s = settings_of(
        {"name": "Objection handling", "label": "Objections", "score": "passRate"},
        {
            "name": "Next steps",
            "label": "Next steps",
            "verdict": {"from": "passRate", "op": ">=", "threshold": 50},
        },
    )
    values = [
        value("AI_METRIC", name="Objection handling", id="a", pass_rate=70.0),
        value("AI_METRIC", name="Next steps", id="b", pass_rate=40.0),
    ]
    out = records_for_recording("rec_1", CONV, values, s)
    assert out.ok
    assert [(r.label, r.external_id) for r in out.records] == [
        ("Next steps", "siro:rec_1:AI_METRIC:Next steps"),
        ("Objections", "siro:rec_1:AI_METRIC:Objection handling"),
    ]
    assert out.records[0].verdict == "fail"


def test_metric_type_mapping_that_matches_repeated_ai_metrics_is_an_error() -> None:
    s = settings_of({"metricType": "AI_METRIC", "label": "AI", "score": "passRate"})
    values = [
        value("AI_METRIC", name="One", id="a", pass_rate=70.0),
        value("AI_METRIC", name="Two", id="b", pass_rate=40.0),
    ]
    out = records_for_recording("rec_1", CONV, values, s)
    assert not out.ok and not out.records
    assert "map these metrics by name" in str(out.problems[0])


def test_name_mapping_wins_over_metric_type_mapping() -> None:
    s = settings_of(
        {"metricType": "AI_METRIC", "label": "Generic", "score": "passRate"},
        {"name": "Special", "label": "Special", "score": "passRate"},
    )
    values = [value("AI_METRIC", name="Special", pass_rate=70.0)]
    out = records_for_recording("rec_1", CONV, values, s)
    assert [r.label for r in out.records] == ["Special"]


def test_output_does_not_depend_on_input_order() -> None:
    s = settings_of(
        {"metricType": "REP_CONTROL", "label": "B", "score": "passRate"},
        {"metricType": "INTERACTIVITY_SCORE", "label": "A", "score": "passRate"},
    )
    values = [value("REP_CONTROL", pass_rate=1.0), value("INTERACTIVITY_SCORE", pass_rate=2.0)]
    one = records_for_recording("rec_1", CONV, values, s)
    two = records_for_recording("rec_1", CONV, list(reversed(values)), s)
    assert one == two
    assert [r.label for r in one.records] == ["A", "B"]


numbers = st.none() | st.floats(allow_nan=True, allow_infinity=True, width=32)


@settings(max_examples=200, deadline=None)
@given(value_=numbers, pass_rate=numbers, threshold=st.integers(-10, 110))
def test_every_value_becomes_a_valid_record_or_a_named_error(
    value_: float | None, pass_rate: float | None, threshold: int
) -> None:
    s = settings_of(
        {"metricType": "REP_CONTROL", "label": "By value", "score": "value"},
        {
            "metricType": "INTERACTIVITY_SCORE",
            "label": "By pass rate",
            "score": "passRate",
            "verdict": {"from": "value", "op": ">=", "threshold": threshold},
        },
    )
    values = [
        value("REP_CONTROL", value=value_, pass_rate=pass_rate),
        value("INTERACTIVITY_SCORE", value=value_, pass_rate=pass_rate),
    ]
    out = records_for_recording("rec_1", CONV, values, s)
    assert len(out.records) + len(out.problems) == 2
    for record in out.records:
        assert record.score is not None and 0 <= record.score <= 100
    for problem in out.problems:
        assert problem.severity == "error" and problem.recording_id == "rec_1" and problem.metric
