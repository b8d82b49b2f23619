"""The whole merged load, cached, for the common re-run in which no spec file changed.

Rebuilding 20,000 per-file records from the content-hash cache and merging them again costs more
than validating the merged catalog and records in one native pydantic pass, so a successful load
is also stored whole, keyed by its spec digest (every file's path and content key) inside the
loader-version namespace. Only the latest load is kept: it is as large as the specs.

The store is a :class:`~reconciler.spec.cache.ContentCache`, so the snapshot is authenticated with
the user's secret like every other cache line (a committed or forged one is a miss). What it holds
is validated again on the way in, as types (strings, numbers, ``pass``/``fail``), not as the
spec's own limits: only this code, after a full load that checked every limit, can have written
a line that authenticates. The limits pydantic checks natively (lengths in code points, the
score's range, the verdict's values) are checked, the UTF-16 count is not.

Records are stored as rows, not objects: the record's fields, then an index into the list of
file names (stored once) and the line and column. Rows are rebuilt as
:class:`~reconciler.model.DeclaredRecord` tuples with labels, verdicts and file names shared,
which is what keeps the desired state of a large estate small in memory.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, TypeAdapter

from reconciler.model import (
    EXTERNAL_ID_MAX,
    LABEL_MAX,
    NOTE_MAX,
    CatalogEntry,
    DeclaredRecord,
    shared_verdict,
)
from reconciler.spec.cache import ContentCache

__all__ = ["SNAPSHOT_FAMILY", "Snapshots"]

SNAPSHOT_FAMILY = "specstate"

Catalog = dict[str, CatalogEntry]
Conversations = dict[str, tuple[DeclaredRecord, ...]]

#: externalId, label, verdict, score, note, metricId, adopt, file index, line, column. The spec's
#: limits that pydantic checks natively are checked again (a snapshot written by this code meets
#: them); the UTF-16 count, a Python function per string, is not: see the module docstring.
_Row = tuple[
    Annotated[str, StringConstraints(min_length=1, max_length=EXTERNAL_ID_MAX)],
    Annotated[str, StringConstraints(min_length=1, max_length=LABEL_MAX)],
    Literal["pass", "fail"] | None,
    Annotated[int | float, Field(ge=0, le=100)] | None,
    Annotated[str, StringConstraints(max_length=NOTE_MAX)] | None,
    str | None,
    bool,
    int,
    int,
    int,
]
# [catalog, files, {conversation: [row, ...]}], validated in one native pass from the stored
# JSON text: faster than json.loads and then validate_python.
_STORED = TypeAdapter(tuple[Catalog, list[str], dict[str, list[_Row]]])
_CATALOG = TypeAdapter(Catalog)
#: Conversations whose rows are encoded at a time when a load is stored (see ``_payload``).
#: Small pieces also encode faster than one large text: 0.9 s against 1.2 s for 400,000 rows,
#: where 1,024 conversations a piece took 2.3 s (glibc's handling of the larger texts).
_CONVERSATIONS_PER_CHUNK = 64


class Snapshots:
    """Merged loads by spec digest."""

    def __init__(self, directory: Path, version: str) -> None:
        self._store = ContentCache(directory, SNAPSHOT_FAMILY, version, max_entries=0)

    def get(self, digest: str) -> tuple[Catalog, Conversations] | None:
        """The merged catalog and conversations of exactly these specs, else None."""
        stored = self._store.get_json(digest)
        if stored is None:
            return None
        try:
            catalog, files, rows = _STORED.validate_json(stored)
            return catalog, _rebuild(files, rows)
        except (ValueError, IndexError):
            return None  # damaged or from an incompatible writer: load the usual way

    def put(self, digest: str, catalog: Catalog, conversations: Conversations) -> None:
        """Store a successful load (replacing the previous one)."""
        self._store.put_json(digest, _payload(catalog, conversations))
        self._store.save()


def _payload(catalog: Catalog, conversations: Conversations) -> str:
    """``[catalog, files, {conversation: [row, ...]}]`` as JSON text, the rows encoded a few
    hundred at a time: all 400,000 rows of a large load as lists first, then their text and a
    copy of it with the catalog in front, came to ~120 MB beside the desired state itself."""
    files: dict[str, int] = {}
    pieces: list[str] = []
    ids = list(conversations)
    step = _CONVERSATIONS_PER_CHUNK
    for start in range(0, len(ids), step):
        rows = {cid: _rows(conversations[cid], files) for cid in ids[start : start + step]}
        pieces += [",", json.dumps(rows, ensure_ascii=False, separators=(",", ":"))[1:-1]]
    names = json.dumps(list(files), ensure_ascii=False, separators=(",", ":"))
    pieces[:1] = ["[", _CATALOG.dump_json(catalog, exclude_unset=True).decode(), ",", names, ",{"]
    pieces.append("}]")
    return "".join(pieces)


def _rows(declared: tuple[DeclaredRecord, ...], files: dict[str, int]) -> list[list[object]]:
    """Each record as a row, its file as an index into one list of file names."""
    return [[*d[1:8], files.setdefault(d.file, len(files)), d.line, d.column] for d in declared]


def _rebuild(files: list[str], rows: Mapping[str, list[_Row]]) -> Conversations:
    """DeclaredRecords from rows, with repeated strings shared (see DeclaredRecord)."""
    intern = sys.intern
    names = [intern(name) for name in files]
    return {
        cid: tuple(
            DeclaredRecord(
                cid,
                ext,
                intern(label),
                shared_verdict(verdict),
                score,
                note,
                metric,
                adopt,
                names[f],
                line,
                col,
            )
            for ext, label, verdict, score, note, metric, adopt, f, line, col in declared
        )
        for cid, declared in rows.items()
    }
