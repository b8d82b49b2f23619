"""Spec files: find them, load them safely, validate them, merge them into a DesiredState.

The pipeline is ``bytes -> yamlio (safe YAML with places) -> document (one file's models) ->
rules (cross-file) -> DesiredState``; :mod:`reconciler.spec.loader` runs it with a content-hash
cache and, for large runs, several processes.
"""

from __future__ import annotations

from reconciler.spec.discovery import discover_spec_files
from reconciler.spec.loader import (
    load_spec_sources,
    load_specs,
    loader_version,
    spec_digest,
)
from reconciler.spec.schema import spec_json_schema

__all__ = [
    "discover_spec_files",
    "load_spec_sources",
    "load_specs",
    "loader_version",
    "spec_digest",
    "spec_json_schema",
]
