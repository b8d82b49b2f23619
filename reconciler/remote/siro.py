"""The Siro client: scorecard metric values of one recording (siro.md).

Siro authenticates with an OAuth access token in ``x-siro-auth-token`` that expires after 16 hours
and allows 1000 requests per minute; :func:`siro_http_settings` turns that limit into the shared
session's rate limiter, and a 429 without ``Retry-After`` falls back to exponential backoff there.
Unknown ``metricType`` values are kept as strings: Siro adds types, and a new one must not crash
an import.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from reconciler.errors import ApiError
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
    "MetricValue",
    "RecordingValues",
    "SiroClient",
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


class _Lenient(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="ignore", alias_generator=to_camel, populate_by_name=True
    )


class MetricValue(_Lenient):
    """One scorecard metric's value. ``value`` is in its own ``unit``; ``pass_rate`` is 0–100.
    Both are None when nothing qualified."""

    id: str
    name: str
    unit: str
    unit_abbreviated: str
    metric_type: str
    description: str | None = None
    value: float | None = None
    pass_rate: float | None = Field(default=None, ge=0, le=100)

    @property
    def known_type(self) -> bool:
        return self.metric_type in KNOWN_METRIC_TYPES


class RecordingValues(_Lenient):
    """What Siro says about one recording in a window."""

    recording_id: str
    recordings_evaluated_count: int
    metric_values: tuple[MetricValue, ...]
    start_at: str
    end_at: str


class _Page(_Lenient):
    recordings_evaluated_count: float
    metric_values: list[MetricValue]
    start_at: str
    end_at: str


class SiroClient:
    """Reads scorecard metric values, one request (or page chain) per recording."""

    def __init__(self, session: HttpSession) -> None:
        self.session = session

    def _error(self, message: str, request: str, recording_id: str, **kw: Any) -> ApiError:
        return ApiError(
            self.session.redact(f"recording {recording_id}: {message}"),
            target=self.session.target,
            request=request,
            **kw,
        )

    async def recording_values(
        self,
        organization_id: str,
        conversation_type_id: str,
        start: str,
        end: str,
        recording_id: str,
    ) -> RecordingValues:
        """Metric values of one recording (``filterBy=RECORDING``), following pages defensively.

        ``start`` and ``end`` are ISO 8601 date-times. A 404 means Siro does not know the
        recording (or the token's user cannot see it); the error says so.
        """
        request = f"GET {VALUES_PATH}"
        params: dict[str, Any] = {
            "requestedOrganizationId": organization_id,
            "conversationTypeId": conversation_type_id,
            "startAt": start,
            "endAt": end,
            "filterByIds": recording_id,
            "filterBy": "RECORDING",
        }
        pages: list[_Page] = []
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            body = await self._get(request, params, recording_id)
            pages.append(self._parse_page(body, request, recording_id))
            cursor = self._next_cursor(body)
            if cursor is None or cursor in seen:
                return self._merge(recording_id, pages)
            seen.add(cursor)
            params = {**params, "cursor": cursor}
        raise self._error("too many pages", request, recording_id)

    async def _get(self, request: str, params: dict[str, Any], recording_id: str) -> Any:
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
                    recording_id,
                    status=404,
                ) from exc
            raise
        return response_json(response, request, self.session.target)

    def _parse_page(self, body: Any, request: str, recording_id: str) -> _Page:
        if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
            raise self._error('malformed response: expected {"data": {...}}', request, recording_id)
        try:
            return _Page.model_validate(body["data"])
        except ValidationError as exc:
            first = exc.errors(include_input=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            text = f"malformed response: data.{where}: {first['msg']}"
            raise self._error(text, request, recording_id) from exc

    @staticmethod
    def _next_cursor(body: dict[str, Any]) -> str | None:
        if body.get("hasNextPage") is not True:
            return None
        cursor = body.get("cursor")
        if cursor is None or cursor == "":
            return None
        return str(cursor)

    @staticmethod
    def _merge(recording_id: str, pages: list[_Page]) -> RecordingValues:
        first = pages[0]
        values = tuple(v for page in pages for v in page.metric_values)
        return RecordingValues(
            recording_id=recording_id,
            recordings_evaluated_count=int(first.recordings_evaluated_count),
            metric_values=values,
            start_at=first.start_at,
            end_at=first.end_at,
        )
