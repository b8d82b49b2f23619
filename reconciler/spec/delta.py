"""How two desired states differ, per conversation: pure, so the offline preview can use it.

A record that moved between files or lines is not a change (locations are not compared); a catalog
edit changes every conversation that uses the label. ``spec.history`` asks git for the states to
compare; this module only compares them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.errors import Location
from reconciler.model import CatalogEntry, DeclaredRecord, DesiredState, canonical_json

__all__ = ["RemovedRecord", "differing_conversations", "removed_records"]


@dataclass(frozen=True, order=True)
class RemovedRecord:
    """A record declared at REF that the working tree no longer declares.

    Zelto has no DELETE, so it stays there: the plan lists it so that someone clears it in the app.
    """

    conversation_id: str
    external_id: str
    label: str
    location: Location


def removed_records(before: DesiredState, after: DesiredState) -> tuple[RemovedRecord, ...]:
    """Records (conversation, externalId) declared before and not any more, sorted."""
    removed: list[RemovedRecord] = []
    for conversation_id, records in before.conversations.items():
        still = {r.external_id for r in after.conversations.get(conversation_id, ())}
        removed.extend(
            RemovedRecord(conversation_id, r.external_id, r.label, r.location)
            for r in records
            if r.external_id not in still
        )
    return tuple(sorted(removed))


def differing_conversations(before: DesiredState, after: DesiredState) -> set[str]:
    ids = set(before.conversations) | set(after.conversations)
    return {i for i in ids if _signature(before, i) != _signature(after, i)}


def _signature(state: DesiredState, conversation_id: str) -> tuple[str, ...]:
    """What a conversation's plan depends on: its records and their labels' catalog entries."""
    records = state.conversations.get(conversation_id, ())
    return tuple(sorted(_record_key(r, state.catalog) for r in records))


def _record_key(declared: DeclaredRecord, catalog: Mapping[str, CatalogEntry]) -> str:
    entry = catalog.get(declared.label)
    return canonical_json(
        [
            declared.fields(),
            entry.model_dump(mode="json", by_alias=True) if entry is not None else None,
        ]
    )


# --- git -----------------------------------------------------------------------------------------
