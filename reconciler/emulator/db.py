"""The emulator's SQLite connection: stdlib sqlite3, in memory (tests) or a file (kept across runs).

One connection guarded by one lock: the ASGI app runs handlers on the event loop thread while
tests insert rows from the test thread, and SQLite work per request is microseconds, so a lock is
simpler and faster than a pool.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from reconciler.emulator.errors import EmulatorError

__all__ = ["Database"]


class Database:
    """One SQLite connection behind one lock; subclasses add the tables' methods."""

    def __init__(self, db_path: str | Path | None = None, schema: str = "") -> None:
        target = ":memory:" if db_path is None else str(db_path)
        if db_path is not None:
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL" if db_path else "PRAGMA journal_mode=MEMORY")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(schema)
        except sqlite3.Error as exc:
            raise EmulatorError(f"cannot open emulator state {target!r}: {exc}") from exc
        self._lock = threading.Lock()

    def into_memory(self) -> None:
        """Go on from a copy of this database in memory (SQLite's backup API); later writes stay
        there. For bench/_fast_server.py: on a file, each statement's locks on the WAL cost
        about as much CPU as the statement (an upsert 90 us on the file, 38 us in memory), and
        that server exists to spend as little CPU per request as it can."""
        with self._lock:
            memory = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
            self._db.backup(memory)
            memory.execute("PRAGMA journal_mode=MEMORY")
            memory.execute("PRAGMA synchronous=NORMAL")
            self._db.close()
            self._db = memory

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _one(self, sql: str, args: Sequence[Any]) -> Any:
        with self._lock:
            return self._db.execute(sql, args).fetchone()
