"""The ``reconciler`` command line: the only part of the package that prints or exits.

Each command lives in its own module and registers itself on :data:`main` when imported, so
commands stay small and independent. Library errors (``ReconcilerError``) become one clear message
and exit 1; nothing a user types ever produces a traceback.
"""

from __future__ import annotations

from reconciler.cli.common import main

# Command modules register themselves on `main` when imported; one line each, sorted.
from reconciler.cli import cmd_apply as cmd_apply  # isort: skip
from reconciler.cli import cmd_comment as cmd_comment  # isort: skip
from reconciler.cli import cmd_emulator as cmd_emulator  # isort: skip
from reconciler.cli import cmd_import as cmd_import  # isort: skip
from reconciler.cli import cmd_plan as cmd_plan  # isort: skip
from reconciler.cli import cmd_plan_merge as cmd_plan_merge  # isort: skip
from reconciler.cli import cmd_schema as cmd_schema  # isort: skip
from reconciler.cli import cmd_validate as cmd_validate  # isort: skip
from reconciler.cli import cmd_version as cmd_version  # isort: skip

__all__ = ["main"]
