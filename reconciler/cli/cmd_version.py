"""``reconciler version``: which reconciler this is (for bug reports and CI logs)."""

from __future__ import annotations

import click

from reconciler import __version__
from reconciler.cli.common import main


@main.command("version")
def version() -> None:
    """Print the reconciler's version."""
    click.echo(f"reconciler {__version__}")
