"""The JSON Schema of a spec file, for editors (``yaml-language-server``) and CI checks.

Generated from the models, then given what pydantic cannot express from field types: a record
carries at least one of verdict and score, and an empty file is valid. Cross-file rules
(uniqueness, the catalog) are beyond a per-file schema; ``reconciler validate`` checks those.
"""

from __future__ import annotations

from typing import Any

from reconciler.model import MetricRecord, SpecDocument

__all__ = ["JSON_SCHEMA_DIALECT", "spec_json_schema"]

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def spec_json_schema() -> dict[str, Any]:
    """The spec file schema, by alias (the names written in YAML)."""
    schema = SpecDocument.model_json_schema(by_alias=True, mode="validation")
    record = schema["$defs"][MetricRecord.__name__]
    record["anyOf"] = [{"required": ["verdict"]}, {"required": ["score"]}]
    # An empty file (or only comments, or only `---`) is a YAML null document, which validate
    # accepts as declaring nothing (docs/specs.md); editors must not mark it red.
    schema["type"] = ["object", "null"]
    return {"$schema": JSON_SCHEMA_DIALECT, **schema}
