"""A git-style stat index, so an unchanged re-run need not read and hash every spec file.

For each file it remembers ``(size, mtime_ns, ctime_ns, inode)`` and the sha256 content key of
the bytes read with that stat. When a later run finds the same stat it takes the key from here
and reads nothing; the key then goes through the content-hash cache like any other.

It lives in the cache folder and is one :class:`~reconciler.spec.cache.ContentCache` entry, so it is
authenticated with the user's secret exactly like the cached results: a forged, damaged or
committed index is a miss, and then every file is read. Without that, a pull request could
commit an index mapping a file's (predictable) stat to the key of other, reviewed content.

*Racily clean* files: a file changed right after it was read, within the same timestamp tick
and without a size change, keeps its stat. Like git, an entry is therefore trusted only when the
file's mtime and ctime are older, by :data:`RACY_MARGIN_NS`, than the moment the run that
recorded it *started* (before it looked at any file); any change after that read gets a later
timestamp. Such a file is read again until a run starts comfortably after its last change.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from reconciler.spec.cache import ContentCache

__all__ = ["INDEX_FAMILY", "MAX_FILES", "RACY_MARGIN_NS", "StatIndex", "file_stat"]

INDEX_FAMILY = "specindex"
#: Covers coarse file timestamps (FAT 2 s, HFS+ 1 s, ext3 1 s) and a little clock drift.
RACY_MARGIN_NS = 2_000_000_000
#: Entries kept in all; beyond it, only the files of the latest run.
MAX_FILES = 100_000
_KEY = "stat-index"

Stat = tuple[int, int, int, int]


def file_stat(result: os.stat_result) -> Stat:
    """What identifies one version of a file: size, mtime, ctime, inode (the device is implied
    by the absolute path)."""
    return (result.st_size, result.st_mtime_ns, result.st_ctime_ns, result.st_ino)


class StatIndex:
    """Absolute path -> content key, trusted only when the stat matches and is not racy.

    ``started_ns`` is the wall-clock time (``time.time_ns()``) taken before this run looked at
    any file; entries recorded now are stamped with it.
    """

    def __init__(self, directory: Path, version: str, started_ns: int) -> None:
        self._store = ContentCache(directory, INDEX_FAMILY, version, max_entries=0)
        self._started_ns = started_ns
        self._old: dict[str, list[Any]] = _entries(self._store.get(_KEY))
        self._new: dict[str, list[Any]] = {}
        self._changed = False

    def lookup(self, absolute: str, stat: Stat) -> str | None:
        """The content key recorded for exactly this version of the file, else None."""
        entry = self._old.get(absolute)
        if not isinstance(entry, list) or len(entry) != 6:
            return None
        size, mtime, ctime, inode, seen, key = entry
        if (size, mtime, ctime, inode) != stat or not isinstance(key, str):
            return None
        if type(seen) is not int or max(mtime, ctime) >= seen - RACY_MARGIN_NS:
            return None  # racily clean: it may have changed within its timestamp tick
        self._new[absolute] = entry
        return key

    def record(self, absolute: str, stat: Stat, key: str) -> None:
        """Remember the key of the bytes just read with ``stat`` (taken before reading)."""
        self._new[absolute] = [*stat, self._started_ns, key]
        self._changed = True

    def save(self) -> None:
        """Write the index when this run recorded something.

        Entries of files this run did not look at stay (a run over one folder must not make the
        next full run read everything), up to :data:`MAX_FILES`; a stale entry is harmless, since
        a file is only ever matched by its own path and full stat.
        """
        if not self._changed:
            return
        files = {path: e for path, e in self._old.items() if path not in self._new}
        if len(files) + len(self._new) > MAX_FILES:
            files = {}
        files.update(self._new)
        self._store.put(_KEY, {"v": 1, "files": files})
        self._store.save()


def _entries(stored: Any) -> dict[str, list[Any]]:
    """The entries of a sound stored index (each is checked when looked up); else empty."""
    if not isinstance(stored, dict) or stored.get("v") != 1:
        return {}
    files = stored.get("files")
    return files if isinstance(files, dict) else {}
