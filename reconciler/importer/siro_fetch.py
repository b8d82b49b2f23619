"""Which recordings have values in the window, in few requests: probe batches, split only hits.

Siro answers one aggregate over all the ids of a request, with ``recordingsEvaluatedCount`` (Siro
registry: ``aggregate``). So a batch whose count is 0 has nothing in the window, and one request
settles it; a batch with a count is split in halves, and since counts add up (``count_additive``)
only one half is asked for: the other's count is the difference. A recording's own values are the
answer to a request for it alone. The cost grows with the recordings in the window (about
``log2(batch)`` requests each), not with the mapping: measured in ``bench/bench_siro_import.py``.

What an unknown recording answers is an assumption too (``unknown_recording``). Under "404", a
batch answering 404 is split until the unknown ids are found, each an error. Under "empty" (200
with count 0), a typo would look like an empty window; so the recordings without values in the
window are asked for again over all time up to the window's end, and one Siro never evaluated is
an error, not a warning. Either way a typo in the recordings file fails the import.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from reconciler.contract.siro import UNKNOWN_RECORDING, UnknownRecording
from reconciler.errors import ApiError, AuthError
from reconciler.remote.siro import Aggregate, MetricValue, SiroClient, SiroQuery

__all__ = [
    "EPOCH",
    "MAX_BATCH_QUERY_CHARS",
    "NeverEvaluated",
    "Outcome",
    "RecordingValues",
    "batches",
    "fetch_values",
]

#: The start of "all time" for the typo check under ``unknown_recording: empty``.
EPOCH = "1970-01-01T00:00:00.000Z"
#: Recording ids per request are also bounded by their length on the URL (servers refuse URLs
#: beyond about 8 KB).
MAX_BATCH_QUERY_CHARS = 6000


@dataclass(frozen=True)
class RecordingValues:
    """One recording's values in the window; ``count`` 0 means none in the window."""

    recording_id: str
    count: int
    metric_values: tuple[MetricValue, ...] = ()


@dataclass(frozen=True)
class NeverEvaluated:
    """Siro answered, but has no evaluation of the recording at any time up to the window's end:
    under ``unknown_recording: empty`` that is how a typo in the recordings mapping shows."""

    recording_id: str


Outcome = RecordingValues | NeverEvaluated | ApiError


def batches(ids: Sequence[str], size: int) -> list[tuple[str, ...]]:
    """Consecutive batches of at most ``size`` ids and :data:`MAX_BATCH_QUERY_CHARS` of query."""
    out: list[tuple[str, ...]] = []
    current: list[str] = []
    chars = 0
    for rid in ids:
        cost = len("&filterByIds=") + len(rid) * 3  # worst case: every character %-encoded
        if current and (len(current) >= size or chars + cost > MAX_BATCH_QUERY_CHARS):
            out.append(tuple(current))
            current, chars = [], 0
        current.append(rid)
        chars += cost
    if current:
        out.append(tuple(current))
    return out


def _halves(ids: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    middle = len(ids) // 2
    return ids[:middle], ids[middle:]


@dataclass
class _Search:
    """One run of the search: the client, the query, and what each recording came to."""

    client: SiroClient
    query: SiroQuery
    unknown: UnknownRecording
    results: dict[str, Outcome] = field(default_factory=dict)
    refused: list[AuthError] = field(default_factory=list)

    async def ask(self, ids: tuple[str, ...], query: SiroQuery | None = None) -> Aggregate | None:
        """The aggregate over ``ids``, or None when the answer was settled otherwise (a 404
        split further, an error recorded for every id)."""
        if self.refused:
            raise self.refused[0]
        try:
            return await self.client.values(query or self.query, ids)
        except AuthError as exc:
            self.refused.append(exc)
            raise
        except ApiError as exc:
            if exc.status == 404 and self.unknown == "404" and len(ids) > 1:
                left, right = _halves(ids)
                await asyncio.gather(self.visit(left, None), self.visit(right, None))
                return None
            for rid in ids:
                self.results[rid] = exc
            return None

    async def visit(self, ids: tuple[str, ...], count: int | None) -> None:
        """Settle every id of ``ids``, whose count in the window is ``count`` (None: unknown)."""
        if count == 0:
            for rid in ids:
                self.results[rid] = RecordingValues(rid, 0)
            return
        if len(ids) > 1 and (len(ids) == count or (count is None and len(ids) <= 2)):
            # Every one has values, or probing cannot save a request: read each alone.
            await asyncio.gather(*(self.visit((rid,), None) for rid in ids))
            return
        if count is None or len(ids) == 1:
            answer = await self.ask(ids)
            if answer is not None:
                await self.settle(ids, answer)
            return
        left, right = _halves(ids)
        left_answer = await self.ask(left)
        if left_answer is None:  # settled by a 404 split: the right half's count is unknown
            await self.visit(right, None)
            return
        if left_answer.recordings_evaluated_count > count:
            self.not_additive(ids, left_answer.recordings_evaluated_count, count)
            return
        rest = count - left_answer.recordings_evaluated_count
        await asyncio.gather(self.settle(left, left_answer), self.visit(right, rest))

    async def settle(self, ids: tuple[str, ...], answer: Aggregate) -> None:
        """Use an answer already held for ``ids``: a recording's own values, or split on."""
        count = answer.recordings_evaluated_count
        if len(ids) > 1:
            await self.visit(ids, count)
        elif count > 1:
            self.not_additive(ids, count, 1)
        else:
            self.results[ids[0]] = RecordingValues(ids[0], count, answer.metric_values)

    def not_additive(self, ids: tuple[str, ...], part: int, whole: int) -> None:
        """Counts that do not add up break ``count_additive``: say so, never guess."""
        error = ApiError(
            f"Siro counted {part} recordings in a part of a batch whose whole count is {whole}: "
            "the assumption that counts add up (count_additive, docs/contract.md) does not hold",
            request="GET scorecard-metrics/values",
        )
        for rid in ids:
            self.results[rid] = error


async def _never_evaluated(search: _Search, ids: tuple[str, ...], count: int | None) -> list[str]:
    """Of ``ids``, those Siro has no evaluation of at any time up to the window's end."""
    if count is None:
        lifetime = SiroQuery(
            search.query.organization_id, search.query.conversation_type_id, EPOCH, search.query.end
        )
        answer = await search.client.values(lifetime, ids)
        count = answer.recordings_evaluated_count
    if count >= len(ids):
        return []
    if count == 0:
        return list(ids)
    left, right = _halves(ids)
    found_left = await _never_evaluated(search, left, None)
    right_count = count - (len(left) - len(found_left))
    return found_left + await _never_evaluated(search, right, right_count)


async def fetch_values(
    client: SiroClient,
    query: SiroQuery,
    recording_ids: Sequence[str],
    *,
    batch_size: int,
    unknown: UnknownRecording = UNKNOWN_RECORDING,
) -> dict[str, Outcome]:
    """Every recording's values in the window (count 0 when none), or why not.

    A per-recording failure is returned; a 401 stops the run, since no other request can succeed
    with the same token.
    """
    search = _Search(client, query, unknown)
    groups = batches(list(dict.fromkeys(recording_ids)), batch_size)
    await asyncio.gather(*(search.visit(group, None) for group in groups))
    if unknown == "empty":
        await _check_typos(search, batch_size)
    return {rid: search.results[rid] for rid in recording_ids}


async def _check_typos(search: _Search, batch_size: int) -> None:
    empty = [
        rid
        for rid, outcome in search.results.items()
        if isinstance(outcome, RecordingValues) and outcome.count == 0
    ]
    for group in batches(empty, batch_size):
        try:
            never = await _never_evaluated(search, group, None)
        except AuthError:
            raise
        except ApiError as exc:
            for rid in group:
                search.results[rid] = exc
            continue
        for rid in never:
            search.results[rid] = NeverEvaluated(rid)
