"""A conversation's fingerprint: which remote records a plan was decided against.

A saved plan carries each conversation's fingerprint; apply reads the conversation again and
refuses to write when the fingerprint differs (the remote side changed since the review). So
planner and applier must compute it identically, here.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from json.encoder import encode_basestring

from reconciler.model import (
    RemoteRecord,
    canonical_json,
    compared_remote,
    normalise_score,
    normalise_uuid,
)

__all__ = ["fingerprint"]


def fingerprint(records: Iterable[RemoteRecord]) -> str:
    """sha256 of a conversation's remote records' compared fields, independent of order."""
    rows = sorted(_fingerprint_row(r) for r in records)
    return "sha256:" + hashlib.sha256("\n".join(rows).encode()).hexdigest()


#: ``canonical_json(compared_remote(r))`` for the usual values: the keys in sorted order.
_ROW = '{"externalId":%s,"label":%s,"metricId":%s,"note":%s,"score":%s,"verdict":%s}'


def _fingerprint_row(record: RemoteRecord) -> str:
    """``canonical_json(compared_remote(record))``, byte for byte, four times faster.

    Every plan fingerprints every record it reads (a third of a no-op plan's CPU went to
    ``json.dumps`` with ``sort_keys``). Strings use json's own C encoder; a score that is not
    finite takes the general path (json writes NaN and Infinity its own way).
    """
    score = normalise_score(record.score)
    if score is None:
        number = "null"
    elif type(score) is int:
        number = int.__repr__(score)
    elif math.isfinite(score):
        number = float.__repr__(score)
    else:
        return canonical_json(compared_remote(record))
    return _ROW % (
        _text(record.external_id),
        _text(record.label),
        _text(normalise_uuid(record.metric_id)),
        _text(record.note),
        number,
        _text(record.verdict),
    )


def _text(value: str | None) -> str:
    return "null" if value is None else encode_basestring(value)
