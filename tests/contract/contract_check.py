"""Contract checking helpers: every emulator response is validated against the OpenAPI files.

``zelto`` / ``siro`` fixtures are httpx clients bound to a fresh emulator whose every response is
checked by openapi-core against ``contracts/*.yaml`` (the repository's copies of
../shared/contracts). Statuses the OpenAPI files do not list for an operation (403, 429, 503 on
Zelto; documented-but-bodiless ones on Siro) are checked against the files' own error schema, so
no response escapes a check. Endpoints the OpenAPI subset lacks (agents, webhook) are checked
against schemas written here from zelto.md.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from ruamel.yaml import YAML
from werkzeug.datastructures import Headers, ImmutableMultiDict

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
ZELTO_SPEC = CONTRACTS / "zelto-openapi.yaml"
SIRO_SPEC = CONTRACTS / "siro-openapi.yaml"
SIRO_PATH = "/v1/core/scorecards/scorecard-metrics/values"

# zelto.md "Agents" and "Conversations" (webhook): not in the OpenAPI subset.
AGENT_PAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["data", "nextCursor"],
    "additionalProperties": False,
    "properties": {
        "nextCursor": {"type": ["string", "null"]},
        "data": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "name", "createdAt", "updatedAt"],
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "name": {"type": "string"},
                    "description": {"type": ["string", "null"]},
                    "externalId": {"type": ["string", "null"]},
                    "provider": {"type": ["string", "null"]},
                    "createdAt": {"type": "string", "format": "date-time"},
                    "updatedAt": {"type": "string", "format": "date-time"},
                },
            },
        },
    },
}
WEBHOOK_ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["received"],
    "properties": {"received": {"const": True}},
}


@cache
def spec_document(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    return loaded


@cache
def _openapi(path: Path) -> OpenAPI:
    """The contract with its production server swapped for any loopback port."""
    spec = json.loads(json.dumps(spec_document(path)))
    spec["servers"] = [{"url": "http://127.0.0.1:{port}", "variables": {"port": {"default": "80"}}}]
    return OpenAPI.from_dict(spec)


class _Request:
    def __init__(self, request: httpx.Request) -> None:
        self.host_url = f"{request.url.scheme}://{request.url.netloc.decode()}"
        self.path = request.url.path
        self.method = request.method.lower()
        self.body = request.content or None
        self.content_type = request.headers.get("content-type", "")
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(list(request.url.params.multi_items())),
            header=Headers(list(request.headers.items())),
        )


class _Response:
    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.content_type = response.headers.get("content-type", "")
        self.headers = Headers(list(response.headers.items()))
        self.data = response.content


def _documented_statuses(spec: dict[str, Any], path_template: str, method: str) -> dict[str, Any]:
    operation = spec["paths"].get(path_template, {}).get(method.lower(), {})
    responses: dict[str, Any] = operation.get("responses", {})
    return responses


def _error_schema(spec_path: Path) -> dict[str, Any]:
    spec = spec_document(spec_path)
    if spec_path == ZELTO_SPEC:
        return {"$ref": "#/components/schemas/Error", "components": spec["components"]}
    schema = spec["components"]["responses"]["Error"]["content"]["application/json"]["schema"]
    return dict(schema)


def _template(path: str) -> str:
    parts = path.split("/")
    if path.startswith("/v1/conversations/") and len(parts) >= 4:
        parts[3] = "{id}"
    return "/".join(parts)


def check_response(response: httpx.Response) -> httpx.Response:
    """Assert the response matches the contract for its operation and status; return it."""
    path = response.request.url.path
    spec_path = SIRO_SPEC if path == SIRO_PATH else ZELTO_SPEC
    template = _template(path)
    if template == "/v1/agents" and response.status_code == 200:
        jsonschema.validate(response.json(), AGENT_PAGE_SCHEMA)
        return response
    if template == "/webhooks/calls" and response.status_code == 200:
        jsonschema.validate(response.json(), WEBHOOK_ANSWER_SCHEMA)
        return response
    documented = _documented_statuses(spec_document(spec_path), template, response.request.method)
    declares_body = "content" in str(documented.get(str(response.status_code), ""))
    if documented and str(response.status_code) in documented and declares_body:
        _openapi(spec_path).validate_response(_Request(response.request), _Response(response))
        return response
    assert response.status_code >= 400, f"undocumented success {response.status_code} on {path}"
    assert response.headers["content-type"].startswith("application/json")
    jsonschema.validate(response.json(), _error_schema(spec_path))
    return response


# httpx builds a TLS context per client (tens of ms); tests make many plain-HTTP clients.
TLS = ssl.create_default_context()


class CheckedClient(httpx.Client):
    """An httpx client whose every response is checked against the contract."""

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        response = super().send(request, **kwargs)
        response.read()
        return check_response(response)


ClientFactory = Callable[..., CheckedClient]
