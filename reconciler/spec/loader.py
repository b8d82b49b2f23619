"""Find spec files, check each (cached, in parallel when there are many), merge them.

Every problem of a run is collected before anything is raised, so a user fixes all of them in
one round. Per-file work depends only on the file's bytes, which is what makes it cacheable by
content hash and safe to hand to worker processes; the cross-file rules run on every load that
is not answered whole by a snapshot of exactly the same files.

With a cache folder, an unchanged re-run does three things only: stat each file (the stat index
gives its content key without reading it), look up the snapshot of the merged load under the
spec digest, and validate that snapshot. Any changed, added, removed or renamed file changes the
digest, and the load falls back to the per-file cache and the merge.
"""

from __future__ import annotations

import gc
import hashlib
import importlib.metadata
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from functools import cache
from pathlib import Path
from typing import NamedTuple

import pydantic
import ruamel.yaml

from reconciler.errors import Issue, Location, SpecError
from reconciler.files import FileRefusedError, read_regular, size_message
from reconciler.model import DeclaredRecord, DesiredState
from reconciler.spec.cache import ContentCache, content_key
from reconciler.spec.discovery import discover_pairs
from reconciler.spec.document import (
    FileResult,
    key_location,
    result_json,
    results_from_json,
)
from reconciler.spec.parallel import PARALLEL_MIN_BYTES, Source
from reconciler.spec.parallel import check_all as _check_all
from reconciler.spec.rules import FileRows, KeyLocator, compact, merge_results
from reconciler.spec.snapshot import Snapshots
from reconciler.spec.statindex import Stat, StatIndex, file_stat
from reconciler.spec.yamlio import DEFAULT_MAX_BYTES

__all__ = [
    "CACHE_FAMILY",
    "PARALLEL_MIN_BYTES",
    "gc_paused",
    "load_spec_sources",
    "load_specs",
    "loader_version",
    "spec_digest",
]

#: Wall-clock nanoseconds; a name of its own so tests can pretend a run starts later.
_clock = time.time_ns
CACHE_FAMILY = "specs"
#: A load that parsed at least this much YAML is stored whole (see ``_worth_a_snapshot``).
SNAPSHOT_AFTER_BYTES = 1024 * 1024
_PACKAGE = Path(__file__).resolve().parents[1]
#: Cache entries validated and made compact at a time, on a load the snapshot cannot answer.
_CACHE_CHUNK = 64
#: What the loader keeps of each file: its compact result, its problems, or None (not yet known).
_Kept = FileRows | tuple[Issue, ...] | None
#: Every source file of the installed package is part of the cache key (``loader_version``): a hand
#: list of "the files that matter" silently goes stale when code moves, and a stale key is a cache
#: that serves results of code that no longer exists.
_SOURCES_GLOB = "**/*.py"


def load_specs(
    paths: Sequence[Path],
    *,
    root: Path,
    cache_dir: Path | None = None,
    max_file_bytes: int = DEFAULT_MAX_BYTES,
    pause_gc: bool = False,
) -> DesiredState:
    """Load, check and merge the specs under ``paths``; SpecError lists every problem of the run.

    Locations are relative to ``root`` (the config folder) when the file is inside it.
    ``cache_dir`` (usually ``<root>/.reconciler/cache``) enables the caches: the content-hash
    cache of per-file results, the stat index (unchanged files are not even read) and the
    snapshot of the whole merged load. ``pause_gc`` is a process-wide choice, so the caller
    makes it (the CLI does; a long-running service embedding the library may not want it): see
    :func:`gc_paused`.
    """
    started = _clock()  # before any file is looked at: see statindex (racily clean)
    issues: list[Issue] = []
    specs: list[_Spec] = []
    base = os.path.abspath(root) + os.sep
    found = discover_pairs(paths)
    index = StatIndex(cache_dir, loader_version(), started) if cache_dir else None
    for absolute, _given in found:
        spec = _stat_or_read(absolute, _display(absolute, base), max_file_bytes, index, issues)
        if spec is not None:
            specs.append(spec)
    if index is not None:
        index.save()
    caches = _Caches(cache_dir) if cache_dir else None
    with gc_paused() if pause_gc else nullcontext():
        return _load_all(specs, issues, caches, max_file_bytes)


def load_spec_sources(
    sources: Sequence[tuple[str, bytes]], *, max_file_bytes: int = DEFAULT_MAX_BYTES
) -> DesiredState:
    """The same as :func:`load_specs`, from (display path, content) pairs (e.g. a git revision).

    Oversized contents are reported like oversized files.
    """
    issues: list[Issue] = []
    kept: list[_Spec] = []
    for display, data in sources:
        if len(data) > max_file_bytes:
            issues.append(_size_issue(display, len(data), max_file_bytes))
        else:
            kept.append(_Spec(display, content_key(data), data, None))
    return _load_all(kept, issues, None, max_file_bytes)


class _Spec(NamedTuple):
    """One spec file: its content key always, its bytes only once something needed them."""

    display: str
    key: str
    data: bytes | None
    absolute: str | None
    limit: int = DEFAULT_MAX_BYTES

    def source(self) -> Source:
        """(display, bytes), reading the file when only its key was known."""
        if self.data is not None:
            return self.display, self.data
        assert self.absolute is not None  # only files found through the stat index lack bytes
        return self.display, _read_bytes(self.absolute, self.limit)


class _Caches:
    """The per-file results cache and the merged-load snapshots of one cache folder."""

    def __init__(self, directory: Path) -> None:
        self.results = ContentCache(directory, CACHE_FAMILY, loader_version())
        self.snapshots = Snapshots(directory, loader_version())


def _stat_or_read(
    absolute: str, display: str, limit: int, index: StatIndex | None, issues: list[Issue]
) -> _Spec | None:
    """The file's content key, from the stat index when its stat is unchanged, else by reading.

    An oversized file is refused before it is read (its size is in the stat).
    """
    try:
        stat = file_stat(os.stat(absolute))
    except OSError as exc:
        issues.append(Issue(Location(display), f"cannot read: {exc.strerror or exc}"))
        return None
    if stat[0] > limit:
        issues.append(_size_issue(display, stat[0], limit))
        return None
    if index is not None:
        key = index.lookup(absolute, stat)
        if key is not None:
            return _Spec(display, key, None, absolute, limit)
    read = _read(absolute, display, limit, issues)
    if read is None:
        return None
    data, read_stat = read
    key = content_key(data)
    if index is not None:
        index.record(absolute, read_stat, key)
    return _Spec(display, key, data, absolute, limit)


def _display(absolute: str, base: str) -> str:
    """Relative to the config folder with forward slashes when inside it, else absolute."""
    shown = absolute[len(base) :] if absolute.startswith(base) else absolute
    return shown.replace(os.sep, "/") if os.sep != "/" else shown


def _size_issue(display: str, size: int, limit: int) -> Issue:
    return Issue(Location(display), size_message(size, limit))


def _read_bytes(absolute: str, limit: int) -> bytes:
    """A file known by its stat, read only once a check or an error's place needs its bytes."""
    return read_regular(absolute, limit)[0]


def _read(
    absolute: str, display: str, limit: int, issues: list[Issue]
) -> tuple[bytes, Stat] | None:
    """The file's bytes and its stat taken *before* reading them; only a regular file is read,
    and an oversized one is refused before it is read (:func:`reconciler.files.read_regular`)."""
    try:
        data, stat = read_regular(absolute, limit)
    except FileRefusedError as exc:
        issues.append(Issue(Location(display), exc.reason))
        return None
    except OSError as exc:
        issues.append(Issue(Location(display), f"cannot read: {exc.strerror or exc}"))
        return None
    return data, file_stat(stat)


def spec_digest(sources: Sequence[tuple[str, bytes]]) -> str:
    """``sha256:`` over the sorted (path, sha256 of content) pairs: which specs, exactly."""
    return _digest((display, content_key(data)) for display, data in sources)


def _digest(keyed: Iterable[tuple[str, str]]) -> str:
    """:func:`spec_digest` from (path, content key) pairs, for files whose bytes were not read."""
    digest = hashlib.sha256()
    for display, key in sorted(keyed, key=lambda pair: pair[0]):
        digest.update(f"{display}\0{key}\n".encode())
    return "sha256:" + digest.hexdigest()


@cache
def _package_version() -> str:
    try:
        return importlib.metadata.version("reconciler")
    except importlib.metadata.PackageNotFoundError:  # a source tree that was not installed
        return "unknown"


def loader_version() -> str:
    """Names the code that produced a cached result; any change to it misses the cache."""
    digest = hashlib.sha256(
        f"{_package_version()}|{pydantic.VERSION}|{ruamel.yaml.__version__}".encode()
    )
    for source in sorted(_PACKAGE.glob(_SOURCES_GLOB)):
        digest.update(source.relative_to(_PACKAGE).as_posix().encode() + b"\0")
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building tens of thousands of long-lived objects.

    Process-wide (every thread, and the survivors stay frozen), so only a program's entry point
    should choose it: ``load_specs(pause_gc=True)``. Every allocation burst triggers collections
    that rescan everything built so far, and nothing built here is garbage; on a warm (cached)
    load this is a large part of the time. On success the survivors are frozen (``gc.freeze``):
    otherwise the first allocation after re-enabling runs one collection over all of them
    (~0.09 s for 20,000 records), and every later full collection would scan them again.
    Freezing stops only *cyclic* collection of those objects; the plain records built here hold
    no cycles, and are freed as usual when dropped.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    except BaseException:
        raise
    else:
        gc.freeze()
    finally:
        if was_enabled:
            gc.enable()


def _load_all(
    specs: list[_Spec], issues: list[Issue], caches: _Caches | None, max_bytes: int
) -> DesiredState:
    """Each file's result from the cache or a check, kept compact as it comes; then the merge.

    No file's validated models outlive its compact form (:func:`~reconciler.spec.rules.compact`):
    at 400,000 records they were most of a cold load's peak memory when all were held until the
    merge (``tests/unit/test_spec_memory.py``).
    """
    specs.sort(key=lambda s: s.display.split("/"))
    digest = _digest((spec.display, spec.key) for spec in specs)
    files = tuple(spec.display for spec in specs)
    if caches is not None and not issues:
        whole = caches.snapshots.get(digest)
        if whole is not None:
            catalog, conversations = whole
            return DesiredState(conversations, catalog, spec_digest=digest, files=files)
    cache = caches.results if caches is not None else None
    kept = _from_cache(cache, specs)
    parsed = _check_missing(specs, kept, cache, max_bytes, issues)
    if cache is not None:
        cache.save()
    valid: list[tuple[str, FileRows]] = []
    for spec, final in zip(specs, kept, strict=True):
        if isinstance(final, FileRows):
            valid.append((spec.display, final))
        elif final is not None:
            issues.extend(final)
    del kept
    merged = merge_results(valid, _locator(specs))
    del valid
    issues.extend(merged.issues)
    if issues:
        raise SpecError(issues)
    digest = _digest((spec.display, spec.key) for spec in specs)  # keys of bytes read since
    if caches is not None and _worth_a_snapshot(parsed):
        caches.snapshots.put(digest, merged.catalog, merged.conversations)
    return DesiredState(
        conversations=merged.conversations,
        catalog=merged.catalog,
        spec_digest=digest,
        files=files,
    )


def _check_missing(
    specs: list[_Spec],
    kept: list[_Kept],
    cache: ContentCache | None,
    max_bytes: int,
    issues: list[Issue],
) -> int:
    """Check the files the cache did not answer, each result made compact as it arrives (and
    cached); returns how many bytes were parsed."""
    todo = _read_missing(specs, [i for i, known in enumerate(kept) if known is None], issues)
    sources = [specs[i].source() for i in todo]
    for i, (outcome, text) in zip(todo, _check_all(sources, max_bytes), strict=True):
        if isinstance(outcome, FileResult):
            if cache is not None:
                cache.put_json(specs[i].key, (text or result_json(outcome)).decode())
            kept[i] = compact(specs[i].display, outcome)
        else:
            kept[i] = outcome
    return sum(len(data) for _display, data in sources)


def _worth_a_snapshot(parsed_bytes: int) -> bool:
    """Whether to store this load whole: ~0.1 s for 20,000 records, a quarter of such a re-run.

    Stored when nothing was parsed (an unchanged re-run: the next one is likely the same) or when
    much was (a cold run, next to which it is cheap: parsing 1 MiB takes ~0.7 s); not while a
    user edits a file or two between runs, where it would slow every run and rarely be used.
    """
    return parsed_bytes == 0 or parsed_bytes >= SNAPSHOT_AFTER_BYTES


def _read_missing(specs: list[_Spec], todo: list[int], issues: list[Issue]) -> list[int]:
    """Read the files to check that are known only by their stat; those that can be read.

    Their key is taken again from the bytes read: the file may have changed since its stat.
    """
    readable: list[int] = []
    for i in todo:
        spec = specs[i]
        if spec.data is None:
            try:
                _display, data = spec.source()
            except OSError as exc:
                message = f"cannot read: {exc.strerror or exc}"
                issues.append(Issue(Location(spec.display), message))
                continue
            specs[i] = spec._replace(key=content_key(data), data=data)
        readable.append(i)
    return readable


def _locator(specs: list[_Spec]) -> KeyLocator:
    """Finds a record's key in its file again, only when a cross-file error needs the place."""
    by_file = {spec.display: spec for spec in specs}

    def locate(record: DeclaredRecord, position: int, key: str) -> Location:
        try:
            _display, data = by_file[record.file].source()
        except OSError:
            return record.location
        return key_location(data, record, position, key)

    return locate


def _from_cache(cache: ContentCache | None, specs: list[_Spec]) -> list[_Kept]:
    """Cached results where present and sound, compact; None marks a file to check.

    Entries are validated a chunk at a time and made compact at once, so that a load of many
    cached files (one file changed since the snapshot) does not hold every file's models.
    """
    kept: list[_Kept] = [None] * len(specs)
    if cache is None:
        return kept
    found = cache.get_many([spec.key for spec in specs])
    hits = [i for i, stored in enumerate(found) if stored is not None]
    for start in range(0, len(hits), _CACHE_CHUNK):
        chunk = hits[start : start + _CACHE_CHUNK]
        stored = [found[i] for i in chunk]
        results: list[FileResult | None]
        try:
            results = list(results_from_json(stored))
        except ValueError:
            results = [_one_from_json(entry) for entry in stored]  # find the damaged ones
        for i, result in zip(chunk, results, strict=True):
            found[i] = None
            if result is not None:
                kept[i] = compact(specs[i].display, result)
    return kept


def _one_from_json(stored: object) -> FileResult | None:
    try:
        return results_from_json([stored])[0]
    except ValueError:
        return None  # damaged or from an incompatible writer: parse the file again
