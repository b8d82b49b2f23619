"""The whole merged load, cached, for the common re-run in which no spec file changed.

Rebuilding 20,000 per-file records from the content-hash cache and merging them again costs more
than validating the merged catalog and records in one native pydantic pass, so a successful load
is also stored whole, keyed by its spec digest (every file's path and content key) inside the
loader-version namespace. Only the latest load is kept: it is as large as the specs.

The store is a :class:`~reconciler.spec.cache.ContentCache`, so the snapshot is authenticated with
the user's secret like every other cache line (a committed or forged one is a miss), and what it
holds is validated again through the models on the way in.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import TypeAdapter

from reconciler.model import CatalogEntry, DeclaredRecord
from reconciler.spec.cache import ContentCache

__all__ = ["SNAPSHOT_FAMILY", "Snapshots"]

SNAPSHOT_FAMILY = "specstate"

Catalog = dict[str, CatalogEntry]
Conversations = dict[str, tuple[DeclaredRecord, ...]]


# [catalog, conversations], validated in one native pass from the stored JSON text: faster
# than json.loads and then validate_python.
_STORED = TypeAdapter(tuple[Catalog, Conversations])
_CATALOG = TypeAdapter(Catalog)
_CONVERSATIONS = TypeAdapter(Conversations)


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
            found: tuple[Catalog, Conversations] = _STORED.validate_json(stored)
        except ValueError:
            return None  # damaged or from an incompatible writer: load the usual way
        return found

    def put(self, digest: str, catalog: Catalog, conversations: Conversations) -> None:
        """Store a successful load (replacing the previous one)."""
        payload = b"[%b,%b]" % (
            _CATALOG.dump_json(catalog, exclude_unset=True),
            _CONVERSATIONS.dump_json(conversations, exclude_unset=True),
        )
        self._store.put_json(digest, payload.decode())
        self._store.save()
