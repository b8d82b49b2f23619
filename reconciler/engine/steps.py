"""The engine's network steps, each in one HTTP session that it opens and closes itself.

A session lives inside one event loop, and the engine runs one loop per call (so that it can be
called from any thread, or from a notebook's cell), hence one session per step: reading for a
plan, then writing an apply. The target itself (the embedded emulator for ``local``) stays up
for the whole :class:`~reconciler.engine.Workspace`.
"""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

try:
    import uvloop
except ImportError:  # Windows: pyproject.toml installs uvloop everywhere else
    uvloop = None  # type: ignore[assignment]

from reconciler.applier import Applier, ApplyReport, RecordResult
from reconciler.model import DesiredState
from reconciler.plan.model import ConversationPlan, Plan
from reconciler.plan.planner import ConversationState, Planner
from reconciler.remote.current import stream_current
from reconciler.remote.http import Endpoint, HttpSession, HttpSettings
from reconciler.remote.zelto import ReadResult, ZeltoClient

__all__ = [
    "STOP_POLL_SECONDS",
    "ProgressCallback",
    "StopSignal",
    "UnreadableCallback",
    "freeze_survivors",
    "read_and_plan",
    "run_sync",
    "write_plan",
]

T = TypeVar("T")

#: ``progress(done, total)``: called with ``(0, total)`` first, then after each step.
ProgressCallback = Callable[[int, int], None]
#: ``on_unreadable(conversation_id, message)``: a conversation that could not be read.
UnreadableCallback = Callable[[str, str], None]

#: How often a running apply looks at its stop signal; a signal handler cannot reach the loop.
STOP_POLL_SECONDS = 0.02


def run_sync(step: Coroutine[Any, Any, T]) -> T:
    """Run one engine step to completion in an event loop of its own.

    A caller whose thread already runs a loop (a notebook cell, an async service) cannot nest
    ``asyncio.run``; the step then runs in a helper thread while the caller waits, as it would
    for any blocking call.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run_boxed(step)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="reconciler") as pool:
        return pool.submit(_run_boxed, step).result()


def _run_boxed(step: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(step)`` (on uvloop's loop where installed), except that the loop's main
    task returns nothing.

    On Python 3.11, ``asyncio.run`` ends by asking ``signal.getsignal`` about its SIGINT handler,
    which builds the repr of a ``partial`` holding the main task, and so the repr of the task's
    *result*. For a plan of 25,000 conversations that repr took about 3 s of a 30 s run
    (measured with py-spy). The result is handed over outside the task instead.
    """
    box: list[T] = []

    async def main() -> None:
        box.append(await step)

    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(main())
    return box[0]


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed: the reading phase of a large plan is bound by
    the client's CPU per request, and uvloop's loop and transports take less of it than
    asyncio's (docs/performance.md, "Event loop"). None: asyncio's own loop."""
    return uvloop.new_event_loop if uvloop is not None else None


class StopSignal(threading.Event):
    """A ``threading.Event`` that also says why it was set; the apply report repeats the reason.

    ``set()`` alone stops too, with a generic reason. Safe to set from a signal handler or from
    another thread: a running apply starts no new request and lets in-flight ones finish.
    """

    def __init__(self) -> None:
        super().__init__()
        self.reason: str | None = None

    def request(self, reason: str) -> None:
        """Stop, saying why; the first reason is kept."""
        if self.reason is None:
            self.reason = reason
        self.set()


async def read_and_plan(
    endpoint: Endpoint,
    settings: HttpSettings,
    desired: DesiredState,
    planner: Planner,
    *,
    scope: str | None = None,
    progress: ProgressCallback | None = None,
    on_unreadable: UnreadableCallback | None = None,
) -> Plan:
    """Read what Zelto holds for every conversation of ``desired``, decide each one as soon as
    it is read (failures are recorded, not raised), and return the plan of them all.

    Only the decisions are kept: a conversation's remote records are dropped once it is
    decided, so memory follows the decisions (mostly a count of unchanged records), not the
    size of the estate read.
    """
    total = len(desired.conversations)
    done = 0
    decided: dict[str, tuple[ConversationPlan, int]] = {}

    def on_read(conversation_id: str, result: ReadResult) -> None:
        nonlocal done
        done += 1
        if on_unreadable is not None and not isinstance(result, list):
            on_unreadable(conversation_id, str(result))
        if progress is not None:
            progress(done, total)

    def on_state(conversation_id: str, state: ConversationState) -> None:
        declared = desired.conversations[conversation_id]
        decided[conversation_id] = planner.decide(conversation_id, declared, state)

    watching = progress is not None or on_unreadable is not None
    if progress is not None:
        progress(0, total)
    async with HttpSession(endpoint, settings) as session:
        await stream_current(
            ZeltoClient(session), desired, on_state, on_read=on_read if watching else None
        )
    return planner.finish(
        [plan for plan, _managed in decided.values()],
        target=endpoint.name,
        spec_digest=desired.spec_digest,
        existing_managed=sum(managed for _plan, managed in decided.values()),
        scope=scope,
    )


async def write_plan(
    endpoint: Endpoint,
    settings: HttpSettings,
    plan: Plan,
    *,
    check_fresh: bool,
    progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
) -> ApplyReport:
    """Apply a checked plan (see applier.run); ``stop`` ends it gracefully at any moment."""
    total = len(plan.writes())
    done = 0

    def on_result(result: RecordResult) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    if progress is not None:
        progress(0, total)
    async with HttpSession(endpoint, settings) as session:
        applier = Applier(
            ZeltoClient(session),
            check_fresh=check_fresh,
            on_result=on_result if progress is not None else None,
        )
        watcher = None
        if stop is not None:
            if stop.is_set():  # already stopped: not even the freshness check starts
                applier.stop(_reason(stop))
            watcher = asyncio.create_task(_watch(stop, applier))
        try:
            return await applier.run(plan)
        finally:
            if watcher is not None:
                watcher.cancel()


async def _watch(stop: threading.Event, applier: Applier) -> None:
    """Pass ``stop`` on to the applier. Polled, because an Event set by a signal handler or
    another thread cannot wake the loop; STOP_POLL_SECONDS is well below one request."""
    while not stop.is_set():
        await asyncio.sleep(STOP_POLL_SECONDS)
    applier.stop(_reason(stop))


def _reason(stop: threading.Event) -> str:
    reason = stop.reason if isinstance(stop, StopSignal) else None
    return reason or "stopped by the caller"


def freeze_survivors() -> None:
    """Move every object alive now (the plan, its checked copy, the loaded specs) out of the
    cyclic collector's sight (``gc.freeze``) before the writes start.

    Why: a full collection scans every tracked object, and a plan of 20,000 writes makes each
    one take ~0.15-0.25 s; the write phase allocates enough per request to run several, and
    each stops the event loop, so the 64 requests in flight are answered but none is sent
    until it ends (3 of them took 0.71 s of a 17 s apply in bench_apply.py, ~10 % of its
    floor). Only with ``pause_gc`` (the CLI's choice, like the spec loader's ``gc_paused``):
    frozen objects are still freed by reference counting, but a cycle among them never is, so
    a long-running host decides for itself.
    """
    gc.freeze()
