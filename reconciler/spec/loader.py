"""Find spec files, check each (cached, in parallel when there are many), merge them.

Every problem of a run is collected before anything is raised, so a user fixes all of them in
one round. Per-file work depends only on the file's bytes, which is what makes it cacheable by
content hash and safe to hand to worker processes; the cross-file rules always run.
"""

from __future__ import annotations

import gc
import hashlib
import multiprocessing
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import pydantic
import ruamel.yaml

from reconciler.cache import ContentCache, content_key
from reconciler.errors import Issue, Location, SpecError
from reconciler.model import DesiredState
from reconciler.spec.document import (
    FileResult,
    RecordDecl,
    check_file,
    key_location,
    result_to_json,
    results_from_json,
)
from reconciler.spec.rules import KeyLocator, merge_results
from reconciler.yamlio import DEFAULT_MAX_BYTES

__all__ = [
    "CACHE_FAMILY",
    "PARALLEL_MIN_BYTES",
    "discover_spec_files",
    "load_spec_sources",
    "load_specs",
    "loader_version",
    "spec_digest",
]

SPEC_SUFFIXES = (".yaml", ".yml")
CACHE_FAMILY = "specs"
#: Below this much uncached YAML, starting worker processes costs more than it saves.
PARALLEL_MIN_BYTES = 1024 * 1024
_BATCHES_PER_WORKER = 4
_PACKAGE = Path(__file__).resolve().parents[1]
_VERSIONED_SOURCES = (
    "yamlio/loader.py",
    "yamlio/located.py",
    "model.py",
    "spec/document.py",
    "spec/loader.py",
)

Source = tuple[str, bytes]
Outcome = FileResult | tuple[Issue, ...]


def discover_spec_files(paths: Sequence[Path]) -> list[Path]:
    """Spec files under ``paths`` (files as given, folders recursively), sorted, no duplicates.

    Returned paths start as the given ones did (relative stays relative). Folders whose name
    starts with a dot are skipped. A path that does not exist is an error: a typo in a CI job
    must not validate nothing.
    """
    return [Path(given) for _absolute, given in _discover(paths)]


def _discover(paths: Sequence[Path]) -> list[tuple[str, str]]:
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


def load_specs(
    paths: Sequence[Path],
    *,
    root: Path,
    cache_dir: Path | None = None,
    max_file_bytes: int = DEFAULT_MAX_BYTES,
) -> DesiredState:
    """Load, check and merge the specs under ``paths``; SpecError lists every problem of the run.

    Locations are relative to ``root`` (the config folder) when the file is inside it.
    ``cache_dir`` (usually ``<root>/.reconciler/cache``) enables the content-hash cache.
    """
    issues: list[Issue] = []
    sources: list[Source] = []
    base = os.path.abspath(root) + os.sep
    for absolute, _given in _discover(paths):
        display = _display(absolute, base)
        data = _read(absolute, display, max_file_bytes, issues)
        if data is not None:
            sources.append((display, data))
    cache = ContentCache(cache_dir, CACHE_FAMILY, loader_version()) if cache_dir else None
    return _load(sources, issues, cache, max_file_bytes)


def load_spec_sources(
    sources: Sequence[tuple[str, bytes]], *, max_file_bytes: int = DEFAULT_MAX_BYTES
) -> DesiredState:
    """The same as :func:`load_specs`, from (display path, content) pairs (e.g. a git revision).

    Oversized contents are reported like oversized files.
    """
    issues: list[Issue] = []
    kept: list[Source] = []
    for display, data in sources:
        if len(data) > max_file_bytes:
            issues.append(_size_issue(display, len(data), max_file_bytes))
        else:
            kept.append((display, data))
    return _load(kept, issues, None, max_file_bytes)


def _display(absolute: str, base: str) -> str:
    """Relative to the config folder with forward slashes when inside it, else absolute."""
    shown = absolute[len(base) :] if absolute.startswith(base) else absolute
    return shown.replace(os.sep, "/") if os.sep != "/" else shown


def _size_issue(display: str, size: int, limit: int) -> Issue:
    message = f"file is {size:,} bytes; the limit is {limit:,} bytes (split it into several files)"
    return Issue(Location(display), message)


def _read(absolute: str, display: str, limit: int, issues: list[Issue]) -> bytes | None:
    """The file's bytes; an oversized file is refused before it is read."""
    try:
        with open(absolute, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > limit:
                issues.append(_size_issue(display, size, limit))
                return None
            return handle.read()
    except OSError as exc:
        issues.append(Issue(Location(display), f"cannot read: {exc.strerror or exc}"))
        return None


def spec_digest(sources: Sequence[tuple[str, bytes]]) -> str:
    """``sha256:`` over the sorted (path, sha256 of content) pairs: which specs, exactly."""
    digest = hashlib.sha256()
    for display, data in sorted(sources, key=lambda s: s[0]):
        digest.update(f"{display}\0{content_key(data)}\n".encode())
    return "sha256:" + digest.hexdigest()


@cache
def loader_version() -> str:
    """Names the code that produced a cached result; any change to it misses the cache."""
    digest = hashlib.sha256(f"{pydantic.VERSION}|{ruamel.yaml.__version__}".encode())
    for relative in _VERSIONED_SOURCES:
        digest.update((_PACKAGE / relative).read_bytes())
    return digest.hexdigest()[:16]


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building tens of thousands of long-lived objects.

    Every allocation burst triggers collections that rescan everything built so far, and nothing
    built here is garbage; on a warm (cached) load this is a large part of the time. On success
    the survivors are frozen (``gc.freeze``): otherwise the first allocation after re-enabling
    runs one collection over all of them (~0.09 s for 20,000 records), and every later full
    collection would scan them again. Freezing stops only *cyclic* collection of those objects;
    the plain records built here hold no cycles, and are freed as usual when dropped.
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


def _load(
    sources: list[Source], issues: list[Issue], cache: ContentCache | None, max_bytes: int
) -> DesiredState:
    with _gc_paused():
        return _load_all(sources, issues, cache, max_bytes)


def _load_all(
    sources: list[Source], issues: list[Issue], cache: ContentCache | None, max_bytes: int
) -> DesiredState:
    sources.sort(key=lambda s: s[0].split("/"))
    keys = [content_key(data) for _display, data in sources]
    outcomes = _from_cache(cache, keys)
    todo = [i for i, outcome in enumerate(outcomes) if outcome is None]
    checked = _check_all([sources[i] for i in todo], max_bytes)
    for i, outcome in zip(todo, checked, strict=True):
        outcomes[i] = outcome
        if cache is not None and isinstance(outcome, FileResult):
            cache.put(keys[i], result_to_json(outcome))
    if cache is not None:
        cache.save()
    valid: list[tuple[str, FileResult]] = []
    for (display, _data), final in zip(sources, outcomes, strict=True):
        if isinstance(final, FileResult):
            valid.append((display, final))
        elif final is not None:
            issues.extend(final)
    merged = merge_results(valid, _locator(sources))
    issues.extend(merged.issues)
    if issues:
        raise SpecError(issues)
    return DesiredState(
        conversations=merged.conversations,
        catalog=merged.catalog,
        spec_digest=spec_digest(sources),
        files=tuple(display for display, _data in sources),
    )


def _locator(sources: list[Source]) -> KeyLocator:
    """Finds a record's key in its file again, only when a cross-file error needs the place."""
    by_file = dict(sources)

    def locate(file: str, decl: RecordDecl, key: str) -> Location:
        return key_location(file, by_file[file], decl, key)

    return locate


def _from_cache(cache: ContentCache | None, keys: list[str]) -> list[Outcome | None]:
    """Cached results where present and sound; None marks a file to check."""
    outcomes: list[Outcome | None] = [None] * len(keys)
    if cache is None:
        return outcomes
    found = cache.get_many(keys)
    hits = [(i, stored) for i, stored in enumerate(found) if stored is not None]
    results: list[FileResult | None]
    try:
        results = list(results_from_json([stored for _i, stored in hits]))
    except ValueError:
        results = [_one_from_json(stored) for _i, stored in hits]  # find the damaged ones
    for (i, _stored), result in zip(hits, results, strict=True):
        outcomes[i] = result
    return outcomes


def _one_from_json(stored: object) -> FileResult | None:
    try:
        return results_from_json([stored])[0]
    except ValueError:
        return None  # damaged or from an incompatible writer: parse the file again


def _check_one(source: Source, max_bytes: int) -> Outcome:
    display, data = source
    try:
        return check_file(display, data, max_bytes=max_bytes)
    except SpecError as exc:
        return exc.issues


def _check_batch(batch: list[Source], max_bytes: int) -> list[Outcome]:
    return [_check_one(source, max_bytes) for source in batch]


def _check_all(sources: list[Source], max_bytes: int) -> list[Outcome]:
    """Check files, over several processes when there is enough work to pay for them."""
    workers = _worker_count()
    total = sum(len(data) for _display, data in sources)
    context = _fork_context()
    if workers < 2 or total < PARALLEL_MIN_BYTES or context is None:
        return _check_batch(sources, max_bytes)
    size = max(1, len(sources) // (workers * _BATCHES_PER_WORKER) + 1)
    batches = [sources[i : i + size] for i in range(0, len(sources), size)]
    try:
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            results = pool.map(_check_batch, batches, [max_bytes] * len(batches))
            return [outcome for batch in results for outcome in batch]
    except (OSError, BrokenProcessPool):
        # No processes available (sandbox, limits): the same work, serially.
        return _check_batch(sources, max_bytes)


def _worker_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _fork_context() -> multiprocessing.context.BaseContext | None:
    """The fork start method when it is safe here, else None (check serially).

    Only fork is used: spawn and forkserver re-import the caller's main module in every worker,
    which breaks library callers without a ``__main__`` guard and costs a second of imports.
    Forking while other threads run can deadlock the child, so then the work stays in-process.
    """
    if sys.platform != "linux" or threading.active_count() != 1:
        return None
    return multiprocessing.get_context("fork")
