"""The Siro endpoint: scorecard metric values, with Siro's error shapes and per-token rate limit."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.emulator.contract import (
    ROUTE_SIRO_VALUES,
    SIRO_AUTH_HEADER,
    SIRO_ENTITY_TYPES,
    SIRO_ENVELOPE_LIMIT,
    SIRO_ENVELOPE_PAGE_SIZE,
    SIRO_NEXT_PAGE_PARAM,
    SIRO_RATE_WINDOW_SECONDS,
    SIRO_REQUIRED_PARAMS,
)
from reconciler.emulator.store import Store

__all__ = ["SiroApi", "TokenRateLimiter", "siro_error"]

_COLUMN_BY_ENTITY = {
    "RECORDING": "id",
    "USER": "user_id",
    "TEAM": "team_id",
    "ORGANIZATION": "organization_id",
}
_LIST_VALUED = ("filterBy", "groupBy")
_SINGLE_VALUED = (
    *(p for p in SIRO_REQUIRED_PARAMS if p != "filterByIds"),
    "groupBy",
    SIRO_NEXT_PAGE_PARAM,
)


def siro_error(status: int, message: str) -> JSONResponse:
    """Siro's documented error body: {"error": "<message>"}."""
    return JSONResponse({"error": message}, status_code=status)


class TokenRateLimiter:
    """A sliding one-minute window per token (DOC: 1000 requests per token per minute)."""

    def __init__(self, per_window: int, window_seconds: float = SIRO_RATE_WINDOW_SECONDS) -> None:
        self._per_window = per_window
        self._window = window_seconds
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, token: str) -> bool:
        now = time.monotonic()
        with self._lock:
            seen = self._seen.setdefault(token, deque())
            while seen and now - seen[0] >= self._window:
                seen.popleft()
            if len(seen) >= self._per_window:
                return False
            seen.append(now)
            return True


def _issue(code: str, name: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, **extra, "path": [name], "message": message}


def _parse_datetime(raw: str, *, strict: bool) -> datetime | None:
    """ISO 8601 with a timezone (Z or an offset); strict, as Zod's ``datetime()``, also refuses a
    lower-case ``t`` or ``z``, which ISO 8601 allows."""
    try:
        parsed = datetime.fromisoformat(raw if strict else raw.upper())
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _check_params(request: Request, *, strict: bool) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The query as Zod would parse it, and its issues (Zod's shape, all of them).

    ``filterBy`` and ``groupBy`` come back as lists: the vendor's page gives them a "Minimum array
    length: 1", so several values are accepted unless ``strict``.
    """
    query = request.query_params
    issues: list[dict[str, Any]] = []
    params: dict[str, Any] = {}
    for name in SIRO_REQUIRED_PARAMS:
        if name not in query:
            issues.append(
                _issue("invalid_type", name, "Required", expected="string", received="undefined")
            )
    for name in _SINGLE_VALUED:
        values = query.getlist(name)
        if name in _LIST_VALUED and values and not strict:
            params[name] = values
        elif len(values) > 1:
            issues.append(
                _issue(
                    "invalid_type",
                    name,
                    "Expected string, received array",
                    expected="string",
                    received="array",
                )
            )
        elif values:
            params[name] = [values[0]] if name in _LIST_VALUED else values[0]
    enum_text = " | ".join(f"'{e}'" for e in SIRO_ENTITY_TYPES)
    for name in _LIST_VALUED:
        for value in params.get(name, []):
            if value not in SIRO_ENTITY_TYPES:
                issues.append(
                    _issue(
                        "invalid_enum_value",
                        name,
                        f"Invalid enum value. Expected {enum_text}, received '{value}'",
                        options=list(SIRO_ENTITY_TYPES),
                        received=value,
                    )
                )
    for name in ("startAt", "endAt"):
        if name in params:
            parsed = _parse_datetime(params[name], strict=strict)
            if parsed is None:
                issues.append(
                    _issue("invalid_string", name, "Invalid datetime", validation="datetime")
                )
            params[name + "Parsed"] = parsed
    ids = query.getlist("filterByIds")
    if not strict:
        ids = [i for i in ids if i]  # an empty id matches no recording
    elif "filterByIds" in query and not all(ids):
        issues.append(
            _issue(
                "too_small",
                "filterByIds",
                "String must contain at least 1 character(s)",
                minimum=1,
                type="string",
                inclusive=True,
            )
        )
    params["filterByIds"] = ids
    start, end = params.get("startAtParsed"), params.get("endAtParsed")
    if strict and start is not None and end is not None and start > end:
        issues.append(_issue("custom", "endAt", "endAt must not be before startAt"))
    return params, issues


def _aggregate(
    named: list[dict[str, Any]], evaluated: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One recording passes through as seeded; several average their non-null numbers."""
    if len(evaluated) == 1:
        return [dict(v) for v in evaluated[0]["metricValues"]]
    definitions: dict[str, dict[str, Any]] = {}
    for recording in named:
        for value in recording["metricValues"]:
            definitions.setdefault(value["id"], value)
    result = []
    for metric_id, definition in definitions.items():
        entry = {k: v for k, v in definition.items() if k not in ("value", "passRate")}
        for key in ("value", "passRate"):
            numbers = [
                v[key]
                for r in evaluated
                for v in r["metricValues"]
                if v["id"] == metric_id and v.get(key) is not None
            ]
            entry[key] = sum(numbers) / len(numbers) if numbers else None
        result.append(entry)
    return result


def _cursor(offset: int) -> str:
    return f"mv{offset}"


def _offset(cursor: str | None) -> int | None:
    """The metric-value offset a cursor stands for; None for a cursor this server never made."""
    if cursor is None:
        return 0
    digits = cursor.removeprefix("mv")
    return int(digits) if cursor.startswith("mv") and digits.isdigit() else None


@dataclass(frozen=True)
class SiroPaging:
    """How answers are paged: ``page_size`` metric values a page (0 = one page), and an optional
    broken cursor (``"null"`` or ``"repeat"``) to show what a client does when paging breaks."""

    page_size: int = 0
    broken_cursor: str | None = None


@dataclass
class SiroApi:
    """Handlers bound to one store, the accepted tokens and the per-token limiter.

    ``unknown_recording`` is what an unknown id answers: ``"404"`` (the registry's assumption) or
    ``"empty"`` (200 with a count of 0), so that the importer is tested under both.
    """

    store: Store
    tokens: Sequence[str]
    requests_per_minute: int
    paging: SiroPaging = field(default_factory=SiroPaging)
    unknown_recording: str = "404"
    strict: bool = False
    limiter: TokenRateLimiter = field(init=False)

    def __post_init__(self) -> None:
        self.limiter = TokenRateLimiter(self.requests_per_minute)

    def routes(self) -> list[Route]:
        return [Route(ROUTE_SIRO_VALUES, self.metric_values, methods=["GET"])]

    def _token_known(self, token: str) -> bool:
        return token in self.tokens or self.store.siro_token_known(token)

    async def metric_values(self, request: Request) -> Response:
        token = request.headers.get(SIRO_AUTH_HEADER, "")
        if not token or not self._token_known(token):
            return siro_error(
                401, "Unauthorized: x-siro-auth-token is missing, invalid or expired (16 hours)"
            )
        if not self.limiter.allow(token):
            limit = self.requests_per_minute
            return siro_error(429, f"Too many requests: {limit} requests per token per minute")
        params, issues = _check_params(request, strict=self.strict)
        if issues:
            return JSONResponse({"name": "ZodError", "issues": issues}, status_code=422)
        org = params["requestedOrganizationId"]
        if not self.store.siro_organization_known(org):
            return siro_error(403, f"Forbidden: no access to organization {org}")
        return self._values(params)

    def _values(self, params: dict[str, Any]) -> Response:
        ids: list[str] = params["filterByIds"]
        filter_by: list[str] = params["filterBy"]
        org = params["requestedOrganizationId"]
        by_id = {
            r["id"]: r
            for entity in filter_by
            if entity != "ORGANIZATION" or org in ids
            for r in self.store.siro_recordings(org, _COLUMN_BY_ENTITY[entity], ids)
        }
        named = [by_id[k] for k in sorted(by_id)]
        if "RECORDING" in filter_by and self.unknown_recording == "404":
            missing = sorted(set(ids) - {r["id"] for r in named})
            if missing:
                return siro_error(404, f"Recording not found: {', '.join(missing)}")
        start, end = params["startAtParsed"], params["endAtParsed"]
        evaluated = [
            r
            for r in named
            if r["conversationTypeId"] == params["conversationTypeId"]
            and start <= datetime.fromisoformat(r["startedAt"]) <= end
        ]
        values = _aggregate(named, evaluated) if named else []
        offset = _offset(params.get(SIRO_NEXT_PAGE_PARAM))
        if offset is None:
            return siro_error(400, f"Bad request: unknown cursor {params[SIRO_NEXT_PAGE_PARAM]!r}")
        size = self.paging.page_size or max(len(values), 1)
        more = offset + size < len(values)
        data = {
            "recordingsEvaluatedCount": len(evaluated),
            "metricValues": values[offset : offset + size],
            "startAt": params["startAt"],
            "endAt": params["endAt"],
            "filterByIds": ids,
            "filterBy": filter_by[0] if len(filter_by) == 1 else filter_by,
        }
        envelope = {
            "data": data,
            "cursor": _cursor(offset + size) if more else None,
            "pageSize": self.paging.page_size or SIRO_ENVELOPE_PAGE_SIZE,
            "limit": self.paging.page_size or SIRO_ENVELOPE_LIMIT,
            "total": len(values) if self.paging.page_size else None,
            "hasNextPage": more,
        }
        return JSONResponse({**envelope, **self._broken(envelope)})

    def _broken(self, envelope: dict[str, Any]) -> dict[str, Any]:
        """The paging fault, if one is set: every page claims a next one it cannot name."""
        fault = self.paging.broken_cursor
        if fault is None or not self.paging.page_size:
            return {}
        return {"hasNextPage": True, "cursor": None if fault == "null" else _cursor(1)}
