"""The ``reconciler`` command line: the only part of the package that prints or exits.

Each command lives in its own module and registers itself on :data:`main` when imported, so
commands stay small and independent. Modules are imported only when their command runs (see
``LazyGroup``). Library errors (``ReconcilerError``) become one clear message and exit 1; nothing a
user types ever produces a traceback.
"""

from __future__ import annotations

from reconciler.cli.common import LazyGroup, main

__all__ = ["main"]

#: command name -> the module that defines it; one line each, sorted.
COMMANDS = {
    "agent": "reconciler.cli.cmd_agent",
    "apply": "reconciler.cli.cmd_apply",
    "comment": "reconciler.cli.cmd_comment",
    "emulator": "reconciler.cli.cmd_emulator",
    "import": "reconciler.cli.cmd_import",
    "plan": "reconciler.cli.cmd_plan",
    "plan-merge": "reconciler.cli.cmd_plan_merge",
    "schema": "reconciler.cli.cmd_schema",
    "validate": "reconciler.cli.cmd_validate",
    "version": "reconciler.cli.cmd_version",
}

assert isinstance(main, LazyGroup)
main.lazy_commands.update(COMMANDS)
