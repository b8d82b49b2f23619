"""The ``reconciler`` command line: the only part of the package that prints or exits.

Each command lives in its own module and registers itself on :data:`main` here, so commands stay
small and independent. Library errors (``ReconcilerError``) become one clear message and exit 1;
nothing a user types ever produces a traceback.
"""

from __future__ import annotations

from reconciler.cli.common import main

__all__ = ["main"]

# Command modules register themselves on `main` when imported; keep this list sorted.
from reconciler.cli import (
    cmd_version,
)

del cmd_version
