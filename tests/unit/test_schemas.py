"""The committed JSON Schemas are current, and they agree with the loader where a schema can."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from reconciler.cli.cmd_schema import SCHEMAS, render_schema
from reconciler.spec.yamlio import load_yaml

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "specs"

# Invalid fixtures whose mistake lives inside one file's structure, so a schema can express it.
# The rest need YAML-level checks (aliases, duplicate keys, tabs, encoding) or cross-file rules
# (uniqueness, the catalog), which only `reconciler validate` performs.
SCHEMA_REJECTS = [
    "adopt-not-boolean",
    "catalog-entry-not-a-mapping",
    "catalog-kind-invalid",
    "catalog-metric-id-invalid",
    "catalog-unknown-key",
    "conversation-id-not-uuid",
    "conversations-not-a-mapping",
    "external-id-empty",
    "external-id-not-a-string",
    "external-id-too-long",
    "label-empty",
    "label-too-long",
    "metric-id-not-uuid",
    "missing-external-id",
    "missing-label",
    "neither-verdict-nor-score",
    "note-too-long",
    "score-underscore",
    "record-not-a-mapping",
    "records-not-a-list",
    "score-negative",
    "score-out-of-range",
    "score-quoted",
    "top-level-list",
    "top-level-scalar",
    "unknown-record-field",
    "unknown-top-level-key",
    "verdict-invalid",
]


def _validator(name: str) -> Draft202012Validator:
    schema = json.loads((REPO / "schemas" / name).read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _yaml(path: Path) -> Any:
    data = load_yaml(path.read_bytes(), path.name).data
    return {} if data is None else data


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_committed_schema_is_current(name: str) -> None:
    committed = (REPO / "schemas" / name).read_text(encoding="utf-8")
    assert committed == render_schema(SCHEMAS[name]()), f"run `reconciler schema` ({name})"


def test_rendering_is_stable_with_a_trailing_newline() -> None:
    text = render_schema({"b": 1, "a": {"d": 2, "c": "é"}})
    assert text == '{\n  "a": {\n    "c": "é",\n    "d": 2\n  },\n  "b": 1\n}\n'


VALID_SPECS = sorted((FIXTURES / "valid").glob("*.yaml")) + sorted((REPO / "specs").glob("*.yaml"))


@pytest.mark.parametrize("path", VALID_SPECS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_spec_schema_accepts_valid_specs(path: Path) -> None:
    errors = list(_validator("spec.schema.json").iter_errors(_yaml(path)))
    assert errors == []


@pytest.mark.parametrize("name", SCHEMA_REJECTS)
def test_spec_schema_rejects_what_it_can_express(name: str) -> None:
    data = _yaml(FIXTURES / "invalid" / f"{name}.yaml")
    assert list(_validator("spec.schema.json").iter_errors(data)), name


def test_config_schema_accepts_the_example_config() -> None:
    data = _yaml(REPO / "reconciler.yaml")
    assert list(_validator("config.schema.json").iter_errors(data)) == []
    assert list(_validator("config.schema.json").iter_errors({"spec": ["x"]}))


def test_examples_point_editors_at_the_schema() -> None:
    for path in sorted((REPO / "specs").glob("*.yaml")):
        first = path.read_text().splitlines()[0]
        assert first == "# yaml-language-server: $schema=../schemas/spec.schema.json", path
