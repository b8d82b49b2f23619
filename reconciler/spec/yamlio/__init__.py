"""YAML with places: hostile-input-safe loading, and validation errors pointed back at the YAML.

:mod:`.loader` parses (C parser, every node's ``file:line:column`` kept, aliases, duplicate keys,
deep nesting, oversized and mis-encoded files refused), resolving scalars by :mod:`.core_schema`
(YAML 1.2, exactly) into a :mod:`.document` (the value beside its nodes); :mod:`.located` maps
pydantic's error paths onto those nodes with "did you mean" and what is allowed.
"""

from __future__ import annotations

from reconciler.spec.yamlio.document import YamlDocument, location_at, node_parent
from reconciler.spec.yamlio.loader import DEFAULT_MAX_BYTES, MAX_DEPTH, c_parser_in_use, load_yaml
from reconciler.spec.yamlio.located import (
    Explain,
    Loc,
    allowed_keys,
    describe_node,
    did_you_mean,
    format_path,
    validation_issues,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MAX_DEPTH",
    "Explain",
    "Loc",
    "YamlDocument",
    "allowed_keys",
    "c_parser_in_use",
    "describe_node",
    "did_you_mean",
    "format_path",
    "load_yaml",
    "location_at",
    "node_parent",
    "validation_issues",
]
