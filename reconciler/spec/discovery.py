"""Which files are specs: every ``*.yaml``/``*.yml`` under the given files and folders.

Kept apart from loading because ``validate``, ``plan`` and ``--changed-since`` ask this question
on its own, and because a missing path must be an error wherever it is asked.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from reconciler.errors import Issue, Location, SpecError

__all__ = ["SPEC_SUFFIXES", "discover_pairs", "discover_spec_files"]

SPEC_SUFFIXES = (".yaml", ".yml")


def discover_spec_files(paths: Sequence[Path]) -> list[Path]:
    """Spec files under ``paths`` (files as given, folders recursively), sorted, no duplicates.

    Returned paths start as the given ones did (relative stays relative). Folders whose name
    starts with a dot are skipped. A path that does not exist is an error: a typo in a CI job
    must not validate nothing.
    """
    return [Path(given) for _absolute, given in discover_pairs(paths)]


def discover_pairs(paths: Sequence[Path]) -> list[tuple[str, str]]:
    """(absolute, as-given) path strings, sorted as paths sort (by component).

    Strings, not Path objects: for 5,000 files those cost more than a whole cached load.
    """
    found: dict[str, str] = {}
    missing: list[Issue] = []
    for path in paths:
        absolute = os.path.abspath(path)
        if os.path.isfile(absolute):
            found.setdefault(absolute, str(path))
        elif os.path.isdir(absolute):
            given = str(path)
            for file in _walk(absolute):
                found.setdefault(file, given + file[len(absolute) :])
        else:
            missing.append(Issue(Location(str(path)), "no such file or folder"))
    if missing:
        raise SpecError(missing)
    return sorted(found.items(), key=lambda item: item[0].split(os.sep))


def _walk(folder: str) -> list[str]:
    out: list[str] = []
    for directory, subdirs, files in os.walk(folder):
        subdirs[:] = [d for d in subdirs if not d.startswith(".")]
        prefix = directory + os.sep
        out.extend(prefix + f for f in files if f.endswith(SPEC_SUFFIXES))
    return out
