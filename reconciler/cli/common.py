"""What every command shares: the root group, error-to-exit-code mapping, output helpers."""

from __future__ import annotations

import functools
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from reconciler.display import escape_controls
from reconciler.errors import ReconcilerError, SpecError

__all__ = [
    "EXIT_CHANGES",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "LazyGroup",
    "config_option",
    "deadline_option",
    "echo_err",
    "handle_errors",
    "main",
    "target_options",
    "use_color",
]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2  # plan --detailed-exitcode: changes to apply (Terraform's convention)
EXIT_INTERRUPTED = 130

P = ParamSpec("P")
R = TypeVar("R")


class _UsageError(click.UsageError):
    exit_code = EXIT_ERROR


def _help_for_bare_group(exc: click.exceptions.NoArgsIsHelpError) -> click.exceptions.Exit:
    """A group typed without a command (``reconciler``, ``reconciler import``) shows its help.

    That is a question, not a mistake: click 8.2+ reports it as a usage error (``Error: Usage:``,
    exit 2, which the handler below would turn into 1); a first-time user should see the help
    and exit 0, as ``--help`` does.
    """
    click.echo(exc.ctx.get_help() if exc.ctx is not None else "")
    return click.exceptions.Exit(EXIT_OK)


class LazyGroup(click.Group):
    """A group whose commands are imported only when used.

    ``validate`` runs as a pre-commit hook on every commit; importing every command (the HTTP
    stack, the applier, the emulator) would triple its start-up time for nothing. A command module
    still registers itself with ``@main.command``: importing it is all that loading takes.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands: dict[str, str] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = self.lazy_commands.get(cmd_name)
        if module is not None and cmd_name not in self.commands:
            importlib.import_module(module)
        return super().get_command(ctx, cmd_name)

    # Usage errors (an unknown option, a bad value, a missing argument) exit 1 in every command,
    # as the README's exit-code table says, not click's 2: `plan --detailed-exitcode` reserves 2
    # for "changes to apply", and a script should never read a typo as anything but a failure.
    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:
            raise _help_for_bare_group(exc) from None
        except click.UsageError as exc:
            raise _UsageError(exc.format_message(), exc.ctx) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except _UsageError:
            raise
        except click.exceptions.NoArgsIsHelpError as exc:  # a bare sub-group: `reconciler import`
            raise _help_for_bare_group(exc) from None
        except click.UsageError as exc:
            raise _UsageError(exc.format_message(), exc.ctx) from None


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
# The version from the installed package's metadata (what pip, pipx and bug reports see), the
# same words as `reconciler version`.
@click.version_option(
    package_name="reconciler", prog_name="reconciler", message="%(prog)s %(version)s"
)
def main() -> None:
    """Declarative GitOps for Zelto customer metrics: validate specs, plan, apply."""


def use_color(stream: object = None) -> bool:
    """Colour only on a TTY and never with NO_COLOR set (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    target = stream if stream is not None else sys.stdout
    isatty = getattr(target, "isatty", None)
    return bool(isatty and isatty())


def echo_err(message: str) -> None:
    """A message for the user on stderr; server and spec text in it cannot control the terminal."""
    click.echo(escape_controls(message), err=True)


#: Problems printed one per line before "... and N more": a million-line error list helps nobody
#: and took longer to print than to find.
MAX_SHOWN_PROBLEMS = 100


def capped(lines: Sequence[str], limit: int | None = None, why: str = "") -> list[str]:
    """At most ``limit`` lines (default :data:`MAX_SHOWN_PROBLEMS`), then ``... and N more``
    (with ``why``, e.g. where the rest is)."""
    limit = MAX_SHOWN_PROBLEMS if limit is None else limit
    if len(lines) <= limit:
        return list(lines)
    return [*lines[:limit], f"... and {len(lines) - limit:,} more{why}"]


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn library errors into one readable message and exit 1; Ctrl-C into exit 130.

    Commands raise; only this decorator decides what the user sees, so every command reports
    errors the same way and no traceback reaches a user for bad input.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except SpecError as exc:
            for line in capped([f"error: {issue}" for issue in exc.issues]):
                echo_err(line)
            count = len(exc.issues)
            echo_err(f"{count} error{'s' if count != 1 else ''}; nothing was changed.")
            raise SystemExit(EXIT_ERROR) from None
        except ReconcilerError as exc:
            echo_err(f"error: {exc}")
            raise SystemExit(EXIT_ERROR) from None
        except KeyboardInterrupt:
            echo_err("interrupted")
            raise SystemExit(EXIT_INTERRUPTED) from None

    return wrapper


def config_option(func: Callable[P, R]) -> Callable[P, R]:
    """``--config FILE`` (parameter ``config_file``): every command that reads reconciler.yaml
    takes it the same way, with the same words."""
    option = click.option(
        "--config",
        "config_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="reconciler.yaml to use [default: found in this or a parent folder].",
    )
    return option(func)


def target_options(func: Callable[P, R]) -> Callable[P, R]:
    """``--target NAME`` and ``--api-url URL``: which Zelto a command talks to, chosen the same
    way by every command (the choice itself is remote/targets.py's)."""
    api_url = click.option(
        "--api-url", help="Zelto API URL (token from $ZELTO_API_KEY) [env: ZELTO_API_URL]."
    )
    target = click.option(
        "--target", help="A target named in reconciler.yaml [default: defaultTarget]."
    )
    return target(api_url(func))


def deadline_option(func: Callable[P, R]) -> Callable[P, R]:
    """``--deadline SECONDS``: plan and apply end by then, whatever the API does (issue 12)."""
    option = click.option(
        "--deadline",
        type=click.FloatRange(min=0, min_open=True),
        default=None,
        metavar="SECONDS",
        help="Give up on Zelto after this long overall: no request starts and no retry waits "
        "past it; what was not read or written is reported [default: none].",
    )
    return option(func)
