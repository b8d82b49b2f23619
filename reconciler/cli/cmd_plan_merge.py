"""``reconciler plan-merge``: the JSON plans of N shard jobs → one report or pull-request comment.

A sharded CI matrix (``plan --shard I/N --out plan-I.json``) ends with one job that merges the
parts; it refuses parts that do not make one whole plan (see reconciler.scope.merge).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from reconciler.cli.common import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, handle_errors, main, use_color
from reconciler.errors import ConfigError
from reconciler.plan import Plan, PlanFormatError
from reconciler.render import FORMATS, Format, render, render_json
from reconciler.scope import merge_plans


@main.command("plan-merge")
@click.argument("plan_files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="How to print the merged plan.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also save the merged plan as JSON (e.g. for `apply --plan`).",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 = nothing to do, 2 = changes to apply, 1 = error or conflict.",
)
@click.option("-v", "--verbose", is_flag=True, help="Also list unmanaged records.")
@handle_errors
def plan_merge(
    *,
    plan_files: tuple[Path, ...],
    fmt: Format,
    out: Path | None,
    detailed_exitcode: bool,
    verbose: bool,
) -> None:
    """Merge the saved JSON plans PLAN_FILE... of one sharded run into one plan.

    Every shard 1..N must be there exactly once, made from the same specs and target.
    """
    merged = merge_plans([(str(path), _read(path)) for path in plan_files])
    if out is not None:
        _write(out, render_json(merged))
    click.echo(render(merged, fmt, color=use_color(), verbose=verbose), nl=False)
    sys.exit(_exit_code(merged, detailed=detailed_exitcode))


def _read(path: Path) -> Plan:
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such plan file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder; give the JSON plan files") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror})") from None
    except ValueError as exc:
        raise PlanFormatError(
            f"{path}: not JSON ({exc}); save plans with `plan --out FILE`"
        ) from None
    return Plan.from_json_dict(data, source=str(path))


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--out {path}: cannot write it ({exc.strerror})") from None


def _exit_code(plan: Plan, *, detailed: bool) -> int:
    if plan.summary.failed:
        return EXIT_ERROR
    if detailed and plan.has_changes:
        return EXIT_CHANGES
    return EXIT_OK
