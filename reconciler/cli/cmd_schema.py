"""``reconciler schema``: write the JSON Schemas that editors and CI validate files against.

The schemas are generated from the models, committed, and checked for drift (``--check``, and a
test). Each schema is one entry in :data:`SCHEMAS`: a file name and a function returning the
schema, so a new document type (plans, apply reports) is one more line.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from reconciler.agent import agent_status_json_schema
from reconciler.applier import apply_report_json_schema
from reconciler.cli.common import EXIT_ERROR, handle_errors, main
from reconciler.config import config_json_schema, load_config
from reconciler.errors import ConfigError
from reconciler.files import write_atomically
from reconciler.plan.model import plan_json_schema
from reconciler.spec import spec_json_schema

__all__ = ["SCHEMAS", "render_schema", "schema"]

#: File name in schemas/ -> function returning that JSON Schema. One entry per document type.
SCHEMAS: dict[str, Callable[[], dict[str, Any]]] = {
    "spec.schema.json": spec_json_schema,
    "config.schema.json": config_json_schema,
    "plan.schema.json": plan_json_schema,
    "apply-report.schema.json": apply_report_json_schema,
    "agent-status.schema.json": agent_status_json_schema,
}


def render_schema(schema: dict[str, Any]) -> str:
    """Stable text: sorted keys, two-space indent, UTF-8 kept, trailing newline (clean diffs)."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@main.command("schema")
@click.option(
    "--check", is_flag=True, help="Write nothing; exit 1 when a file is missing or stale."
)
@click.option(
    "--dir",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder for the schemas (default: schemas/ next to reconciler.yaml).",
)
@handle_errors
def schema(check: bool, out_dir: Path | None) -> None:
    """Write (or --check) the JSON Schemas of spec files, reconciler.yaml and more."""
    folder = out_dir if out_dir is not None else load_config().root / "schemas"
    stale = []
    for name, build in sorted(SCHEMAS.items()):
        path = folder / name
        text = render_schema(build())
        if _current(path) == text:
            continue
        stale.append(path)
        if not check:
            _write(path, text)
            click.echo(f"wrote {path}")
    if check and stale:
        for path in stale:
            click.echo(f"stale: {path}", err=True)
        click.echo("run `reconciler schema` and commit the result", err=True)
        raise SystemExit(EXIT_ERROR)
    if not stale:
        click.echo(f"schemas in {folder} are up to date")


def _current(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def _write(path: Path, text: str) -> None:
    try:
        write_atomically(path, text)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from exc
