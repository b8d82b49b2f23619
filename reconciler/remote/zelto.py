"""The Zelto client: read a conversation's customer metrics, submit one, and a few look-ups.

Every request goes through :class:`~reconciler.remote.http.HttpSession`, so retries, limits and
redaction are the same as everywhere else. Responses are validated here: a body that is not the
documented shape becomes an :class:`~reconciler.errors.ApiError` naming the request, never a
``KeyError`` deep in the planner.

What the vendor does not document (the upsert key, full replace, success statuses, the listing's
cursor) lives in the Zelto registry, ``reconciler.contract.zelto`` (docs/contract.md), which the
emulator mirrors so that tests exercise the same reading.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import TypeAdapter, ValidationError

from reconciler.errors import ApiError, AuthError
from reconciler.model import LenientModel, RemoteRecord
from reconciler.remote.http import HttpSession, RequestContext

__all__ = [
    "MAX_PAGES",
    "Agent",
    "Conversation",
    "ReadResult",
    "ZeltoClient",
]

#: At most this many pages are followed, in case a server keeps returning new cursors.
MAX_PAGES = 1000

#: One conversation's outcome in :meth:`ZeltoClient.read_many`: its records, or why not.
ReadResult = list[RemoteRecord] | ApiError


class Conversation(LenientModel):
    """The part of ``GET /v1/conversations/{id}`` the reconciler needs (catalogs map per agent)."""

    id: str
    agent_id: str
    name: str | None = None


class Agent(LenientModel):
    id: str
    name: str
    external_id: str | None = None
    provider: str | None = None


class _RecordPage(LenientModel):
    data: list[RemoteRecord]
    next_cursor: str | None = None


class _AgentPage(LenientModel):
    data: list[Agent]
    next_cursor: str | None = None


_P = TypeVar("_P", _RecordPage, _AgentPage)
_T = TypeVar("_T")
_RECORD_PAGE = TypeAdapter(_RecordPage)
_AGENT_PAGE = TypeAdapter(_AgentPage)
_ENVELOPES: tuple[TypeAdapter[Any], ...] = (_RECORD_PAGE, _AGENT_PAGE)
_RECORD = TypeAdapter(RemoteRecord)
_CONVERSATION = TypeAdapter(Conversation)


def _metrics_path(conversation_id: str) -> str:
    # Ids are validated UUIDs upstream; quoting keeps any other string inside its path segment.
    return f"/v1/conversations/{quote(conversation_id, safe='')}/customer-metrics"


def _conversation_path(conversation_id: str) -> str:
    return f"/v1/conversations/{quote(conversation_id, safe='')}"


class ZeltoClient:
    """Typed calls on one Zelto endpoint. Concurrency and retries belong to the session."""

    def __init__(self, session: HttpSession) -> None:
        self.session = session

    @property
    def target(self) -> str:
        return self.session.target

    def _malformed(self, request: str, problem: str, conversation_id: str | None) -> ApiError:
        return ApiError(
            f"malformed response: {self.session.redact(problem)}",
            target=self.target,
            request=request,
            conversation_id=conversation_id,
        )

    def _parse(
        self, adapter: TypeAdapter[_T], response: httpx.Response, request: str, cid: str | None
    ) -> _T:
        """The body parsed and validated in one pass (pydantic-core reads the bytes itself:
        listing and submitting are the hot paths of plan and apply)."""
        try:
            return adapter.validate_json(response.content)
        except ValidationError as exc:
            first = exc.errors(include_input=False)[0]
            if first["type"] == "json_invalid":
                problem = f"HTTP {response.status_code} body is not JSON"
            elif adapter in _ENVELOPES and first["loc"] in {(), ("data",)}:
                problem = 'expected an object with a "data" list'
            else:
                problem = ".".join(str(p) for p in first["loc"]) + f": {first['msg']}"
            raise self._malformed(request, problem, cid) from exc

    async def _get(
        self, adapter: TypeAdapter[_T], path: str, params: dict[str, Any], cid: str | None
    ) -> _T:
        context = RequestContext(conversation_id=cid)
        response = await self.session.request("GET", path, params=params or None, context=context)
        return self._parse(adapter, response, f"GET {path}", cid)

    async def _all_pages(
        self, adapter: TypeAdapter[_P], path: str, cid: str | None, limit: int | None
    ) -> list[Any]:
        """Every item of a ``{data, nextCursor}`` list (Zelto registry: ``list_cursor``); stops on
        a null cursor. A repeated cursor is an error: the rest of the list cannot be read, and a
        plan made from part of a conversation's records would be wrong."""
        items: list[Any] = []
        params: dict[str, Any] = {"limit": limit} if limit else {}
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            page = await self._get(adapter, path, params, cid)
            items.extend(page.data)
            cursor = page.next_cursor
            if not cursor:
                return items
            if cursor in seen:
                problem = f"nextCursor {cursor!r} repeats an earlier page's: the rest is unreadable"
                raise self._malformed(f"GET {path}", problem, cid)
            seen.add(cursor)
            params = {**params, "cursor": cursor}
        raise self._malformed(f"GET {path}", "too many pages", cid)

    async def list_metrics(self, conversation_id: str) -> list[RemoteRecord]:
        """All customer metrics of one conversation (``listCustomerMetrics``)."""
        path = _metrics_path(conversation_id)
        return await self._all_pages(_RECORD_PAGE, path, conversation_id, limit=None)

    async def get_conversation(self, conversation_id: str) -> Conversation:
        return await self._get(
            _CONVERSATION, _conversation_path(conversation_id), {}, conversation_id
        )

    async def submit_metric(
        self,
        conversation_id: str,
        body: dict[str, Any],
        *,
        context: RequestContext | None = None,
    ) -> RemoteRecord:
        """Create or replace the record with ``body["label"]`` (Zelto upserts on the label).

        ``context`` lets the applier count attempts; its conversation is filled in if unset.
        """
        path = _metrics_path(conversation_id)
        request = f"POST {path}"
        ctx = context or RequestContext()
        if ctx.conversation_id is None:
            ctx = RequestContext(conversation_id=conversation_id, on_attempt=ctx.on_attempt)
        response = await self.session.request("POST", path, json=body, context=ctx)
        return self._parse(_RECORD, response, request, conversation_id)

    async def list_agents(self, *, page_size: int = 200) -> list[Agent]:
        """Every agent of the organization, following ``nextCursor``."""
        return await self._all_pages(_AGENT_PAGE, "/v1/agents", None, limit=page_size)

    async def read_many(
        self,
        conversation_ids: Iterable[str],
        on_done: Callable[[str, ReadResult], None] | None = None,
    ) -> dict[str, ReadResult]:
        """:meth:`read_each`, keeping every outcome: a dict in the order of the ids given.

        Everything read is held until the end; a plan of a large estate streams with
        :meth:`read_each` instead and keeps only its decisions.
        """
        pending = list(dict.fromkeys(conversation_ids))
        results: dict[str, ReadResult] = {}

        def keep(conversation_id: str, result: ReadResult) -> None:
            results[conversation_id] = result
            if on_done is not None:
                on_done(conversation_id, result)

        await self.read_each(pending, keep)
        return {cid: results[cid] for cid in pending}

    async def read_each(
        self, conversation_ids: Iterable[str], on_done: Callable[[str, ReadResult], None]
    ) -> None:
        """One GET per conversation, ``concurrency`` at a time, each outcome handed to
        ``on_done`` as soon as it is read and not kept here; per-conversation failures are
        handed over, not raised, so one bad conversation does not hide the rest of a plan.

        A 401 is different: no other request can succeed, so the remaining work is abandoned
        (requests already on the wire finish) and the AuthError is raised.
        """
        pending = list(dict.fromkeys(conversation_ids))
        queue = iter(pending)
        refused: list[AuthError] = []

        async def worker() -> None:
            for conversation_id in queue:
                if refused:
                    return
                result = await self._read_one(conversation_id)
                if isinstance(result, AuthError):
                    refused.append(result)
                    return
                on_done(conversation_id, result)
                del result  # not held while the next request waits: memory stays flat

        workers = min(self.session.settings.concurrency, len(pending))
        await asyncio.gather(*(worker() for _ in range(workers)))
        if refused:
            raise refused[0]

    async def _read_one(self, conversation_id: str) -> ReadResult:
        try:
            return await self.list_metrics(conversation_id)
        except ApiError as exc:
            return exc
