"""Which spec files a command reads, and loading them the same way everywhere, cache on.

One place decides which spec paths ``validate``, ``plan`` and ``apply`` read and that unchanged
files are not parsed again, so they agree on both (and a repeated plan in CI is as fast as a
repeated validate).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from reconciler.config import LoadedConfig, spec_cache_dir
from reconciler.errors import SpecError
from reconciler.model import DesiredState
from reconciler.plan.shard import restrict
from reconciler.spec import discover_spec_files, load_specs

__all__ = ["load_desired", "load_planned", "spec_paths"]


def spec_paths(loaded: LoadedConfig, paths: Sequence[Path] = (), *, cwd: Path) -> list[Path]:
    """PATH arguments, anchored at ``cwd``, or else the configured spec paths.

    ``cwd`` is ``Path(".")`` for the command line, which keeps arguments as typed, so messages
    name them the way the user wrote them.
    """
    return [cwd / p for p in paths] or loaded.spec_paths()


def load_desired(
    loaded: LoadedConfig,
    paths: Sequence[Path] = (),
    *,
    cwd: Path,
    use_cache: bool = True,
    pause_gc: bool = False,
) -> DesiredState:
    """Load and check the specs; raises SpecError with every problem of the run.

    ``pause_gc`` is process-wide (see spec.loader.gc_paused): the program's entry point opts in.
    """
    cache_dir = spec_cache_dir(loaded) if use_cache else None
    where = spec_paths(loaded, paths, cwd=cwd)
    return load_specs(where, root=loaded.root, cache_dir=cache_dir, pause_gc=pause_gc)


def load_planned(
    loaded: LoadedConfig, paths: Sequence[Path] = (), *, cwd: Path, pause_gc: bool = False
) -> DesiredState:
    """What ``plan`` and ``apply`` work on: PATH arguments inside the specs choose conversations.

    When every file named is one of the configured spec files, each conversation those files
    name keeps everything the configured specs declare for it, and the whole label catalog
    applies. A plan of one file must not pretend the other files do not exist: the catalog
    (metricIds, kinds) usually lives in a file of its own and a conversation's records may be
    spread over several, so a plan of the file alone would clear catalog metricIds and call the
    other files' records orphans, and apply would write exactly that. PATHs outside the
    configured specs are a spec set of their own and are planned as they are.
    """
    if not paths:
        return load_desired(loaded, cwd=cwd, pause_gc=pause_gc)
    named = load_desired(loaded, paths, cwd=cwd, pause_gc=pause_gc)
    if not _all_configured(loaded, spec_paths(loaded, paths, cwd=cwd)):
        return named
    return restrict(load_desired(loaded, cwd=cwd, pause_gc=pause_gc), named.conversations)


def _all_configured(loaded: LoadedConfig, given: Sequence[Path]) -> bool:
    """Whether every spec file under ``given`` is one of the configured spec files."""
    try:
        configured = {os.path.abspath(p) for p in discover_spec_files(loaded.spec_paths())}
    except SpecError:  # the configured folders do not exist: the given paths stand alone
        return False
    return all(os.path.abspath(p) in configured for p in discover_spec_files(given))
