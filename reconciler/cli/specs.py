"""Loading the desired state the same way in every command, with the content-hash cache on.

One place decides which spec paths a command reads and that unchanged files are not parsed again,
so ``validate``, ``plan`` and ``apply`` agree on both (and a repeated plan in CI is as fast as a
repeated validate).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from reconciler.config import LoadedConfig, spec_cache_dir
from reconciler.model import DesiredState
from reconciler.spec import load_specs

__all__ = ["load_desired", "spec_paths"]


def spec_paths(
    loaded: LoadedConfig, paths: Sequence[Path] = (), *, cwd: Path | None = None
) -> list[Path]:
    """PATH arguments or else the configured spec paths.

    Arguments stay as typed (relative to the current directory), so messages name them the way
    the user wrote them; ``cwd`` anchors them elsewhere (a caller that is not in that directory).
    """
    if cwd is None:
        return list(paths) or loaded.spec_paths()
    return [p if p.is_absolute() else cwd / p for p in paths] or loaded.spec_paths()


def load_desired(
    loaded: LoadedConfig,
    paths: Sequence[Path] = (),
    *,
    use_cache: bool = True,
    cwd: Path | None = None,
) -> DesiredState:
    """Load and check the specs; raises SpecError with every problem of the run."""
    cache_dir = spec_cache_dir(loaded) if use_cache else None
    return load_specs(spec_paths(loaded, paths, cwd=cwd), root=loaded.root, cache_dir=cache_dir)
