"""``reconciler apply``: write what a plan says, safely, and prove that it converged.

Two ways in: plan now and apply (``apply [PATH...]``), or apply a reviewed saved plan (``apply
--plan plan.json``). Both go through the engine's checks before the first write
(``Workspace.check``) and the same writer (``Workspace.apply``); this module adds what only a
command line has: the prompt, the progress bar, SIGINT/SIGTERM and the printed report. Safe by
default, like octoDNS's sync: nothing is written without a confirmation or ``--auto-approve``,
and a stale, failed or unusually large plan is refused whole.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import click

from reconciler.applier import ApplyReport
from reconciler.applier.preflight import RefusedPlanError
from reconciler.cli.apply_output import render_report_json, render_report_text
from reconciler.cli.common import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    config_option,
    deadline_option,
    echo_err,
    handle_errors,
    main,
    target_options,
    use_color,
)
from reconciler.cli.progress import ApplyProgressBar
from reconciler.cli.scoping import Scoping, plan_in_scope, shard_option
from reconciler.engine.steps import StopSignal
from reconciler.engine.workspace import Workspace
from reconciler.errors import ConfigError, StalePlanError, UnsafePlanError
from reconciler.plan.model import Plan
from reconciler.plan.saved import read_plan_file
from reconciler.plan.shard import Shard
from reconciler.render.text import render_text as render_plan

EXIT_TERMINATED = 143  # 128 + SIGTERM, what a shell reports for a process killed by it
_SIGNALS: dict[signal.Signals, tuple[str, int]] = {
    signal.SIGINT: ("interrupted (SIGINT)", EXIT_INTERRUPTED),
    signal.SIGTERM: ("terminated (SIGTERM)", EXIT_TERMINATED),
}


@dataclass(frozen=True)
class _Options:
    auto_approve: bool
    force: bool
    adopt: bool
    concurrency: int | None
    json_output: bool


@main.command("apply", short_help="Make Zelto match the specs (or a saved plan), then verify.")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Apply this saved plan (from `plan --out`) and nothing else.",
)
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation (CI).")
@click.option(
    "--force", is_flag=True, help="Apply even above the safety threshold (apply.maxUpdatePercent)."
)
@click.option("--adopt", is_flag=True, help="Take over conflicting remote records.")
@target_options
@config_option
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    help="POSTs in flight [default: apply.concurrency in reconciler.yaml, 8].",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for people; json prints the report on stdout (the plan goes to stderr).",
)
@deadline_option
@shard_option
@handle_errors
def apply(
    *,
    paths: tuple[Path, ...],
    plan_file: Path | None,
    auto_approve: bool,
    force: bool,
    adopt: bool,
    target: str | None,
    api_url: str | None,
    config_file: Path | None,
    concurrency: int | None,
    fmt: str,
    shard: Shard | None,
    deadline: float | None,
) -> None:
    """Plan PATH... (default: the configured specs) and apply it, or apply --plan FILE.

    PATHs narrow the conversations exactly as for `reconciler plan`.

    Exit 0 only when every planned write was applied and read back as planned.
    """
    options = _Options(auto_approve, force, adopt, concurrency, fmt == "json")
    if plan_file is not None and paths:
        raise ConfigError("give spec PATHs or --plan FILE, not both; nothing was written")
    if plan_file is not None and shard is not None:
        raise ConfigError("--shard plans one shard; a saved --plan FILE already is one")
    _require_approval_channel(options)
    saved = read_plan_file(plan_file, option="--plan") if plan_file is not None else None
    with Workspace.load(
        config_file=config_file,
        target=target,
        api_url=api_url,
        pause_gc=True,
        deadline=deadline,
    ) as workspace:
        if saved is not None:
            with _refusal_reported(saved, options):
                plan = _accept_saved(workspace, saved)
        else:
            plan = plan_in_scope(workspace, paths, Scoping(shard=shard), adopt=adopt)
        _show_plan(plan, options)
        code = _check_and_write(workspace, plan, options, saved=saved is not None)
    sys.exit(code)


def _require_approval_channel(options: _Options) -> None:
    """Without a terminal nobody can answer the prompt: fail before reading anything."""
    if not options.auto_approve and not sys.stdin.isatty():
        raise ConfigError(
            "apply asks for confirmation, but stdin is not a terminal; review the plan and "
            "pass --auto-approve (nothing was written)"
        )


def _accept_saved(workspace: Workspace, plan: Plan) -> Plan:
    """A saved plan is refused for another target before any emulator starts or any spec is
    read; the specs are read only to restore masked values (the plan is otherwise complete)."""
    workspace.accept(plan)
    workspace.connect()
    return plan


def _show_plan(plan: Plan, options: _Options) -> None:
    """The plan comes first, as text, so that whoever approves sees what they approve; with
    --format json it goes to stderr, keeping stdout one JSON document."""
    err = options.json_output
    text = render_plan(plan, color=use_color(sys.stderr if err else sys.stdout))
    click.echo(text, err=err)


def _check_and_write(workspace: Workspace, plan: Plan, options: _Options, *, saved: bool) -> int:
    with _refusal_reported(plan, options):
        ready = workspace.check(plan, force=options.force, adopt=options.adopt)
    if not ready.has_changes:
        return _nothing_to_do(ready, options)
    prompted = _confirm(ready, options)
    # A saved plan may be old, and a prompt may wait for minutes: check the plan is current.
    with _refusal_reported(ready, options):
        report, exit_code = _run(workspace, ready, options, check_fresh=saved or prompted)
    _print_report(report, options)
    if report.ok and exit_code is None:
        return 0
    if report.stopped:
        # Stopped early: what is left is untouched, and a re-run plans and sends only that.
        hint = f" ({report.stopped}): {report.summary.line()}; run apply again to finish"
    else:
        hint = f": {report.summary.line()} (the reasons are listed per record)"
    echo_err(f"error: apply to {report.target} did not complete{hint}")
    return exit_code if exit_code is not None else EXIT_ERROR


@contextmanager
def _refusal_reported(plan: Plan, options: _Options) -> Iterator[None]:
    """With --format json, a refusal of the whole apply (the preflight, a stale plan) is also a
    JSON report on stdout, so that a machine reading stdout learns why; the error line on stderr
    and exit 1 follow as for every error (``handle_errors``)."""
    try:
        yield
    except (RefusedPlanError, UnsafePlanError, StalePlanError) as exc:
        if options.json_output:
            refused = ApplyReport(
                target=plan.target, spec_digest=plan.spec_digest, refused=str(exc)
            )
            click.echo(render_report_json(refused))
        raise


def _nothing_to_do(plan: Plan, options: _Options) -> int:
    if options.json_output:
        empty = ApplyReport(target=plan.target, spec_digest=plan.spec_digest)
        click.echo(render_report_json(empty))
    else:
        click.echo(f"Apply to {plan.target}: no changes, nothing was written.")
    return 0


def _confirm(plan: Plan, options: _Options) -> bool:
    """Terraform's rule: only the exact word ``yes`` approves. Returns whether it prompted."""
    if options.auto_approve:
        return False
    writes = plan.summary.writes
    question = f"Apply {writes} change(s) to {plan.target}? Only 'yes' will be accepted"
    answer = click.prompt(question, default="", show_default=False, err=True)
    if answer.strip() != "yes":
        raise ConfigError("apply cancelled; nothing was written")
    return True


def _run(
    workspace: Workspace, plan: Plan, options: _Options, *, check_fresh: bool
) -> tuple[ApplyReport, int | None]:
    """The writes, with SIGINT/SIGTERM turned into a graceful stop; returns the report and the
    exit code a signal asks for (None when none arrived)."""
    received: list[int] = []
    stop = StopSignal()
    with ApplyProgressBar(len(plan.writes())) as bar, _stopping_on_signals(stop, received):
        report = workspace.apply(
            plan,
            progress=bar if bar.enabled else None,
            stop=stop,
            force=options.force,
            adopt=options.adopt,
            concurrency=options.concurrency,
            check_fresh=check_fresh,
        )
    return report, (received[0] if received else None)


@contextmanager
def _stopping_on_signals(stop: StopSignal, received: list[int]) -> Iterator[None]:
    """While the writes run, SIGINT and SIGTERM set ``stop`` (with the reason the report shows)
    instead of killing the process, and record the exit code they ask for."""
    previous: dict[signal.Signals, Callable[[int, FrameType | None], Any] | int] = {}
    for signum, (reason, code) in _SIGNALS.items():

        def handler(
            _signum: int, _frame: FrameType | None, reason: str = reason, code: int = code
        ) -> None:
            received.append(code)
            stop.request(reason)

        try:
            old = signal.signal(signum, handler)
        except ValueError:
            # Not the main thread: Ctrl-C then raises KeyboardInterrupt as usual, and re-running
            # apply still finishes the job.
            break
        if old is not None:  # None: a handler not set from Python, which cannot be restored
            previous[signum] = old
    try:
        yield
    finally:
        for signum, handler_before in previous.items():
            signal.signal(signum, handler_before)


def _print_report(report: ApplyReport, options: _Options) -> None:
    if options.json_output:
        click.echo(render_report_json(report))
        return
    every_record = not sys.stderr.isatty()
    click.echo(render_report_text(report, every_record=every_record, color=use_color()))
