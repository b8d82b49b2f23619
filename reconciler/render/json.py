"""The machine form of a plan (schemas/plan.schema.json), also what ``plan --out`` saves.

Key order is the models' field order, not sorted: ``formatVersion`` and ``target`` come first
for a human skimming the file, and the order is still fixed, so output is byte-stable.
"""

from __future__ import annotations

import json

from reconciler.plan.model import Plan

__all__ = ["render_json"]


def render_json(plan: Plan) -> str:
    """The plan as indented JSON with a trailing newline."""
    return json.dumps(plan.to_json_dict(), indent=2, sort_keys=False, ensure_ascii=False) + "\n"
