"""The JSON renderer: stable bytes, the schema's shape, and an exact round trip."""

from __future__ import annotations

import json

import jsonschema
from plan_samples import assert_golden, every_action_plan

from reconciler.plan.model import Plan, plan_json_schema
from reconciler.render import render_json


def test_every_action_golden() -> None:
    assert_golden("plan.json", render_json(every_action_plan()))


def test_json_is_valid_against_the_plan_schema_and_reads_back_equal() -> None:
    text = render_json(every_action_plan(sensitive=("note", "score")))
    data = json.loads(text)
    jsonschema.validate(data, plan_json_schema())
    assert Plan.from_json_dict(data) == every_action_plan(sensitive=("note", "score"))
    assert text.endswith("}\n") and list(data)[:3] == ["formatVersion", "target", "specDigest"]


def test_minimum_shape_of_semantics_is_present() -> None:
    data = json.loads(render_json(every_action_plan()))
    assert set(data["summary"]) >= {
        "create",
        "update",
        "relabel",
        "conflict",
        "noop",
        "orphan",
        "unmanaged",
        "error",
    }
    conversation = data["conversations"][0]
    assert set(conversation) >= {"id", "fingerprint", "error", "changes"}
    change = conversation["changes"][0]
    assert set(change) >= {"action", "externalId", "label", "before", "after", "diff", "source"}
