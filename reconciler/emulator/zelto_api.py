"""The Zelto endpoints: customer metrics, conversations, the call-upload webhook, agents."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.emulator.contract import (
    AGENT_WITHOUT_METRICS_ACCEPTS_ANY_METRIC_ID,
    AGENTS_LIMIT_DEFAULT,
    AGENTS_LIMIT_MAX,
    AGENTS_LIMIT_MIN,
    ERROR_CODE_FORBIDDEN,
    ERROR_CODE_NOT_FOUND,
    ERROR_CODE_UNAUTHORIZED,
    ERROR_CODE_VALIDATION,
    ROUTE_AGENTS,
    ROUTE_CONVERSATION,
    ROUTE_CUSTOMER_METRICS,
    ROUTE_WEBHOOK_CALLS,
    STATUS_METRIC_SUBMITTED,
    STATUS_METRICS_DISABLED,
    STATUS_NOT_FOUND,
    STATUS_UNAUTHORIZED,
    STATUS_VALIDATION,
    STATUS_WEBHOOK_RECEIVED,
    ZELTO_AUTH_HEADER,
    ZELTO_AUTH_SCHEME,
    is_uuid,
)
from reconciler.emulator.store import Organization, Store
from reconciler.emulator.validation import (
    Problem,
    accepted_fields,
    short,
    validate_metric_body,
)
from reconciler.emulator.webhook import WebhookError, ingest_call

__all__ = ["ZeltoApi", "zelto_error"]


def zelto_error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    """The error body shape of zelto-openapi.yaml (ASSUMED there): {"error": {code, message}}."""
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status)


def _validation_error(problems: list[Problem]) -> JSONResponse:
    details = [{"field": field, "message": message} for field, message in problems]
    message = "; ".join(message for _, message in problems)
    return zelto_error(STATUS_VALIDATION, ERROR_CODE_VALIDATION, message, details=details)


Handler = Callable[[Request], Awaitable[Response]]


class _RefusedError(Exception):
    """A request the API answers with an error response (carried to the handler's caller)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


@dataclass
class ZeltoApi:
    """Handlers bound to one store; routes() gives Starlette routes for them."""

    store: Store
    auto_create_conversations: bool = False
    strict: bool = False

    def routes(self) -> list[Route]:
        return [
            Route(ROUTE_CONVERSATION, self._wrap(self.get_conversation), methods=["GET"]),
            # One route per path, so that a 405's Allow names every method of the resource.
            Route(ROUTE_CUSTOMER_METRICS, self._wrap(self._metrics), methods=["GET", "POST"]),
            Route(ROUTE_WEBHOOK_CALLS, self._wrap(self.upload_call), methods=["POST"]),
            Route(ROUTE_AGENTS, self._wrap(self.list_agents), methods=["GET"]),
        ]

    @staticmethod
    def _wrap(handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                result: Response = await handler(request)
            except _RefusedError as refused:
                return refused.response
            return result

        return endpoint

    async def _metrics(self, request: Request) -> Response:
        if request.method == "POST":
            return await self.submit_metric(request)
        return await self.list_metrics(request)

    # --- shared checks -----------------------------------------------------------------------
    def _organization(self, request: Request) -> Organization:
        header = request.headers.get(ZELTO_AUTH_HEADER, "")
        scheme, _, key = header.partition(" ")
        if not header:
            raise _RefusedError(
                zelto_error(
                    STATUS_UNAUTHORIZED,
                    ERROR_CODE_UNAUTHORIZED,
                    "missing API key: send 'Authorization: Bearer <API key>'",
                )
            )
        org = None
        if scheme.lower() == ZELTO_AUTH_SCHEME and key.strip():
            org = self.store.organization_for_key(key.strip())
        if org is None:
            raise _RefusedError(
                zelto_error(
                    STATUS_UNAUTHORIZED, ERROR_CODE_UNAUTHORIZED, "invalid or revoked API key"
                )
            )
        return org

    @staticmethod
    def _require_metrics(org: Organization) -> None:
        if not org.metrics_enabled:
            raise _RefusedError(
                zelto_error(
                    STATUS_METRICS_DISABLED,
                    ERROR_CODE_FORBIDDEN,
                    "customer metrics are not enabled for this organization",
                )
            )

    def _conversation(self, org: Organization, conversation_id: str) -> dict[str, Any]:
        found = self.store.get_conversation(org.id, conversation_id)
        if (
            found is None
            and self.auto_create_conversations
            and is_uuid(conversation_id)
            and not self.store.conversation_exists(conversation_id)
        ):
            self.store.add_conversation(conversation_id, organization_id=org.id)
            found = self.store.get_conversation(org.id, conversation_id)
        if found is None:
            raise _RefusedError(
                zelto_error(
                    STATUS_NOT_FOUND,
                    ERROR_CODE_NOT_FOUND,
                    f"conversation {short(conversation_id)} not found in this organization",
                )
            )
        return found

    @staticmethod
    async def _json_body(request: Request) -> object:
        raw = await request.body()
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            problem = ("body", f"the body is not valid JSON: {exc}")
            raise _RefusedError(_validation_error([problem])) from None

    # --- endpoints ---------------------------------------------------------------------------
    async def get_conversation(self, request: Request) -> Response:
        org = self._organization(request)
        return JSONResponse(self._conversation(org, request.path_params["id"]))

    async def list_metrics(self, request: Request) -> Response:
        org = self._organization(request)
        self._require_metrics(org)
        conversation = self._conversation(org, request.path_params["id"])
        return JSONResponse(self.metrics_page(conversation["id"]))

    def metrics_page(self, conversation_id: str) -> dict[str, Any]:
        """The body of a conversation's GET customer-metrics, in one place so that
        bench/_fast_server.py serves exactly these bytes (its benchmarks are honest only then)."""
        return {"data": self.store.list_metrics(conversation_id)}

    async def submit_metric(self, request: Request) -> Response:
        org = self._organization(request)
        self._require_metrics(org)
        conversation = self._conversation(org, request.path_params["id"])
        body = await self._json_body(request)
        problems = validate_metric_body(body, strict=self.strict)
        if not problems:
            problems = self._metric_id_problems(conversation, body)  # type: ignore[arg-type]
        if problems:
            return _validation_error(problems)
        record = self.store.submit_metric(conversation, accepted_fields(body))  # type: ignore[arg-type]
        return JSONResponse(record, status_code=STATUS_METRIC_SUBMITTED)

    def _metric_id_problems(
        self, conversation: dict[str, Any], body: dict[str, Any]
    ) -> list[Problem]:
        metric_id = body.get("metricId")
        if metric_id is None:
            return []
        declared = self.store.agent_metric_ids(conversation["agentId"])
        if not declared and AGENT_WITHOUT_METRICS_ACCEPTS_ANY_METRIC_ID:
            return []
        if metric_id.lower() in declared:
            return []
        return [
            (
                "metricId",
                f"metricId {metric_id} is not a metric on the call's agent "
                f"{conversation['agentId']}",
            )
        ]

    async def upload_call(self, request: Request) -> Response:
        org = self._organization(request)
        body = await self._json_body(request)
        try:
            ingest_call(self.store, org.id, body, request.headers)
        except WebhookError as rejected:
            return _validation_error(rejected.problems)
        return JSONResponse({"received": True}, status_code=STATUS_WEBHOOK_RECEIVED)

    async def list_agents(self, request: Request) -> Response:
        org = self._organization(request)
        problems: list[Problem] = []
        limit = _parse_limit(request.query_params.get("limit"), problems)
        after = _parse_cursor(request.query_params.get("cursor"), problems)
        if problems:
            return _validation_error(problems)
        page, next_seq = self.store.list_agents(org.id, after, limit)
        next_cursor = None if next_seq is None else _encode_cursor(next_seq)
        return JSONResponse({"data": page, "nextCursor": next_cursor})


def _parse_limit(raw: str | None, problems: list[Problem]) -> int:
    if raw is None:
        return AGENTS_LIMIT_DEFAULT
    rule = f"limit must be an integer from {AGENTS_LIMIT_MIN} to {AGENTS_LIMIT_MAX}"
    try:
        limit = int(raw)
    except ValueError:
        problems.append(("limit", f"{rule} (got {short(raw)})"))
        return AGENTS_LIMIT_DEFAULT
    if not AGENTS_LIMIT_MIN <= limit <= AGENTS_LIMIT_MAX:
        problems.append(("limit", f"{rule} (got {limit})"))
    return limit


def _encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"agents:{seq}".encode()).decode().rstrip("=")


def _parse_cursor(raw: str | None, problems: list[Problem]) -> int:
    """The opaque cursor is base64 of "agents:<seq>"; anything else is refused, not ignored."""
    if raw is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        prefix, _, seq = text.partition(":")
        if prefix == "agents" and seq.isdigit():
            return int(seq)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    problems.append(("cursor", "cursor is not one this API returned; pass nextCursor unchanged"))
    return 0
