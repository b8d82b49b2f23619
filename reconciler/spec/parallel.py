"""Checking many spec files over several processes, when there is enough work to pay for them.

Per-file work depends only on the file's bytes, which is what makes it safe to hand to worker
processes; the loader decides which files need it (those the caches cannot answer). Outcomes
are handed over one by one as they are ready, so that the loader can keep each file's result
in its compact form and drop the models before the next batch arrives.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import NamedTuple

from reconciler.errors import Issue, SpecError
from reconciler.spec.document import (
    FileResult,
    check_file,
    result_json,
    results_from_json_text,
)

__all__ = ["PARALLEL_MIN_BYTES", "Checked", "Outcome", "Source", "check_all", "fork_context"]

#: Below this much uncached YAML, starting worker processes costs more than it saves.
PARALLEL_MIN_BYTES = 1024 * 1024
_BATCHES_PER_WORKER = 4

Source = tuple[str, bytes]
Outcome = FileResult | tuple[Issue, ...]


class Checked(NamedTuple):
    """One file's outcome and, for a valid result that a worker sent, its JSON text: what the
    cache stores (:func:`~reconciler.spec.document.result_json`), so it is not made twice."""

    outcome: Outcome
    text: bytes | None = None


class _Again(NamedTuple):
    """A valid result that has no JSON text (not expected): checked again in this process."""

    source: Source


#: What a worker sends back per file: a valid result's JSON text, its issues, or _Again.
_Shipped = bytes | tuple[Issue, ...] | _Again


def _check_one(source: Source, max_bytes: int) -> Outcome:
    display, data = source
    try:
        return check_file(display, data, max_bytes=max_bytes)
    except SpecError as exc:
        return exc.issues


def _check_batch(batch: list[Source], max_bytes: int) -> list[Outcome]:
    return [_check_one(source, max_bytes) for source in batch]


def _check_batch_as_json(batch: list[Source], max_bytes: int) -> list[_Shipped]:
    """A worker's answer: each valid result as its JSON text (see :func:`_results_back`)."""
    shipped: list[_Shipped] = []
    for source, outcome in zip(batch, _check_batch(batch, max_bytes), strict=True):
        if isinstance(outcome, FileResult):
            try:
                shipped.append(result_json(outcome))
            except ValueError:
                shipped.append(_Again(source))
        else:
            shipped.append(outcome)
    return shipped


def _results_back(shipped: list[_Shipped], max_bytes: int) -> list[Checked]:
    """A worker's answers as results, the valid ones rebuilt in one native validation.

    Pickling a result's models across the process boundary cost more than checking the file
    (~20 µs per record to send, ~15 to receive, the receiving serially in this process); the JSON
    text costs ~4 to make and the same to read back, and the cache stores that same text.
    """
    texts = [item for item in shipped if isinstance(item, bytes)]
    results = iter(results_from_json_text(b"[" + b",".join(texts) + b"]"))
    checked: list[Checked] = []
    for item in shipped:
        if isinstance(item, bytes):
            checked.append(Checked(next(results), item))
        elif isinstance(item, _Again):
            checked.append(Checked(_check_one(item.source, max_bytes)))
        else:
            checked.append(Checked(item))
    return checked


def check_all(sources: list[Source], max_bytes: int) -> Iterator[Checked]:
    """Check files, over several processes when there is enough work to pay for them.

    Outcomes come in the order of ``sources``, each as soon as its batch is back (the workers
    check the next batches meanwhile); a caller that keeps only a compact form of each holds
    one batch of models at a time, not every file's.
    """
    workers = _worker_count()
    total = sum(len(data) for _display, data in sources)
    context = fork_context()
    if workers < 2 or total < PARALLEL_MIN_BYTES or context is None:
        yield from _serially(sources, max_bytes)
        return
    size = max(1, len(sources) // (workers * _BATCHES_PER_WORKER) + 1)
    batches = [sources[i : i + size] for i in range(0, len(sources), size)]
    done = 0
    try:
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            answers = pool.map(_check_batch_as_json, batches, [max_bytes] * len(batches))
            for batch in answers:
                for checked in _results_back(batch, max_bytes):
                    yield checked
                    done += 1
    except (OSError, BrokenProcessPool):
        # No processes available (sandbox, limits): the rest of the work, serially.
        yield from _serially(sources[done:], max_bytes)


def _serially(sources: list[Source], max_bytes: int) -> Iterator[Checked]:
    for source in sources:
        yield Checked(_check_one(source, max_bytes))


def _worker_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def fork_context() -> multiprocessing.context.BaseContext | None:
    """The fork start method when it is safe here, else None (check serially).

    Only fork is used: spawn and forkserver re-import the caller's main module in every worker,
    which breaks library callers without a ``__main__`` guard and costs a second of imports.
    Forking while other threads run can deadlock the child, so then the work stays in-process.
    """
    if sys.platform != "linux" or threading.active_count() != 1:
        return None
    return multiprocessing.get_context("fork")
