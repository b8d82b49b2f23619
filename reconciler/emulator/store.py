"""The emulator's Zelto state (organizations, agents, conversations, customer metrics).

Methods return plain dicts already in the API's JSON shape, so handlers only serialise them.
The connection and its lock live in db.py; Siro's tables in siro_store.py.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler.emulator.contract import (
    AUTO_AGENT_ID,
    AUTO_AGENT_NAME,
    DEFAULT_ORGANIZATION_ID,
    SOURCE_API,
    WEBHOOK_CONVERSATION_NAMESPACE,
)
from reconciler.emulator.errors import EmulatorError
from reconciler.emulator.siro_store import SIRO_SCHEMA, SiroTables

__all__ = ["Organization", "Store", "utc_now"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS organizations (
    id TEXT PRIMARY KEY, api_key TEXT NOT NULL UNIQUE, metrics_enabled INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS agents (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, organization_id TEXT NOT NULL,
    name TEXT NOT NULL, description TEXT, external_id TEXT, provider TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS agent_metrics (
    agent_id TEXT NOT NULL, metric_id TEXT NOT NULL, PRIMARY KEY (agent_id, metric_id));
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY, organization_id TEXT NOT NULL, agent_id TEXT NOT NULL, name TEXT NOT NULL,
    source TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, receiver_id TEXT,
    reference_id TEXT, ended_reason TEXT, cost TEXT);
CREATE TABLE IF NOT EXISTS customer_metrics (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, organization_id TEXT NOT NULL,
    conversation_id TEXT NOT NULL, agent_id TEXT NOT NULL, label TEXT NOT NULL,
    source TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, metric_id TEXT,
    external_id TEXT, verdict TEXT, score, note TEXT, UNIQUE (conversation_id, label));
"""

_METRIC_COLUMNS = (
    "id, organization_id, conversation_id, agent_id, label, source, created_at, updated_at, "
    "metric_id, external_id, verdict, score, note"
)
_CONVERSATION_COLUMNS = (
    "id, agent_id, name, source, created_at, updated_at, receiver_id, reference_id, "
    "ended_reason, cost"
)
_AGENT_COLUMNS = "seq, id, name, description, external_id, provider, created_at, updated_at"
_METRIC_KEYS = (
    *("id", "organizationId", "conversationId", "agentId", "label", "source", "createdAt"),
    *("updatedAt", "metricId", "externalId", "verdict", "score", "note"),
)
_CONVERSATION_KEYS = (
    *("id", "agentId", "name", "source", "createdAt", "updatedAt", "receiverId"),
    *("referenceId", "endedReason", "cost"),
)
_AGENT_KEYS = ("id", "name", "description", "externalId", "provider", "createdAt", "updatedAt")
# Request-body field → column, for the fields a full replace rewrites.
_WRITABLE = {
    "metricId": "metric_id",
    "externalId": "external_id",
    "verdict": "verdict",
    "score": "score",
    "note": "note",
}

#: How many accepted POST bodies :meth:`Store.accepted_writes` remembers.
_HISTORY_MAX = 200_000


def utc_now() -> str:
    """ISO 8601 UTC with milliseconds and a Z, the form JSON APIs commonly send."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Organization:
    """What an API key resolves to."""

    id: str
    metrics_enabled: bool


def _metric_dict(row: Sequence[Any]) -> dict[str, Any]:
    keys = _METRIC_KEYS
    return dict(zip(keys, row, strict=True))


def _conversation_dict(row: Sequence[Any]) -> dict[str, Any]:
    keys = _CONVERSATION_KEYS
    return dict(zip(keys, row, strict=True))


def _agent_dict(row: Sequence[Any]) -> dict[str, Any]:
    keys = _AGENT_KEYS
    return dict(zip(keys, row[1:], strict=True))


class Store(SiroTables):
    """All emulator state. Thread-safe; every public method is one short transaction."""

    def __init__(self, db_path: str | Path | None = None) -> None:
        super().__init__(db_path, _SCHEMA + SIRO_SCHEMA)
        # Every body the API accepted, per (conversation, label), in order: lets tests prove
        # that retries never wrote one record twice with different values. Bounded, so a
        # long-running `emulator serve` does not grow without limit.
        self._accepted: deque[tuple[str, str, dict[str, Any]]] = deque(maxlen=_HISTORY_MAX)

    # --- organizations ---------------------------------------------------------------------
    def add_organization(
        self, id: str | None = None, api_key: str | None = None, metrics_enabled: bool = True
    ) -> str:
        """Create or update an organization; its key resolves to it. Returns its id."""
        org_id = (id or str(uuid.uuid4())).lower()
        key = api_key or f"emulator-key-{org_id}"
        with self._tx() as db:
            db.execute("DELETE FROM organizations WHERE api_key = ? AND id != ?", (key, org_id))
            db.execute(
                "INSERT INTO organizations VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                "api_key = excluded.api_key, metrics_enabled = excluded.metrics_enabled",
                (org_id, key, int(metrics_enabled)),
            )
        return org_id

    def ensure_organization(self, id: str, api_key: str) -> None:
        """The run's key resolves to this organization; an existing one keeps its switches."""
        with self._tx() as db:
            db.execute("DELETE FROM organizations WHERE api_key = ? AND id != ?", (api_key, id))
            db.execute(
                "INSERT INTO organizations VALUES (?, ?, 1) ON CONFLICT (id) DO UPDATE SET "
                "api_key = excluded.api_key",
                (id, api_key),
            )

    def set_metrics_enabled(self, organization_id: str, enabled: bool) -> None:
        with self._tx() as db:
            cursor = db.execute(
                "UPDATE organizations SET metrics_enabled = ? WHERE id = ?",
                (int(enabled), organization_id.lower()),
            )
            if cursor.rowcount == 0:
                raise EmulatorError(f"unknown organization {organization_id!r}")

    def organization_for_key(self, api_key: str) -> Organization | None:
        row = self._one(
            "SELECT id, metrics_enabled FROM organizations WHERE api_key = ?", (api_key,)
        )
        return Organization(row[0], bool(row[1])) if row else None

    # --- agents ----------------------------------------------------------------------------
    def add_agent(
        self,
        id: str | None = None,
        *,
        organization_id: str = DEFAULT_ORGANIZATION_ID,
        name: str = "Agent",
        description: str | None = None,
        external_id: str | None = None,
        provider: str = "zelto",
        metric_ids: Sequence[str] = (),
    ) -> str:
        """Create an agent (or replace its fields and metric list). Returns its id."""
        agent_id = (id or str(uuid.uuid4())).lower()
        now = utc_now()
        with self._tx() as db:
            db.execute(
                "INSERT INTO agents (id, organization_id, name, description, external_id, "
                "provider, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET name = excluded.name, description = "
                "excluded.description, external_id = excluded.external_id, provider = "
                "excluded.provider, updated_at = excluded.updated_at",
                (
                    agent_id,
                    organization_id.lower(),
                    name,
                    description,
                    external_id,
                    provider,
                    now,
                    now,
                ),
            )
            db.execute("DELETE FROM agent_metrics WHERE agent_id = ?", (agent_id,))
            db.executemany(
                "INSERT OR IGNORE INTO agent_metrics VALUES (?, ?)",
                [(agent_id, m.lower()) for m in metric_ids],
            )
        return agent_id

    def agent_metric_ids(self, agent_id: str) -> set[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT metric_id FROM agent_metrics WHERE agent_id = ?", (agent_id,)
            ).fetchall()
        return {r[0] for r in rows}

    def agent_exists(self, organization_id: str, agent_id: str) -> bool:
        row = self._one(
            "SELECT 1 FROM agents WHERE id = ? AND organization_id = ?",
            (agent_id.lower(), organization_id),
        )
        return row is not None

    def agent_by_external_id(self, organization_id: str, external_id: str) -> str | None:
        row = self._one(
            "SELECT id FROM agents WHERE organization_id = ? AND external_id = ? ORDER BY seq",
            (organization_id, external_id),
        )
        return row[0] if row else None

    def list_agents(
        self, organization_id: str, after_seq: int, limit: int
    ) -> tuple[list[dict[str, Any]], int | None]:
        """One page in creation order, and the seq to continue after (None on the last page)."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_AGENT_COLUMNS} FROM agents WHERE organization_id = ? AND seq > ? "
                "ORDER BY seq LIMIT ?",
                (organization_id, after_seq, limit + 1),
            ).fetchall()
        page = rows[:limit]
        next_seq = page[-1][0] if len(rows) > limit else None
        return [_agent_dict(r) for r in page], next_seq

    def ensure_auto_agent(self, organization_id: str) -> str:
        """The deterministic agent that auto-created conversations belong to."""
        if not self.agent_exists(organization_id, AUTO_AGENT_ID):
            self.add_agent(AUTO_AGENT_ID, organization_id=organization_id, name=AUTO_AGENT_NAME)
        return AUTO_AGENT_ID

    # --- conversations ---------------------------------------------------------------------
    def add_conversation(
        self,
        id: str | None = None,
        agent_id: str | None = None,
        *,
        organization_id: str = DEFAULT_ORGANIZATION_ID,
        name: str | None = None,
        source: str = "upload",
        receiver_id: str | None = None,
        reference_id: str | None = None,
        ended_reason: str | None = None,
        cost: str | None = None,
    ) -> str:
        """Create (or replace) a conversation; without an agent it gets the auto agent."""
        conversation_id = (id or str(uuid.uuid4())).lower()
        org = organization_id.lower()
        agent = agent_id.lower() if agent_id else self.ensure_auto_agent(org)
        if not self.agent_exists(org, agent):
            raise EmulatorError(f"unknown agent {agent_id!r} in organization {org!r}")
        now = utc_now()
        with self._tx() as db:
            db.execute(
                "INSERT INTO conversations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET agent_id = excluded.agent_id, "
                "name = excluded.name, source = excluded.source, "
                "updated_at = excluded.updated_at, receiver_id = excluded.receiver_id, "
                "reference_id = excluded.reference_id, "
                "ended_reason = excluded.ended_reason, cost = excluded.cost",
                (
                    conversation_id,
                    org,
                    agent,
                    name or f"Conversation {conversation_id[:8]}",
                    source,
                    now,
                    now,
                    receiver_id,
                    reference_id,
                    ended_reason,
                    cost,
                ),
            )
        return conversation_id

    def get_conversation(self, organization_id: str, conversation_id: str) -> dict[str, Any] | None:
        """The conversation in API shape, or None when unknown or of another organization."""
        row = self._one(
            f"SELECT {_CONVERSATION_COLUMNS} FROM conversations "
            "WHERE id = ? AND organization_id = ?",
            (conversation_id.lower(), organization_id),
        )
        return _conversation_dict(row) if row else None

    def conversation_exists(self, conversation_id: str) -> bool:
        """In any organization: auto-creation must never take over another org's id."""
        row = self._one("SELECT 1 FROM conversations WHERE id = ?", (conversation_id.lower(),))
        return row is not None

    def webhook_conversation_id(self, organization_id: str, call_external_id: str) -> str:
        """The id a webhook upload gets: stable per (organization, call.externalId)."""
        name = f"{organization_id}/{call_external_id}"
        return str(uuid.uuid5(WEBHOOK_CONVERSATION_NAMESPACE, name))

    # --- customer metrics ------------------------------------------------------------------
    def list_metrics(self, conversation_id: str) -> list[dict[str, Any]]:
        """A conversation's records in creation order (ASSUMED order, see contract.py)."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_METRIC_COLUMNS} FROM customer_metrics WHERE conversation_id = ? "
                "ORDER BY seq",
                (conversation_id.lower(),),
            ).fetchall()
        return [_metric_dict(r) for r in rows]

    def submit_metric(
        self, conversation: Mapping[str, Any], body: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Upsert on (conversation, label) with a full replace; server-owned fields kept/derived."""
        stored = self._upsert_metric(conversation["id"], body, source=SOURCE_API)
        self._accepted.append((stored["conversationId"], stored["label"], dict(body)))
        return stored

    def accepted_writes(self) -> dict[tuple[str, str], list[dict[str, Any]]]:
        """Every POST body the API accepted, per (conversation, label), oldest first (the
        last ``_HISTORY_MAX`` of them)."""
        history: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for conversation_id, label, body in list(self._accepted):
            history.setdefault((conversation_id, label), []).append(body)
        return history

    def put_metric(self, conversation_id: str, **fields: Any) -> dict[str, Any]:
        """Server-side insert for tests (e.g. records the app made, with externalId null).

        Takes API field names (label, verdict, score, note, metricId, externalId, source); no
        validation, so tests can create states the API would refuse.
        """
        if "label" not in fields:
            raise EmulatorError("put_metric needs a label")
        source = fields.pop("source", "app")
        return self._upsert_metric(conversation_id.lower(), fields, source=source)

    def _upsert_metric(
        self, conversation_id: str, body: Mapping[str, Any], *, source: str
    ) -> dict[str, Any]:
        unknown = set(body) - set(_WRITABLE) - {"label"}
        if unknown:
            raise EmulatorError(f"unknown customer-metric fields: {sorted(unknown)}")
        values = [body.get(field) for field in _WRITABLE]
        now = utc_now()
        # No explicit transaction: the lock serialises this connection, nothing deletes
        # conversations, and the upsert is one statement (RETURNING gives the stored row).
        with self._lock:
            db = self._db
            owner = db.execute(
                "SELECT organization_id, agent_id FROM conversations WHERE id = ?",
                (conversation_id,),
            ).fetchone()
            if owner is None:
                raise EmulatorError(f"unknown conversation {conversation_id!r}")
            row = db.execute(
                "INSERT INTO customer_metrics (id, organization_id, conversation_id, agent_id, "
                "label, source, created_at, updated_at, metric_id, external_id, verdict, score, "
                "note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (conversation_id, label) DO UPDATE SET agent_id = excluded.agent_id, "
                "source = excluded.source, updated_at = excluded.updated_at, metric_id = "
                "excluded.metric_id, external_id = excluded.external_id, verdict = "
                "excluded.verdict, score = excluded.score, note = excluded.note "
                f"RETURNING {_METRIC_COLUMNS}",
                (
                    str(uuid.uuid4()),
                    owner[0],
                    conversation_id,
                    owner[1],
                    body["label"],
                    source,
                    now,
                    now,
                    *values,
                ),
            ).fetchone()
        return _metric_dict(row)
