"""Siro recordings and tokens in the emulator's database."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from reconciler.emulator.db import Database
from reconciler.emulator.errors import EmulatorError

__all__ = ["SIRO_SCHEMA", "SiroTables"]

SIRO_SCHEMA = """
CREATE TABLE IF NOT EXISTS siro_recordings (
    id TEXT PRIMARY KEY, organization_id TEXT NOT NULL, conversation_type_id TEXT NOT NULL,
    started_at TEXT NOT NULL, user_id TEXT, team_id TEXT, metric_values TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS siro_tokens (token TEXT PRIMARY KEY);
"""


class SiroTables(Database):
    """Siro's side of the state: recordings with their metric values, and accepted tokens."""

    def add_siro_token(self, token: str) -> None:
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO siro_tokens VALUES (?)", (token,))

    def siro_token_known(self, token: str) -> bool:
        return self._one("SELECT 1 FROM siro_tokens WHERE token = ?", (token,)) is not None

    def add_siro_recording(
        self,
        id: str,
        *,
        organization_id: str,
        conversation_type_id: str,
        started_at: str,
        metric_values: Sequence[Mapping[str, Any]],
        user_id: str | None = None,
        team_id: str | None = None,
    ) -> str:
        """Create or replace a Siro recording with its metric values (Siro's JSON shape)."""
        try:
            aware = datetime.fromisoformat(started_at).tzinfo is not None
        except ValueError:
            aware = False
        if not aware:
            raise EmulatorError(
                f"started_at must be an ISO 8601 date-time with a timezone, got {started_at!r}"
            )
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO siro_recordings VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    id,
                    organization_id,
                    conversation_type_id,
                    started_at,
                    user_id,
                    team_id,
                    json.dumps([dict(v) for v in metric_values]),
                ),
            )
        return id

    def siro_organization_known(self, organization_id: str) -> bool:
        row = self._one(
            "SELECT 1 FROM siro_recordings WHERE organization_id = ? LIMIT 1", (organization_id,)
        )
        return row is not None

    def siro_recordings(
        self, organization_id: str, column: str, ids: Sequence[str]
    ) -> list[dict[str, Any]]:
        """Recordings of an organization whose ``column`` (id, user_id, team_id) is in ``ids``."""
        if column not in {"id", "user_id", "team_id", "organization_id"}:
            raise EmulatorError(f"cannot filter Siro recordings by {column!r}")
        marks = ",".join("?" * len(ids))
        with self._lock:
            rows = self._db.execute(
                "SELECT id, conversation_type_id, started_at, metric_values FROM siro_recordings "
                f"WHERE organization_id = ? AND {column} IN ({marks}) ORDER BY id",
                (organization_id, *ids),
            ).fetchall()
        return [
            {
                "id": r[0],
                "conversationTypeId": r[1],
                "startedAt": r[2],
                "metricValues": json.loads(r[3]),
            }
            for r in rows
        ]
