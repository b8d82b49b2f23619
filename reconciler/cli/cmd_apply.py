"""``reconciler apply``: write what a plan says, safely, and prove that it converged.

Two ways in: plan now and apply (``apply [PATH...]``), or apply a reviewed saved plan (``apply
--plan plan.json``). Both go through the same checks before the first write (applier.preflight)
and the same writer (applier.run). Safe by default, like octoDNS's sync: nothing is written
without a confirmation or ``--auto-approve``, and a stale, failed or unusually large plan is
refused whole.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from reconciler.applier import (
    Applier,
    ApplyReport,
    check_applicable,
    check_target,
    has_masked_values,
    prepare,
)
from reconciler.cli.apply_output import Progress, render_json, render_text
from reconciler.cli.common import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    echo_err,
    handle_errors,
    main,
    use_color,
)
from reconciler.cli.planning import PlanOptions, load_workspace, opened, read_and_plan
from reconciler.cli.planning import Progress as ReadProgress
from reconciler.cli.scoping import shard_desired, shard_option
from reconciler.cli.specs import load_desired
from reconciler.config import ApplySettings, LoadedConfig, load_config
from reconciler.errors import ConfigError
from reconciler.model import DesiredState
from reconciler.plan.merge import scope_label
from reconciler.plan.model import Plan
from reconciler.plan.saved import read_plan_file
from reconciler.plan.shard import Shard
from reconciler.remote.http import Endpoint, HttpSession, HttpSettings
from reconciler.remote.targets import open_target, resolve_target
from reconciler.remote.zelto import ZeltoClient
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
@click.option("--target", help="A target named in reconciler.yaml [default: defaultTarget].")
@click.option("--api-url", help="Zelto API URL (token from $ZELTO_API_KEY) [env: ZELTO_API_URL].")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="reconciler.yaml to use [default: found in this or a parent folder].",
)
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
    if plan_file is not None:
        code = _apply_saved(plan_file, options, config_file, target, api_url)
    else:
        scope = scope_label(None, shard)
        plan_options = PlanOptions(paths, config_file, target, api_url, adopt=adopt, scope=scope)
        code = _plan_and_apply(plan_options, options, shard)
    sys.exit(code)


def _require_approval_channel(options: _Options) -> None:
    """Without a terminal nobody can answer the prompt: fail before reading anything."""
    if not options.auto_approve and not sys.stdin.isatty():
        raise ConfigError(
            "apply asks for confirmation, but stdin is not a terminal; review the plan and "
            "pass --auto-approve (nothing was written)"
        )


def _plan_and_apply(plan_options: PlanOptions, options: _Options, shard: Shard | None) -> int:
    workspace = load_workspace(plan_options)
    desired = shard_desired(workspace.desired, shard)
    with opened(workspace) as endpoint:
        progress = ReadProgress.for_stderr()
        plan = asyncio.run(read_and_plan(workspace, endpoint, progress=progress, desired=desired))
        _show_plan(plan, options)
        return _check_and_write(
            plan, endpoint, workspace.loaded, options, workspace.desired, saved=False
        )


def _apply_saved(
    plan_file: Path,
    options: _Options,
    config_file: Path | None,
    target: str | None,
    api_url: str | None,
) -> int:
    plan = read_plan_file(plan_file, option="--plan")
    loaded = load_config(config_file)
    resolved = resolve_target(loaded, target=target, api_url=api_url, environ=os.environ)
    if plan.offline:
        # Its target is the pseudo-target 'offline': say why it cannot be applied, rather than
        # suggest `--target offline`, which names no target at all.
        check_applicable(plan, adopt=options.adopt)
    check_target(plan, resolved.name)  # before starting an emulator or reading any spec
    # The specs are needed only to restore masked values; a saved plan is otherwise complete.
    desired = load_desired(loaded) if has_masked_values(plan) else None
    with open_target(resolved) as endpoint:
        _show_plan(plan, options)
        return _check_and_write(plan, endpoint, loaded, options, desired, saved=True)


def _show_plan(plan: Plan, options: _Options) -> None:
    """The plan comes first, as text, so that whoever approves sees what they approve; with
    --format json it goes to stderr, keeping stdout one JSON document."""
    err = options.json_output
    text = render_plan(plan, color=use_color(sys.stderr if err else sys.stdout))
    click.echo(text, err=err)


def _check_and_write(
    plan: Plan,
    endpoint: Endpoint,
    loaded: LoadedConfig,
    options: _Options,
    desired: DesiredState | None,
    *,
    saved: bool,
) -> int:
    settings = loaded.config.apply
    ready = prepare(
        plan,
        target=endpoint.name,
        settings=settings,
        force=options.force,
        adopt=options.adopt,
        desired=desired,
    )
    if not ready.has_changes:
        return _nothing_to_do(ready, endpoint, options)
    prompted = _confirm(ready, endpoint, options)
    # A saved plan may be old, and a prompt may wait for minutes: check the plan is current.
    check_fresh = saved or prompted
    report, exit_code = _run(ready, endpoint, _http_settings(settings, options), check_fresh)
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


def _http_settings(settings: ApplySettings, options: _Options) -> HttpSettings:
    if options.concurrency is None:
        return HttpSettings.from_config(settings)
    return HttpSettings.from_config(settings, concurrency=options.concurrency)


def _nothing_to_do(plan: Plan, endpoint: Endpoint, options: _Options) -> int:
    if options.json_output:
        empty = ApplyReport(target=endpoint.name, spec_digest=plan.spec_digest)
        click.echo(render_json(empty))
    else:
        click.echo(f"Apply to {endpoint.name}: no changes, nothing was written.")
    return 0


def _confirm(plan: Plan, endpoint: Endpoint, options: _Options) -> bool:
    """Terraform's rule: only the exact word ``yes`` approves. Returns whether it prompted."""
    if options.auto_approve:
        return False
    question = (
        f"Apply {plan.summary.writes} change(s) to {endpoint.name}? Only 'yes' will be accepted"
    )
    answer = click.prompt(question, default="", show_default=False, err=True)
    if answer.strip() != "yes":
        raise ConfigError("apply cancelled; nothing was written")
    return True


def _run(
    plan: Plan, endpoint: Endpoint, settings: HttpSettings, check_fresh: bool
) -> tuple[ApplyReport, int | None]:
    """The writes, with SIGINT/SIGTERM turned into a graceful stop; returns the report and the
    exit code a signal asks for (None when none arrived)."""
    received: list[int] = []

    async def go() -> ApplyReport:
        async with HttpSession(endpoint, settings) as session:
            with Progress(len(plan.writes())) as progress:
                on_result = progress.advance if progress.enabled else None
                applier = Applier(
                    ZeltoClient(session), check_fresh=check_fresh, on_result=on_result
                )
                _install_signal_handlers(applier, received)
                try:
                    return await applier.run(plan)
                finally:
                    _remove_signal_handlers()

    report = asyncio.run(go())
    return report, (received[0] if received else None)


def _install_signal_handlers(applier: Applier, received: list[int]) -> None:
    loop = asyncio.get_running_loop()
    for signum, (reason, code) in _SIGNALS.items():

        def handler(reason: str = reason, code: int = code) -> None:
            received.append(code)
            applier.stop(reason)

        try:
            loop.add_signal_handler(signum, handler)
        except (NotImplementedError, RuntimeError, ValueError):
            # Not the main thread, or a platform without loop signal handlers: Ctrl-C then
            # raises KeyboardInterrupt as usual, and re-running apply still finishes the job.
            return


def _remove_signal_handlers() -> None:
    loop = asyncio.get_running_loop()
    for signum in _SIGNALS:
        try:
            loop.remove_signal_handler(signum)
        except (NotImplementedError, RuntimeError, ValueError):
            return


def _print_report(report: ApplyReport, options: _Options) -> None:
    if options.json_output:
        click.echo(render_json(report))
        return
    every_record = not sys.stderr.isatty()
    click.echo(render_text(report, every_record=every_record, color=use_color()))
