"""The fingerprint's fast row is canonical_json(compared_remote(record)), byte for byte.

Saved plans and the golden files carry fingerprints, and apply compares them with a fresh read:
a fast path that wrote one byte differently would make every saved plan stale.
"""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.model import RemoteRecord, canonical_json, compared_remote
from reconciler.plan.fingerprint import _fingerprint_row, fingerprint

_TEXT = st.none() | st.text(st.characters(codec=None), max_size=12)
_SCORE = st.none() | st.integers(-(10**20), 10**20).map(float) | st.floats() | st.integers(0, 100)


def _record(**fields: object) -> RemoteRecord:
    base: dict[str, object] = dict(
        id="r1",
        organization_id="o",
        conversation_id="c",
        agent_id="a",
        label="Empathy",
        source="api",
        created_at="t",
        updated_at="t",
    )
    return RemoteRecord.model_construct(**{**base, **fields})


@settings(max_examples=300, deadline=None)
@given(
    label=st.text(st.characters(codec=None), min_size=1, max_size=12),
    external_id=_TEXT,
    note=_TEXT,
    metric_id=_TEXT,
    verdict=st.sampled_from([None, "pass", "fail"]),
    score=_SCORE,
)
def test_fast_row_is_the_canonical_json(
    *,
    label: str,
    external_id: str | None,
    note: str | None,
    metric_id: str | None,
    verdict: str | None,
    score: float | None,
) -> None:
    record = _record(
        label=label,
        external_id=external_id,
        note=note,
        metric_id=metric_id,
        verdict=verdict,
        score=score,
    )
    assert _fingerprint_row(record) == canonical_json(compared_remote(record))


def test_fingerprint_hashes_the_sorted_rows() -> None:
    """Sorted rows of canonical JSON, hashed: the value saved plans carry."""
    a = _record(label="A", external_id="qa-1", score=85.0, verdict="pass", note='é\n"x"')
    b = _record(label="B", external_id=None, score=None, metric_id="ABC-DEF")
    assert fingerprint([a, b]) == fingerprint([b, a])
    rows = sorted(canonical_json(compared_remote(r)) for r in (a, b))
    assert fingerprint([a, b]) == "sha256:" + hashlib.sha256("\n".join(rows).encode()).hexdigest()
