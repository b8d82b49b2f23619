"""Writing a run's generated files as one unit: stage, validate with the spec loader, rename.

The new text of every changed file first goes to a temp file beside its target. The whole spec
tree is then loaded with those temp files standing in for their targets, so a generated label
that the catalog does not know, or a record that collides with a hand-written one, fails the
run before anything visible changes. Only then is each temp file renamed over its target.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from reconciler.config import LoadedConfig
from reconciler.errors import Issue, SpecError
from reconciler.importer.specfile import (
    GeneratedFile,
    StagedWrite,
    WriteOutcome,
    commit_staged,
    discard_staged,
    stage_files,
)
from reconciler.spec import discover_spec_files, load_specs

__all__ = ["ImportReport", "outside_spec_paths", "shown", "write_generated"]


@dataclass(frozen=True)
class ImportReport:
    """What an import found and did. ``errors`` non-empty means the run failed."""

    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    outcome: WriteOutcome = field(default_factory=WriteOutcome)
    records: int = 0
    written: bool = False
    out_dir: str = ""


def shown(path: Path, root: Path) -> str:
    """A path as messages show it: relative to the config folder when it is inside it."""
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def outside_spec_paths(loaded: LoadedConfig, folder: Path) -> bool:
    """True when ``validate`` and ``plan`` would not read files written to ``folder``."""
    target = folder.resolve()
    for spec in loaded.spec_paths():
        base = spec.resolve()
        if target == base or base in target.parents:
            return False
    return True


def write_generated(
    loaded: LoadedConfig, files: Sequence[GeneratedFile], marker: str
) -> WriteOutcome:
    """Write ``files`` all or nothing; raise SpecError (nothing written) when specs would break."""
    staged, unchanged = stage_files(files, marker)
    try:
        _validate(loaded, files, staged)
    except BaseException:
        discard_staged(staged)
        raise
    return commit_staged(staged, unchanged)


def _validate(
    loaded: LoadedConfig, files: Sequence[GeneratedFile], staged: Sequence[StagedWrite]
) -> None:
    temp_for = {w.target.resolve(): w.temp for w in staged}
    existing = [p.resolve() for p in discover_spec_files(loaded.spec_paths())]
    ours = [f.path.resolve() for f in files]
    paths = [temp_for.get(p, p) for p in existing]
    paths += [temp_for.get(p, p) for p in ours if p not in set(existing)]
    try:
        load_specs(paths, root=loaded.root)
    except SpecError as exc:
        raise SpecError([_unstaged(issue, staged, loaded.root) for issue in exc.issues]) from None


def _unstaged(issue: Issue, staged: Sequence[StagedWrite], root: Path) -> Issue:
    """Point an issue found in a temp file at the file it will become."""
    for write in staged:
        names = {str(write.temp), write.temp.name, shown(write.temp, root)}
        if issue.location.file in names or issue.location.file.endswith(write.temp.name):
            where = replace(issue.location, file=shown(write.target, root))
            return replace(issue, location=where, message=f"(generated) {issue.message}")
    return issue
