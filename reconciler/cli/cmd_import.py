"""``reconciler import siro|zelto``: write spec files from data that does not start in git.

The files go through review like any other spec change (docs/import.md). Warnings go to stderr;
any error makes the exit status 1, and then nothing is written unless ``--partial``.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import click

from reconciler.cli.common import config_option, echo_err, handle_errors, main, target_options
from reconciler.engine.importing import SIRO_URL_ENV
from reconciler.engine.workspace import Workspace
from reconciler.importer.writing import ImportReport

_OUT = click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the generated specs.",
)
_PARTIAL = click.option(
    "--partial",
    is_flag=True,
    help="Write the files that had no error even when others did (the exit status is still 1).",
)


class _Instant(click.ParamType[datetime]):
    """An ISO 8601 date-time with a time zone; a naive time would be read in an unknown zone."""

    name = "ISO-8601"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            self.fail(
                f"{value!r} is not an ISO 8601 date-time, e.g. 2026-11-23T00:00:00Z", param, ctx
            )
        if moment.tzinfo is None:
            self.fail(f"{value!r} has no time zone; add one, e.g. Z or +01:00", param, ctx)
        return moment


@main.group("import")
def import_group() -> None:
    """Write spec files from Siro scorecards or from records Zelto already holds."""


@import_group.command("siro")
@click.option("--start", required=True, type=_Instant(), help="Window start (ISO 8601, with zone).")
@click.option("--end", required=True, type=_Instant(), help="Window end (ISO 8601, with zone).")
@_OUT
@_PARTIAL
@click.option(
    "--siro-url",
    help=f"Siro API URL [default: ${SIRO_URL_ENV}, else siro.url, else https://api.siro.ai].",
)
@config_option
@handle_errors
def import_siro(
    *,
    start: datetime,
    end: datetime,
    out_dir: Path | None,
    partial: bool,
    siro_url: str | None,
    config_file: Path | None,
) -> None:
    """Siro scorecard values of the mapped recordings → specs (token: $SIRO_AUTH_TOKEN).

    One request per recording, at most 1,000 a minute. Files go to siro.output (default
    specs/imported/siro), one per conversation; existing files of recordings outside the window
    are kept.
    """
    with Workspace.load(config_file=config_file) as workspace:
        report = workspace.import_siro(
            start, end, out_dir=out_dir, partial=partial, siro_url=siro_url
        )
    _finish(report, "siro", f"{report.asked} recording{'s' if report.asked != 1 else ''}")


@import_group.command("zelto")
@click.argument("conversation_ids", nargs=-1, required=True, metavar="CONVERSATION_ID...")
@_OUT
@_PARTIAL
@target_options
@config_option
@handle_errors
def import_zelto(
    *,
    conversation_ids: tuple[str, ...],
    out_dir: Path | None,
    partial: bool,
    target: str | None,
    api_url: str | None,
    config_file: Path | None,
) -> None:
    """The records Zelto holds for these conversations → specs that adopt them.

    Records without an externalId get `zelto:<record id>` and a comment: the plan shows them as
    conflicts until `reconciler apply --adopt`. Files go to specs/imported/zelto by default.
    """
    with Workspace.load(config_file=config_file, target=target, api_url=api_url) as workspace:
        report = workspace.import_zelto(conversation_ids, out_dir=out_dir, partial=partial)
    _finish(report, "zelto", f"{report.asked} conversation{'s' if report.asked != 1 else ''}")


def _finish(report: ImportReport, source: str, read: str) -> None:
    for warning in report.warnings:
        echo_err(f"warning: {warning}")
    for error in report.errors:
        echo_err(f"error: {error}")
    outcome = report.outcome
    files = len(outcome.created) + len(outcome.updated) + len(outcome.unchanged)
    if report.written:
        click.echo(
            f"import {source}: {read} read; {report.records} record"
            f"{'s' if report.records != 1 else ''} in {files} file{'s' if files != 1 else ''} "
            f"under {report.out_dir}: {len(outcome.created)} created, {len(outcome.updated)} "
            f"updated, {len(outcome.unchanged)} unchanged"
        )
        for path in (*outcome.created, *outcome.updated):
            click.echo(f"  wrote {os.path.relpath(path)}")
    if report.errors:
        count = len(report.errors)
        tail = (
            "the files without errors were written (--partial)"
            if report.written
            else "nothing was written (--partial writes the files without errors)"
        )
        echo_err(f"{count} error{'s' if count != 1 else ''}; {tail}.")
        raise SystemExit(1)
    if not report.written:
        click.echo(f"import {source}: {read} read; nothing to write")
