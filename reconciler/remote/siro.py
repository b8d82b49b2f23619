"""The Siro client (docs/siro-api.md): scorecard metric values aggregated over recordings.

Siro authenticates with an OAuth access token in ``x-siro-auth-token`` that expires after 16 hours
and allows 1000 requests per minute; :func:`siro_http_settings` turns that limit into the shared
session's rate limiter, and a 429 without ``Retry-After`` falls back to exponential backoff there.
Unknown ``metricType`` values are kept as strings: Siro adds types, and a new one must not crash
an import.

The response is read as the vendor's page shows it and nothing stricter: every field of a metric
value is optional and its numbers are kept as sent (the vendor's own example has a ``passRate`` of
123), because only the mapping knows which fields it uses and what it accepts there
(``reconciler.importer.siro_records``). Paging and list encoding are assumptions read from the
Siro registry (``reconciler.contract.siro``); a page chain that cannot be followed is an error,
never a silent stop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import Field, ValidationError

from reconciler.contract.siro import LIST_ENCODING, NEXT_PAGE_PARAM
from reconciler.errors import ApiError
from reconciler.model import LenientModel
from reconciler.remote.http import (
    AuthScheme,
    HttpSession,
    HttpSettings,
    RequestContext,
    response_json,
)

__all__ = [
    "DEFAULT_REQUESTS_PER_MINUTE",
    "KNOWN_METRIC_TYPES",
    "SIRO_AUTH",
    "VALUES_PATH",
    "Aggregate",
    "MetricValue",
    "SiroClient",
    "SiroQuery",
    "siro_http_settings",
]

VALUES_PATH = "/v1/core/scorecards/scorecard-metrics/values"
#: DOC: 1000 requests per token per minute.
DEFAULT_REQUESTS_PER_MINUTE = 1000
#: A response that keeps saying hasNextPage is not followed forever.
MAX_PAGES = 100

SIRO_AUTH = AuthScheme(
    header="x-siro-auth-token",
    prefix="",
    refused_hint="the Siro access token is missing, wrong or older than 16 hours (mint a new one)",
)

KNOWN_METRIC_TYPES: frozenset[str] = frozenset(
    {
        "RECORDING_COUNT", "BOOKMARK", "CONVERSATION_TIME", "REP_SPEAKING_TIME",
        "CUSTOMER_SPEAKING_TIME", "CUSTOMER_QUESTIONS_COUNT", "REP_QUESTIONS_COUNT",
        "EXCHANGES_COUNT", "REP_EXCHANGES_COUNT", "TOTAL_REP_EXCHANGES_WITH_A_QUESTION",
        "REP_WORD_COUNT", "REP_UNIQUE_WORDS_USED_COUNT", "REP_FILLER_WORDS_COUNT",
        "TOTAL_REP_VOCABULARY_SCORE", "TOTAL_REP_WORD_OBSCURITY_SCORE",
        "LONGEST_MONOLOGUE_SECONDS", "LONGEST_CUSTOMER_STORY_SECONDS", "REP_WORDS_PER_MINUTE",
        "REP_FILLER_WORDS_PER_MIN", "REP_SPEAKER_SHARE", "INTERACTIVITY_SCORE", "REP_CONTROL",
        "REP_VOCABULARY_LEVEL", "REP_WORD_OBSCURITY_SCORE", "AI_METRIC",
    }
)  # fmt: skip


def siro_http_settings(
    *,
    concurrency: int = 8,
    requests_per_minute: float = DEFAULT_REQUESTS_PER_MINUTE,
    **overrides: Any,
) -> HttpSettings:
    """The shared policy with Siro's documented per-token rate limit."""
    return HttpSettings(
        concurrency=concurrency, requests_per_second=requests_per_minute / 60.0, **overrides
    )


class MetricValue(LenientModel):
    """One scorecard metric's value, every field as sent (absent = None).

    ``value`` is in its own ``unit``; ``pass_rate`` is meant as 0-100. Both are kept untyped
    (``object``) so that a field no mapping uses can never fail a recording; the importer checks
    the ones a mapping uses, where it uses them.
    """

    id: str | None = None
    name: str | None = None
    unit: str | None = None
    unit_abbreviated: str | None = None
    metric_type: str | None = None
    description: str | None = None
    value: object = None
    pass_rate: object = None

    @property
    def known_type(self) -> bool:
        return self.metric_type in KNOWN_METRIC_TYPES


@dataclass(frozen=True)
class SiroQuery:
    """What every request of one import shares: organization, conversation type and window."""

    organization_id: str
    conversation_type_id: str
    start: str
    end: str


@dataclass(frozen=True)
class Aggregate:
    """What Siro says about a batch of recordings in a window: one aggregate over all of them."""

    recording_ids: tuple[str, ...]
    recordings_evaluated_count: int
    metric_values: tuple[MetricValue, ...]


class _Data(LenientModel):
    recordings_evaluated_count: int
    metric_values: list[MetricValue] = Field(default_factory=list)


def _list_param(values: Sequence[str]) -> list[str] | str:
    """A list query parameter in the registry's encoding (``list_encoding``)."""
    if len(values) == 1:
        return values[0]
    return list(values) if LIST_ENCODING == "repeat" else ",".join(values)


def _name(ids: Sequence[str]) -> str:
    """How messages name a batch: the recording, or the first ids and how many."""
    if len(ids) == 1:
        return f"recording {ids[0]}"
    shown = ", ".join(ids[:3]) + (", ..." if len(ids) > 3 else "")
    return f"recordings {shown} ({len(ids)} in one request)"


class SiroClient:
    """Reads scorecard metric values of a batch of recordings, following every page."""

    def __init__(self, session: HttpSession) -> None:
        self.session = session

    def _error(self, message: str, request: str, ids: Sequence[str], **kw: Any) -> ApiError:
        return ApiError(
            self.session.redact(f"{_name(ids)}: {message}"),
            target=self.session.target,
            request=request,
            **kw,
        )

    async def values(self, query: SiroQuery, recording_ids: Sequence[str]) -> Aggregate:
        """The aggregate over ``recording_ids`` (``filterBy=RECORDING``), every page of it.

        A 404 means Siro does not know one of the recordings (or the token's user cannot see
        it); the error says so and keeps status 404. ``hasNextPage`` with a null, empty or
        repeated cursor is an error naming the recordings: the rest of the answer is unreadable,
        and stopping quietly would write a partial import.
        """
        ids = tuple(recording_ids)
        request = f"GET {VALUES_PATH}"
        params: dict[str, Any] = {
            "requestedOrganizationId": query.organization_id,
            "conversationTypeId": query.conversation_type_id,
            "startAt": query.start,
            "endAt": query.end,
            "filterByIds": _list_param(ids),
            "filterBy": "RECORDING",
        }
        pages: list[_Data] = []
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            body = await self._get(request, params, ids)
            pages.append(self._parse_page(body, request, ids))
            if body.get("hasNextPage") is not True:
                return self._merge(ids, pages)
            cursor = body.get("cursor")
            if not isinstance(cursor, str) or not cursor or cursor in seen:
                problem = "null or empty" if not cursor else f"repeated ({cursor!r})"
                raise self._error(
                    f"page {len(pages)} says hasNextPage but its cursor is {problem}; the "
                    "remaining pages cannot be read, so nothing of this answer is used",
                    request,
                    ids,
                )
            seen.add(cursor)
            params = {**params, NEXT_PAGE_PARAM: cursor}
        raise self._error(f"more than {MAX_PAGES} pages", request, ids)

    async def _get(self, request: str, params: dict[str, Any], ids: Sequence[str]) -> Any:
        try:
            response = await self.session.request(
                "GET", VALUES_PATH, params=params, context=RequestContext()
            )
        except ApiError as exc:
            if exc.status == 404 and type(exc) is ApiError:
                raise self._error(
                    f"Siro does not know this recording, or the token's user cannot see it "
                    f"({exc.message})",
                    request,
                    ids,
                    status=404,
                ) from exc
            raise
        return response_json(response, request, self.session.target)

    def _parse_page(self, body: Any, request: str, ids: Sequence[str]) -> _Data:
        if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
            raise self._error('malformed response: expected {"data": {...}}', request, ids)
        data = body["data"]
        if not isinstance(data.get("metricValues", []), list):
            raise self._error("malformed response: data.metricValues is not a list", request, ids)
        # A metric value that is not an object cannot be any mapping's: skip it, do not fail.
        values = [v for v in data.get("metricValues", []) if isinstance(v, dict)]
        try:
            return _Data.model_validate({**data, "metricValues": values})
        except ValidationError as exc:
            first = exc.errors(include_input=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            text = f"malformed response: data.{where}: {first['msg']}"
            raise self._error(text, request, ids) from exc

    @staticmethod
    def _merge(ids: tuple[str, ...], pages: list[_Data]) -> Aggregate:
        return Aggregate(
            recording_ids=ids,
            recordings_evaluated_count=pages[0].recordings_evaluated_count,
            metric_values=tuple(v for page in pages for v in page.metric_values),
        )
