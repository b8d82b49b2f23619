"""Writing a run's generated files as one unit: validate with the spec loader, stage, rename.

The whole spec tree is first loaded as it will be after the write (the new texts standing in for
their files, from memory), so a generated label that the catalog does not know, or a record that
collides with a hand-written one, fails the run before anything changes. Then the new text of
every changed file goes to a temp file beside its target, and each is renamed over its target.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.config import LoadedConfig
from reconciler.errors import Issue, Location, SpecError
from reconciler.files import read_regular
from reconciler.importer.specfile import (
    GeneratedFile,
    ImportWriteError,
    WriteOutcome,
    commit_staged,
    stage_files,
)
from reconciler.spec import discover_spec_files, load_spec_sources
from reconciler.spec.yamlio import DEFAULT_MAX_BYTES

__all__ = [
    "ImportReport",
    "ImportRun",
    "existing_spec_paths",
    "finish_import",
    "outside_spec_paths",
    "shown",
    "validate_with_specs",
    "write_generated",
]


@dataclass(frozen=True)
class ImportReport:
    """What an import found and did. ``errors`` non-empty means the run failed."""

    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    outcome: WriteOutcome = field(default_factory=WriteOutcome)
    records: int = 0
    written: bool = False
    out_dir: str = ""
    #: How many recordings (Siro) or conversations (Zelto) were asked for.
    asked: int = 0


def shown(path: Path, root: Path) -> str:
    """A path as the spec loader shows it: relative to the config folder when inside it."""
    absolute = os.path.abspath(path)
    base = os.path.abspath(root)
    if absolute.startswith(base + os.sep):
        return Path(absolute[len(base) + 1 :]).as_posix()
    return Path(absolute).as_posix()


def outside_spec_paths(loaded: LoadedConfig, folder: Path) -> bool:
    """True when ``validate`` and ``plan`` would not read files written to ``folder``."""
    target = Path(os.path.abspath(folder))
    for spec in loaded.spec_paths():
        base = Path(os.path.abspath(spec))
        if target == base or base in target.parents:
            return False
    return True


def existing_spec_paths(loaded: LoadedConfig) -> list[Path]:
    """The configured spec paths that exist: an import may create the first spec folder."""
    return [p for p in loaded.spec_paths() if p.exists()]


def write_generated(
    loaded: LoadedConfig, files: Sequence[GeneratedFile], marker: str
) -> WriteOutcome:
    """Write ``files`` all or nothing; raise SpecError (nothing written) when specs would break."""
    validate_with_specs(loaded, files)
    staged, unchanged = stage_files(files, marker, root=loaded.root)
    return commit_staged(staged, unchanged)


def validate_with_specs(loaded: LoadedConfig, files: Sequence[GeneratedFile]) -> None:
    """Load the whole spec tree as it will be after the write, from memory.

    Generated files are checked under the names they will have, so any problem (a label the
    catalog lacks, a record colliding with a hand-written one) points at the real place.
    """
    sources: dict[str, bytes] = {}
    for path in discover_spec_files(existing_spec_paths(loaded)):
        try:
            sources[shown(path, loaded.root)] = read_regular(path, DEFAULT_MAX_BYTES)[0]
        except OSError as exc:  # FileRefusedError too: a FIFO, a device, an oversized file
            where = Location(shown(path, loaded.root))
            raise SpecError([Issue(where, f"cannot read: {exc.strerror or exc}")]) from None
    for file in files:
        sources[shown(file.path, loaded.root)] = file.text.encode("utf-8")
    load_spec_sources(sorted(sources.items()))


@dataclass(frozen=True)
class ImportRun:
    """What an import built before writing: files, and the problems found on the way."""

    files: tuple[GeneratedFile, ...]
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    records: int = 0


def finish_import(
    loaded: LoadedConfig, run: ImportRun, marker: str, out_dir: Path, *, partial: bool
) -> ImportReport:
    """Write (all or nothing, or ``partial``) and report; a refused write joins the errors.

    A failed write is reported together with what the run found before it, rather than raised
    alone, so that the user sees every problem of the run at once.
    """
    warnings = list(run.warnings)
    if outside_spec_paths(loaded, out_dir):
        warnings.append(
            f"{shown(out_dir, loaded.root)} is outside the configured specs "
            f"({', '.join(loaded.config.specs)}); validate and plan will not read these files"
        )
    errors = list(run.errors)
    outcome = WriteOutcome()
    write = bool(run.files) and (partial or not errors)
    if write:
        try:
            outcome = write_generated(loaded, run.files, marker)
        except SpecError as exc:
            errors += [str(issue) for issue in exc.issues]
            write = False
        except ImportWriteError as exc:
            errors.append(str(exc))
            write = False
    return ImportReport(
        errors=tuple(errors),
        warnings=tuple(warnings),
        outcome=outcome,
        records=run.records if write else 0,
        written=write,
        out_dir=shown(out_dir, loaded.root),
    )
