"""Turning failed HTTP exchanges into one readable line.

Zelto's error body shape is not public (docs/zelto-api.md: ASSUMED "JSON with a human-readable
message somewhere in it"); Siro documents ``{"error": "..."}`` and Zod's ``{"name": "ZodError",
"issues": [...]}``. So the message is looked for wherever it usually is, shown verbatim, and
truncated: we never guess more than the server said.
"""

from __future__ import annotations

import json
import ssl
from typing import Any

import aiohttp
import httpx

from reconciler.contract.zelto import ERROR_MESSAGE_PATH

__all__ = [
    "MAX_MESSAGE",
    "describe_transport_error",
    "is_certificate_error",
    "server_message",
    "status_text",
]

#: Longest server message shown; a server may answer an error with a whole HTML page.
MAX_MESSAGE = 300
_MESSAGE_KEYS = ("message", "error", "detail", "title", "description", "msg", "reason")
_MAX_DEPTH = 4


def _truncate(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_MESSAGE else flat[: MAX_MESSAGE - 1] + "…"


def status_text(response: httpx.Response) -> str:
    """``HTTP 503 Service Unavailable``."""
    reason = response.reason_phrase
    return f"HTTP {response.status_code} {reason}".rstrip()


def _zod_issues(body: dict[str, Any]) -> str | None:
    issues = body.get("issues")
    if not isinstance(issues, list) or not issues:
        return None
    rendered = []
    for issue in issues:
        if not isinstance(issue, dict):
            continue
        path = issue.get("path")
        where = ".".join(str(p) for p in path) if isinstance(path, list) and path else ""
        text = str(issue.get("message", issue.get("code", "invalid")))
        rendered.append(f"{where}: {text}" if where else text)
    return "; ".join(rendered) if rendered else None


def _find_message(value: Any, depth: int = 0) -> str | None:
    """The first human-readable string under a conventional key, searched breadth-first."""
    if depth > _MAX_DEPTH:
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, list):
        texts = [t for item in value[:5] if (t := _find_message(item, depth + 1))]
        return "; ".join(texts) if texts else None
    if not isinstance(value, dict):
        return None
    zod = _zod_issues(value)
    if zod is not None:
        return zod
    for key in _MESSAGE_KEYS:
        if isinstance(value.get(key), str) and value[key]:
            return str(value[key])
    for key in (*_MESSAGE_KEYS, "errors"):
        if key in value:
            found = _find_message(value[key], depth + 1)
            if found:
                return found
    return None


def _at_path(body: Any, path: tuple[str, ...]) -> str | None:
    """The string at the registered place of an error message (Zelto registry: error_message)."""
    for key in path:
        if not isinstance(body, dict):
            return None
        body = body.get(key)
    return body if isinstance(body, str) and body else None


def server_message(response: httpx.Response) -> str:
    """The server's own words about an error, truncated; empty when it said nothing useful."""
    try:
        text = response.text
    except (httpx.HTTPError, UnicodeDecodeError):
        return ""
    if not text.strip():
        return ""
    try:
        body = json.loads(text)
    except ValueError:
        return _truncate(text)
    found = _at_path(body, ERROR_MESSAGE_PATH) or _find_message(body)
    if found:
        return _truncate(found)
    return _truncate(json.dumps(body, ensure_ascii=False))


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and what it was raised from, outermost first (bounded: chains can loop)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 6:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def is_certificate_error(exc: BaseException) -> bool:
    """A TLS certificate the client refuses: retrying cannot help, and the user must know."""
    return any(
        isinstance(e, ssl.SSLCertVerificationError | aiohttp.ClientConnectorCertificateError)
        for e in _causes(exc)
    )


def _aiohttp_cause(exc: BaseException) -> BaseException | None:
    """httpx-aiohttp maps aiohttp errors coarsely (a dropped connection becomes ConnectTimeout);
    the original, kept as ``__cause__``, says what really happened."""
    return next((e for e in _causes(exc) if isinstance(e, aiohttp.ClientError)), None)


def _describe_aiohttp(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {exc.host}:{exc.port} ({exc.os_error.strerror or exc.os_error})"
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return f"timed out after {timeout:g} s"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection before answering"
    return f"connection error: {_truncate(str(exc)) or type(exc).__name__}"


def describe_transport_error(exc: BaseException, timeout: float) -> str:
    """A short phrase for a failure below HTTP: what the user can act on, no traceback."""
    if is_certificate_error(exc):
        return "TLS certificate verification failed (the server's certificate is not trusted)"
    cause = _aiohttp_cause(exc)
    if cause is not None:
        return _describe_aiohttp(cause, timeout)
    if isinstance(exc, httpx.ConnectTimeout):
        return f"timed out connecting after {timeout:g} s"
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return f"timed out after {timeout:g} s"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect ({_truncate(str(exc)) or 'connection refused'})"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"the server broke the connection ({_truncate(str(exc)) or 'protocol error'})"
    detail = _truncate(str(exc))
    return f"connection lost ({detail})" if detail else f"connection lost ({type(exc).__name__})"
