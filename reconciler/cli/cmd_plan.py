"""``reconciler plan``: what apply would do, for a terminal, a pull request or a machine.

stdout carries the plan and nothing else (so ``--format json > plan.json`` is clean); messages
and progress go to stderr. A plan with conflicts or errors still prints everything it found and
then fails, so a reviewer sees all problems at once.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from reconciler.cli.common import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_OK,
    capped,
    config_option,
    deadline_option,
    echo_err,
    handle_errors,
    main,
    target_options,
    use_color,
)
from reconciler.cli.scoping import Scoping, plan_in_scope, scoping_options
from reconciler.engine.workspace import Workspace
from reconciler.plan.model import Action, Plan
from reconciler.plan.saved import write_plan_file
from reconciler.render import FORMATS, Format, render, render_json

__all__ = [
    "exit_code",
    "plan",
    "plan_output_options",
    "publish",
    "report_problems",
]

#: Problems echoed to stderr one per line; the plan itself lists all of them.
MAX_PROBLEM_LINES = 20


F = TypeVar("F", bound=Callable[..., object])


def plan_output_options(func: F) -> F:
    """--format, --out and --detailed-exitcode: how a plan is shown, saved and judged.

    Shared by ``plan`` and ``plan-merge`` so that a merged plan behaves exactly like one plan.
    """
    options = (
        click.option(
            "--format",
            "fmt",
            type=click.Choice(FORMATS),
            default="text",
            show_default=True,
            help="text for terminals, markdown for pull-request comments, json for machines.",
        ),
        click.option(
            "--out",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Also save the plan as JSON (for `apply --plan`), whatever --format prints.",
        ),
        click.option(
            "--detailed-exitcode",
            is_flag=True,
            help="Exit 0 = nothing to do, 2 = changes to apply, 1 = error or conflict.",
        ),
    )
    for option in reversed(options):
        func = option(func)
    return func


@main.command("plan", short_help="Show what apply would change in Zelto.")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@plan_output_options
@target_options
@config_option
@click.option("--adopt", is_flag=True, help="Plan to take over every conflicting record.")
@click.option("-v", "--verbose", is_flag=True, help="Also list unmanaged records.")
@deadline_option
@scoping_options
@handle_errors
def plan(
    *,
    paths: tuple[Path, ...],
    fmt: Format,
    out: Path | None,
    detailed_exitcode: bool,
    target: str | None,
    api_url: str | None,
    config_file: Path | None,
    adopt: bool,
    verbose: bool,
    scoping: Scoping,
    deadline: float | None,
) -> None:
    """Compare the specs PATH... (default: the configured ones) with Zelto and show the plan.

    Files inside the configured specs narrow the plan to the conversations they name; the
    catalog and the other files' records for those conversations still apply.

    Exit 0 on success, 1 on any error or conflict; with --detailed-exitcode, 2 when there are
    changes to apply.
    """
    with Workspace.load(
        config_file=config_file,
        target=target,
        api_url=api_url,
        pause_gc=True,
        deadline=deadline,
    ) as workspace:
        made = plan_in_scope(workspace, paths, scoping, adopt=adopt)
    sys.exit(publish(made, fmt=fmt, out=out, verbose=verbose, detailed=detailed_exitcode))


def publish(made: Plan, *, fmt: Format, out: Path | None, verbose: bool, detailed: bool) -> int:
    """Save, print and report a plan; the exit code it deserves."""
    if out is not None:
        write_plan_file(out, render_json(made))
    click.echo(render(made, fmt, color=use_color(), verbose=verbose), nl=False)
    report_problems(made)
    if out is not None:
        echo_err(f"saved the plan to {out}")
    return exit_code(made, detailed=detailed)


def exit_code(made: Plan, *, detailed: bool) -> int:
    """1 on any conflict or error; else 0, or 2 for changes with --detailed-exitcode."""
    if made.summary.failed:
        return EXIT_ERROR
    if detailed and made.has_changes:
        return EXIT_CHANGES
    return EXIT_OK


def report_problems(made: Plan) -> None:
    """One stderr line per read error or blocked record, so CI logs show them next to the exit."""
    for line in capped(list(_problem_lines(made)), MAX_PROBLEM_LINES, "; the plan lists every one"):
        echo_err(line)


def _one_line(text: str | None) -> str:
    """Labels and server text may hold line breaks; a problem stays one line in a CI log."""
    return (text or "").replace("\r", "⏎").replace("\n", "⏎")


def _problem_lines(made: Plan) -> list[str]:
    target = f"(target {made.target})"
    lines: list[str] = []
    for conversation in made.conversations:
        if conversation.error is not None:
            where = "" if target in conversation.error else f" {target}"
            lines.append(f"error: conversation {conversation.id}{where}: {conversation.error}")
        for change in conversation.changes:
            if change.action in {Action.ERROR, Action.CONFLICT}:
                place = f" at {change.source}" if change.source else ""
                lines.append(
                    f"{change.action.value}: conversation {conversation.id} {target}, label "
                    f"'{_one_line(change.label)}'{place}: {_one_line(change.message)}"
                )
    return lines
