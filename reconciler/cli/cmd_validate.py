"""``reconciler validate``: check specs offline, report every problem with its place, exit 0/1.

Meant for editors, pre-commit and CI alike: text for people, ``--format json`` for tools, and
under GitHub Actions also ``::error`` annotations so problems show on the pull request's diff.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import click

from reconciler.cli.common import (
    EXIT_ERROR,
    MAX_SHOWN_PROBLEMS,
    capped,
    config_option,
    handle_errors,
    main,
)
from reconciler.config import load_config
from reconciler.engine.specs import load_desired, spec_paths
from reconciler.errors import ConfigError, Issue, Location, SpecError
from reconciler.model import DesiredState
from reconciler.spec import discover_spec_files

__all__ = ["github_annotation", "validate"]

#: PATH arguments stay as typed, so problems name files the way the user wrote them.
_HERE = Path(".")


@main.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for people, json for tools.",
)
@config_option
@click.option("--no-cache", is_flag=True, help="Parse every file again, ignoring the cache.")
@handle_errors
def validate(
    paths: tuple[Path, ...], output_format: str, config_file: Path | None, no_cache: bool
) -> None:
    """Check spec files (default: the config's spec paths) without any network access.

    Exit 0 when every file is valid, 1 when any problem was found; every problem is listed
    with file:line:column, the path inside the document and what is allowed.
    """
    files = 0
    try:
        loaded = load_config(config_file)
        files = len(discover_spec_files(spec_paths(loaded, paths, cwd=_HERE)))
        state = load_desired(loaded, paths, cwd=_HERE, use_cache=not no_cache, pause_gc=True)
    except SpecError as exc:
        _report_failure(exc.issues, files, output_format)
        raise SystemExit(EXIT_ERROR) from None
    except ConfigError as exc:
        if output_format != "json":
            raise  # handle_errors prints it like every other command does
        _report_failure([Issue(Location(""), str(exc))], files, output_format)
        raise SystemExit(EXIT_ERROR) from None
    _report_success(state, output_format)


def _report_success(state: DesiredState, output_format: str) -> None:
    records, conversations, files = (
        state.record_count,
        len(state.conversations),
        len(state.files),
    )
    if output_format == "json":
        click.echo(_json(True, files, conversations, records, ()))
        return
    click.echo(
        f"valid: {records} record{_s(records)} in {conversations} conversation{_s(conversations)} "
        f"from {files} file{_s(files)}"
    )


def _report_failure(issues: Sequence[Issue], files: int, output_format: str) -> None:
    if output_format == "json":
        click.echo(_json(False, files, 0, 0, issues))
    else:
        for line in capped([str(issue) for issue in issues]):
            click.echo(line)
        count = len(issues)
        failing = len({issue.location.file for issue in issues})
        click.echo(f"{count} error{_s(count)} in {failing} file{_s(failing)}; nothing is valid")
    if os.environ.get("GITHUB_ACTIONS") == "true":
        for issue in issues[:MAX_SHOWN_PROBLEMS]:
            click.echo(github_annotation(issue))


def _s(count: int) -> str:
    return "" if count == 1 else "s"


def _json(
    valid: bool, files: int, conversations: int, records: int, issues: Sequence[Issue]
) -> str:
    body = {
        "valid": valid,
        "files": files,
        "conversations": conversations,
        "records": records,
        "errors": [
            {
                "file": issue.location.file,
                "line": issue.location.line,
                "column": issue.location.column,
                "path": issue.path,
                "message": issue.message,
            }
            for issue in issues
        ],
    }
    return json.dumps(body, indent=2, ensure_ascii=False)


def _escape_data(text: str) -> str:
    """GitHub workflow command data: %, CR and LF are escaped, in that order."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    """GitHub workflow command properties additionally escape ':' and ','."""
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotation(issue: Issue) -> str:
    """``::error file=…,line=…,col=…::message`` so the problem shows on the pull request."""
    where = issue.location
    props = [f"file={_escape_property(where.file)}"]
    if where.line > 0:
        props.append(f"line={where.line}")
    if where.column > 0:
        props.append(f"col={where.column}")
    props.append(f"title={_escape_property('reconciler validate')}")
    message = f"{issue.path}: {issue.message}" if issue.path else issue.message
    return f"::error {','.join(props)}::{_escape_data(message)}"
