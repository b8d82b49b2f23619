"""Saved plan files: read them back strictly, write them so no reader ever sees half of one.

``plan --out``, ``plan-merge`` and ``apply --plan`` all go through here, so a missing, unreadable
or foreign file gets the same clear message whichever command met it.
"""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.errors import ConfigError
from reconciler.files import UnsafePathError, write_atomically
from reconciler.plan.model import Plan, PlanFormatError

__all__ = ["read_plan_file", "write_plan_file"]


def read_plan_file(path: Path, *, option: str = "") -> Plan:
    """A saved plan, validated; ``option`` (e.g. ``--plan``) prefixes messages when given."""
    where = f"{option} {path}" if option else str(path)
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise ConfigError(f"{where}: no such plan file") from None
    except IsADirectoryError:
        raise ConfigError(f"{where}: is a folder; give the JSON plan file") from None
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read it ({exc.strerror})") from None
    except ValueError as exc:
        raise PlanFormatError(
            f"{where}: not JSON ({exc}); save plans with `reconciler plan --out FILE`"
        ) from None
    if isinstance(data, dict) and "formatVersion" not in data:
        # Any JSON object (a report, a config dump) would otherwise read "formatVersion None".
        raise PlanFormatError(
            f"{where}: not a reconciler plan (it has no formatVersion); "
            "save plans with `reconciler plan --out FILE`"
        )
    return Plan.from_json_dict(data, source=where)


def write_plan_file(path: Path, text: str) -> None:
    """Write a plan (``--out``) atomically, so a reader never sees half a plan; private (0600),
    as a plan names every record it would write."""
    try:
        write_atomically(path, text, private=True)
    except UnsafePathError as exc:
        raise ConfigError(f"--out {exc}") from None
    except OSError as exc:
        raise ConfigError(f"--out {path}: cannot write it ({exc.strerror or exc})") from None
