"""Carrying a checked plan out: freshness check, bounded concurrent POSTs, read-back.

The three phases run against one :class:`~reconciler.remote.zelto.ZeltoClient`, whose session owns
the policy (requests in flight, rate, retries, Retry-After). The applier adds what only it knows:
which writes belong together, when to stop, and whether the remote state converged.

Stopping (Ctrl-C, SIGTERM, a 401): :meth:`Applier.stop` stops the session, so no request starts
and nothing is retried, while requests already on the wire finish; every write then ends in a
definite status, so the report can say exactly what was and was not applied. Running apply again
finishes the job: a POST upserts on (conversation, label), so nothing is duplicated.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from reconciler.applier.report import ApplyReport, RecordResult, RecordStatus, RequestCounts
from reconciler.errors import ApiError, ApplyError, AuthError, StalePlanError
from reconciler.model import RemoteRecord, compared_remote
from reconciler.plan.fingerprint import fingerprint
from reconciler.plan.model import Change, ConversationPlan, Plan
from reconciler.plan.planner import upsert_key
from reconciler.plan.staleness import what_changed
from reconciler.remote.http import Attempt, RequestContext, RequestStoppedError
from reconciler.remote.zelto import ReadResult, ZeltoClient

__all__ = ["Applier", "ResultCallback"]

#: Writes ready to go per in-flight slot (see Applier._write_all).
_READY_PER_SLOT = 2

#: Called once per planned write as soon as its POST has an outcome (for progress bars).
ResultCallback = Callable[[RecordResult], None]


@dataclass
class _Write:
    """One planned POST and what happened to it so far."""

    conversation: ConversationPlan
    change: Change
    attempts: int = 0
    status: RecordStatus = RecordStatus.NOT_ATTEMPTED
    reason: str | None = None

    def count_attempt(self, attempt: Attempt) -> None:
        self.attempts = max(self.attempts, attempt.number)

    def result(self) -> RecordResult:
        return RecordResult(
            conversation_id=self.conversation.id,
            label=self.change.label,
            external_id=self.change.external_id,
            action=self.change.action,
            status=self.status,
            attempts=self.attempts,
            reason=self.reason,
            source=self.change.source,
        )


class _Place:
    """A write's place among the ready ones, given up once: at its first backoff or its end."""

    __slots__ = ("_held", "_places")

    def __init__(self, places: asyncio.Semaphore) -> None:
        self._places = places
        self._held = True

    def give_up(self) -> None:
        if self._held:
            self._held = False
            self._places.release()


@dataclass
class _Counters:
    posts: int = 0
    reads: int = 0
    started: float = field(default_factory=time.monotonic)


class Applier:
    """Applies one plan through one client. Create it, then ``await run(plan)`` once.

    ``check_fresh`` re-reads every conversation the plan writes to before the first write and
    refuses the whole apply when any changed (saved plans; plans confirmed at a prompt).
    """

    def __init__(
        self,
        client: ZeltoClient,
        *,
        check_fresh: bool = True,
        on_result: ResultCallback | None = None,
    ) -> None:
        self.client = client
        self.check_fresh = check_fresh
        self.on_result = on_result
        self._stopped: str | None = None
        self._counters = _Counters()

    @property
    def stopped(self) -> str | None:
        """Why the apply is stopping, once :meth:`stop` was called."""
        return self._stopped

    def stop(self, reason: str) -> None:
        """Start no new request; let in-flight ones finish. Safe to call from a signal handler
        running on the event loop, and more than once (the first reason is kept)."""
        if self._stopped is None:
            self._stopped = reason
        self.client.session.stop()

    async def run(self, plan: Plan) -> ApplyReport:
        """Apply every write of ``plan`` and verify it; the report says what happened.

        Raises StalePlanError (nothing written) when a conversation changed since planning, and
        AuthError when the credential is refused before any write.
        """
        writes = [_Write(conversation, change) for conversation, change in plan.writes()]
        if writes and self.check_fresh and self._stopped is None:
            await self._check_fresh(plan)
        if self._stopped is None:
            await self._write_all(writes)
        if self._stopped is None:
            await self._verify(writes)
        else:
            _mark_unverified(writes)
        return self._report(plan, writes)

    # --- freshness ------------------------------------------------------------------------
    async def _check_fresh(self, plan: Plan) -> None:
        touched = [c for c in plan.conversations if c.writes]
        current = await self._read([c.id for c in touched])
        unreadable = [(cid, r) for cid, r in current.items() if isinstance(r, ApiError)]
        if unreadable and self._stopped is None:
            cid, error = unreadable[0]
            raise ApplyError(
                f"cannot check that the plan is current: {len(unreadable)} conversation(s) could "
                f"not be read; nothing was written. First: conversation {cid}: {error}"
            )
        what = {
            c.id: what_changed(c, records, plan.sensitive_fields)
            for c in touched
            if isinstance(records := current.get(c.id), list)
            and fingerprint(records) != c.fingerprint
        }
        if what:
            raise StalePlanError(list(what), what)

    async def _read(self, conversation_ids: list[str]) -> dict[str, ReadResult]:
        self._counters.reads += len(conversation_ids)
        return await self.client.read_many(conversation_ids)

    # --- writes ---------------------------------------------------------------------------
    async def _write_all(self, writes: list[_Write]) -> None:
        """A task per write, started while fewer than two per in-flight slot are *ready* (have
        not yet met a failure): that keeps the session's queue full without a task per write
        for 20,000 writes. A write waiting out a retry's backoff gives its place up (it then
        queues for a slot again like any request), so with 10 % of 503s the pipe stays full;
        a fixed pool of workers left them holding a worker while they slept."""
        ready = asyncio.Semaphore(self.client.session.settings.concurrency * _READY_PER_SLOT)
        running: set[asyncio.Task[None]] = set()
        for write in writes:
            await ready.acquire()
            if self._stopped is not None:
                break
            task = asyncio.ensure_future(self._post_and_report(write, _Place(ready)))
            running.add(task)
            task.add_done_callback(running.discard)
        if running:
            await asyncio.gather(*running)

    async def _post_and_report(self, write: _Write, place: _Place) -> None:
        try:
            await self._post(write, place)
        finally:
            place.give_up()
        if self.on_result is not None:
            self.on_result(write.result())

    async def _post(self, write: _Write, place: _Place) -> None:
        body = write.change.after.post_body() if write.change.after is not None else None
        if body is None:
            write.status, write.reason = RecordStatus.FAILED, "the plan has no values to write"
            return

        def on_attempt(attempt: Attempt) -> None:
            write.count_attempt(attempt)
            if attempt.retry_in is not None:
                place.give_up()

        context = RequestContext(conversation_id=write.conversation.id, on_attempt=on_attempt)
        self._counters.posts += 1
        try:
            await self.client.submit_metric(write.conversation.id, body, context=context)
        except AuthError as exc:
            write.status, write.reason = RecordStatus.FAILED, exc.message
            self.stop(f"the credential was refused: {exc}")
        except RequestStoppedError as exc:
            # Stopped before the first attempt: never sent. Stopped between retries: the last
            # attempt failed, so this record is not applied.
            never_sent = write.attempts == 0
            write.status = RecordStatus.NOT_ATTEMPTED if never_sent else RecordStatus.FAILED
            write.reason = exc.message
        except ApiError as exc:
            write.status, write.reason = RecordStatus.FAILED, exc.message
        else:
            write.status = RecordStatus.NOT_VERIFIED

    # --- verification ---------------------------------------------------------------------
    async def _verify(self, writes: list[_Write]) -> None:
        """Read every conversation that was written to and compare each written record with
        the plan; an accepted POST is not proof (a concurrent writer, a server that drops a
        field), the state read back is."""
        written = [w for w in writes if w.status is RecordStatus.NOT_VERIFIED]
        if not written:
            return
        ids = list(dict.fromkeys(w.conversation.id for w in written))
        try:
            current = await self._read(ids)
        except AuthError as exc:
            self._stopped = f"the credential was refused while verifying: {exc}"
            return
        for write in written:
            _check_converged(write, current[write.conversation.id])

    def _report(self, plan: Plan, writes: list[_Write]) -> ApplyReport:
        stats = self.client.session.stats
        requests = RequestCounts(
            posts=self._counters.posts,
            attempts=sum(w.attempts for w in writes),
            retries=stats.retries,
            reads=self._counters.reads,
        )
        return ApplyReport(
            target=self.client.target,
            spec_digest=plan.spec_digest,
            stopped=self._stopped,
            duration_seconds=round(time.monotonic() - self._counters.started, 3),
            requests=requests,
            records=tuple(w.result() for w in writes),
        )


def _mark_unverified(writes: list[_Write]) -> None:
    for write in writes:
        if write.status is RecordStatus.NOT_VERIFIED:
            write.reason = "written, but not read back because the apply stopped"


def _check_converged(write: _Write, current: ReadResult) -> None:
    if isinstance(current, RequestStoppedError):
        write.reason = "written, but not read back because the apply stopped"
        return
    if isinstance(current, ApiError):
        write.status = RecordStatus.NOT_CONVERGED
        write.reason = f"written, but reading it back failed: {current.message}"
        return
    wanted = write.change.after.compared() if write.change.after is not None else {}
    found = _by_label(current, write.change.label)
    if found is None:
        write.status = RecordStatus.NOT_CONVERGED
        write.reason = "written, but no record with this label was read back"
        return
    actual = compared_remote(found)
    differing = [name for name in wanted if wanted[name] != actual.get(name)]
    if differing:
        # Names only: values may be sensitive, and the plan shows them to whoever may see them.
        write.status = RecordStatus.NOT_CONVERGED
        write.reason = "read back with different " + ", ".join(differing)
        return
    write.status, write.reason = RecordStatus.APPLIED, None


def _by_label(records: list[RemoteRecord], label: str) -> RemoteRecord | None:
    """The record a POST with this label landed on (Zelto registry: ``upsert_key``)."""
    return next((r for r in records if upsert_key(r) == label), None)
