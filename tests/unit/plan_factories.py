"""Small builders for planner tests: declared records, remote records, desired and current state.

Shared by the example tests and the property tests so both speak about records the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from reconciler.errors import Location
from reconciler.model import CatalogEntry, DeclaredRecord, DesiredState, MetricRecord, RemoteRecord
from reconciler.plan.planner import ConversationState, CurrentState

CID = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
CID2 = "7d1f0b7e-2a55-4c7e-9f11-0c0ffee00002"
AGENT = "aaaaaaaa-0000-4000-8000-000000000001"
OTHER_AGENT = "aaaaaaaa-0000-4000-8000-000000000002"
ORG = "0f0f0f0f-0000-4000-8000-000000000000"
METRIC = "0b6a1c1e-5f7d-4c1a-9b1e-2f4d8c9e7a10"


def declared(
    external_id: str, label: str, *, cid: str = CID, line: int = 1, **fields: Any
) -> DeclaredRecord:
    """A declared record; ``verdict`` defaults to pass so the record is valid."""
    values: dict[str, Any] = {"externalId": external_id, "label": label}
    values.update(fields)
    if "verdict" not in values and "score" not in values:
        values["verdict"] = "pass"
    return DeclaredRecord.of(
        conversation_id=cid,
        record=MetricRecord.model_validate(values),
        location=Location("specs/a.yaml", line, 7),
    )


def remote(
    external_id: str | None,
    label: str,
    *,
    cid: str = CID,
    rid: str | None = None,
    agent: str = AGENT,
    **fields: Any,
) -> RemoteRecord:
    """A remote record as the API returns it; ``verdict`` defaults to pass like ``declared``."""
    values: dict[str, Any] = {
        "id": rid or f"r-{label}-{external_id}",
        "organizationId": ORG,
        "conversationId": cid,
        "agentId": agent,
        "label": label,
        "source": "api",
        "createdAt": "2026-01-01T00:00:00Z",
        "updatedAt": "2026-01-01T00:00:00Z",
        "externalId": external_id,
    }
    values.update(fields)
    if "verdict" not in fields and "score" not in fields:
        values["verdict"] = "pass"
    return RemoteRecord.model_validate(values)


def desired(
    records: Iterable[DeclaredRecord], catalog: dict[str, CatalogEntry] | None = None
) -> DesiredState:
    by_conversation: dict[str, list[DeclaredRecord]] = {}
    for item in records:
        by_conversation.setdefault(item.conversation_id, []).append(item)
    return DesiredState(
        conversations={
            cid: tuple(sorted(items, key=lambda d: d.record.label))
            for cid, items in by_conversation.items()
        },
        catalog=catalog or {},
        spec_digest="sha256:specs",
    )


def current(
    records: Iterable[RemoteRecord] = (),
    *,
    errors: dict[str, str] | None = None,
    agents: dict[str, str] | None = None,
    conversations: Iterable[str] = (CID,),
) -> CurrentState:
    grouped: dict[str, list[RemoteRecord]] = {cid: [] for cid in conversations}
    for record in records:
        grouped.setdefault(record.conversation_id, []).append(record)
    states = {
        cid: ConversationState(records=tuple(items), agent_id=(agents or {}).get(cid))
        for cid, items in grouped.items()
    }
    for cid, message in (errors or {}).items():
        states[cid] = ConversationState(error=message)
    return CurrentState(conversations=states)
