"""Stable shards: N jobs of a CI matrix, or of a Kubernetes Indexed Job, split the conversations.

Shards hash the conversation id with sha256, never Python's ``hash`` (salted per process), so
every job, on any machine and any Python, agrees on who owns what: no overlap, nothing missed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from reconciler.errors import ReconcilerError
from reconciler.model import DesiredState

__all__ = [
    "MAX_SHARDS",
    "Shard",
    "exactly",
    "parse_shard",
    "restrict",
    "select_shard",
    "shard_of",
]

MAX_SHARDS = 1024
_SHARD_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True, order=True)
class Shard:
    """Shard ``index`` of ``count``, 1-based as people say it ("shard 2 of 4")."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """``I/N`` with 1 ≤ I ≤ N ≤ 1024; anything else is an error that shows the allowed form."""
    match = _SHARD_RE.match(text)
    if match is None:
        raise ReconcilerError(
            f"--shard '{text}' is not of the form I/N (e.g. 2/4 = the second of four shards)"
        )
    index, count = int(match.group(1)), int(match.group(2))
    if not 1 <= count <= MAX_SHARDS:
        raise ReconcilerError(f"--shard {text}: N must be from 1 to {MAX_SHARDS}")
    if not 1 <= index <= count:
        raise ReconcilerError(
            f"--shard {text}: I must be from 1 to {count} (for a Kubernetes Indexed Job "
            "use $((JOB_COMPLETION_INDEX + 1)))"
        )
    return Shard(index, count)


def shard_of(conversation_id: str, count: int) -> int:
    """The 1-based shard that owns a conversation: sha256 of its lower-case id, modulo N."""
    if count < 1:
        raise ValueError("shard count must be at least 1")
    digest = hashlib.sha256(conversation_id.strip().lower().encode()).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def select_shard(ids: Iterable[str], index: int, count: int) -> list[str]:
    """The ids shard ``index`` of ``count`` owns, sorted; shards 1..N partition ``ids``."""
    return sorted(i for i in ids if shard_of(i, count) == index)


def exactly(desired: DesiredState, ids: Iterable[str]) -> DesiredState:
    """The desired state of exactly these conversations.

    One the specs no longer name is planned with no records, so that its remote records are
    read and shown as left behind in Zelto rather than silently skipped.
    """
    keep = set(ids)
    conversations = {i: desired.conversations.get(i, ()) for i in sorted(keep)}
    return replace(desired, conversations=conversations)


def restrict(desired: DesiredState, ids: Iterable[str]) -> DesiredState:
    """The desired state of only these conversations (the catalog and digest stay whole)."""
    keep = set(ids)
    conversations = {k: v for k, v in desired.conversations.items() if k in keep}
    return replace(desired, conversations=conversations)
