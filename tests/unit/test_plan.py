"""Plan value objects: sorting, counting, the JSON round trip, and refusing bad saved plans."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconciler.plan.fields import RecordFields, field_diffs, mask_value
from reconciler.plan.model import (
    FORMAT_VERSION,
    Action,
    Change,
    ConversationPlan,
    Plan,
    PlanFormatError,
)


def _fields(**overrides: Any) -> RecordFields:
    base: dict[str, Any] = {"label": "Empathy", "externalId": "qa-1", "score": 80}
    base.update(overrides)
    return RecordFields.from_compared(base)


def _update(label: str = "Empathy", ext: str = "qa-1") -> Change:
    before = _fields(label=label, externalId=ext, note="old")
    after = _fields(label=label, externalId=ext, score=85)
    return Change(
        action=Action.UPDATE,
        label=label,
        external_id=ext,
        before=before,
        after=after,
        diff=field_diffs(before, after),
        source="specs/a.yaml:4",
    )


def _plan() -> Plan:
    return Plan.build(
        target="local",
        spec_digest="sha256:abc",
        conversations=[
            ConversationPlan(id="bbbb", fingerprint="sha256:1", noop=3, changes=(_update(),)),
            ConversationPlan(id="aaaa", error="404: unknown conversation"),
        ],
    )


def test_conversations_and_changes_are_sorted() -> None:
    plan = _plan()
    assert [c.id for c in plan.conversations] == ["aaaa", "bbbb"]
    conv = ConversationPlan(id="x", changes=(_update("Zeta", "z"), _update("Alpha", "a")))
    assert [c.label for c in conv.changes] == ["Alpha", "Zeta"]


def test_summary_counts_every_action_including_noops_and_read_errors() -> None:
    summary = _plan().summary
    assert (summary.update, summary.noop, summary.error, summary.create) == (1, 3, 1, 0)
    assert summary.failed
    assert summary.line() == "0 to create, 1 to update, 1 error, 3 unchanged"


def test_diff_shows_fields_a_full_replace_clears() -> None:
    change = _update()
    by_field = {d.field: d for d in change.diff}
    assert set(by_field) == {"score", "note"}
    assert by_field["note"].clears and not by_field["score"].clears


def test_post_body_leaves_absent_fields_out() -> None:
    body = _fields(verdict="pass").post_body()
    assert body == {"label": "Empathy", "externalId": "qa-1", "score": 80, "verdict": "pass"}


def test_json_round_trip_is_exact_and_deterministic() -> None:
    plan = _plan()
    text = json.dumps(plan.to_json_dict(), sort_keys=True)
    again = Plan.from_json_dict(json.loads(text))
    assert again == plan
    assert json.dumps(again.to_json_dict(), sort_keys=True) == text
    assert plan.to_json_dict()["formatVersion"] == FORMAT_VERSION


def test_writes_lists_only_post_actions() -> None:
    plan = _plan()
    assert [(c.id, ch.action) for c, ch in plan.writes()] == [("bbbb", Action.UPDATE)]
    assert plan.has_changes


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.update(formatVersion=99), "formatVersion 99 is not supported"),
        (lambda d: d.pop("formatVersion"), "formatVersion None is not supported"),
        (lambda d: d["summary"].update(update=7), "summary does not match"),
        (lambda d: d.update(surprise=True), "Extra inputs are not permitted"),
        (lambda d: d["conversations"].append(dict(d["conversations"][0])), "appears twice"),
    ],
)
def test_bad_saved_plans_are_refused_with_a_reason(mutate: Any, expected: str) -> None:
    data = _plan().to_json_dict()
    mutate(data)
    with pytest.raises(PlanFormatError, match=expected):
        Plan.from_json_dict(data, source="plan.json")


def test_non_object_plan_is_refused() -> None:
    with pytest.raises(PlanFormatError, match="expected a JSON object"):
        Plan.from_json_dict([1, 2], source="plan.json")


def test_masked_values_hide_content_but_change_with_it() -> None:
    secret = mask_value("patient said X")
    assert secret is not None
    assert "patient" not in secret.model_dump_json()
    assert secret != mask_value("patient said Y")
    assert mask_value(None) is None


def test_with_conversations_keeps_the_plan_and_counts_again() -> None:
    plan = _plan().model_copy(update={"scope": "shard 1/2", "existing_managed": 7})
    narrowed = plan.with_conversations([c for c in plan.conversations if c.error is None])
    assert [c.id for c in narrowed.conversations] == ["bbbb"]
    assert (narrowed.summary.error, narrowed.summary.update) == (0, 1)
    assert (narrowed.target, narrowed.scope, narrowed.existing_managed) == ("local", "shard 1/2", 7)


def test_masked_is_a_type_whether_built_or_read_back_from_json() -> None:
    from reconciler.plan.fields import Masked, RecordFields, as_masked, mask_value

    digest = mask_value("secret")
    assert digest is not None
    fields = RecordFields.from_compared({"label": "A", "note": digest.model_dump(mode="json")})
    assert isinstance(fields.note, Masked)
    assert fields.masked() == {"note": digest}
    assert as_masked(digest.model_dump(mode="json")) == digest  # a diff's JSON form
    assert as_masked(digest) == digest
    assert as_masked({"sensitive": "x", "other": 1}) is None  # not the shape of a digest
    assert as_masked({"sensitive": 5}) is None
    assert as_masked("sha256:abc") is None
