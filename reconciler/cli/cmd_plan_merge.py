"""``reconciler plan-merge``: the JSON plans of N shard jobs → one report or pull-request comment.

A sharded CI matrix (``plan --shard I/N --out plan-I.json``) ends with one job that merges the
parts; it refuses parts that do not make one whole plan (see reconciler.plan.merge).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from reconciler.cli.cmd_plan import plan_output_options, publish
from reconciler.cli.common import handle_errors, main
from reconciler.plan.merge import merge_plans
from reconciler.plan.saved import read_plan_file
from reconciler.render import Format


@main.command("plan-merge")
@click.argument("plan_files", nargs=-1, required=True, type=click.Path(path_type=Path))
@plan_output_options
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
    merged = merge_plans([(str(path), read_plan_file(path)) for path in plan_files])
    sys.exit(publish(merged, fmt=fmt, out=out, verbose=verbose, detailed=detailed_exitcode))
