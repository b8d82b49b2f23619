"""Turning failed HTTP exchanges into one readable line.

Zelto's error body shape is not public (docs/zelto-api.md: ASSUMED "JSON with a human-readable
message somewhere in it"); Siro documents ``{"error": "..."}`` and Zod's ``{"name": "ZodError",
"issues": [...]}``. So the message is looked for wherever it usually is, shown verbatim, and
truncated: we never guess more than the server said.

Every cut goes through :func:`shorten`, which redacts the whole text first: cutting first would
leave the head of a token that straddles the cut, and the server chooses where that falls.
A hostile body (JSON nested past the stack, invalid UTF-8) yields a plain message, never a
traceback.
"""

from __future__ import annotations

import json
import socket
import ssl
from typing import TYPE_CHECKING, Any

import aiohttp
import httpx

from reconciler.contract.zelto import ERROR_MESSAGE_PATH
from reconciler.remote.http.policy import TRANSIENT_STATUSES
from reconciler.remote.http.redaction import redact

if TYPE_CHECKING:
    from reconciler.remote.http.policy import Secret

__all__ = [
    "MAX_MESSAGE",
    "describe_transport_error",
    "is_certificate_error",
    "is_proxy_refusal",
    "server_message",
    "shorten",
    "status_text",
]

#: Longest server message shown; a server may answer an error with a whole HTML page.
MAX_MESSAGE = 300
_MESSAGE_KEYS = ("message", "error", "detail", "title", "description", "msg", "reason")
_MAX_DEPTH = 4


def shorten(text: str, *secrets: Secret | None) -> str:
    """One line of at most MAX_MESSAGE characters, redacted before it is cut."""
    flat = " ".join(redact(text, *secrets).split())
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


def server_message(response: httpx.Response, *secrets: Secret | None) -> str:
    """The server's own words about an error, redacted then cut; empty when it said nothing.

    The raw text is redacted as well as the message found in it: JSON may carry the token
    escaped (``\\u0073...``), which only decoding reveals.
    """
    try:
        text = response.content.decode(response.encoding or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        text = response.content.decode("utf-8", errors="replace")
    if not text.strip():
        return ""
    try:
        body = json.loads(text)
        found = (
            _at_path(body, ERROR_MESSAGE_PATH)
            or _find_message(body)
            or json.dumps(body, ensure_ascii=False)
        )
    except (ValueError, RecursionError):  # not JSON, or nested deeper than the stack
        return shorten(text, *secrets)
    return shorten(found, *secrets)


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


def is_unresolvable_host(exc: BaseException) -> bool:
    """The API's host name does not resolve (aiohttp's DNS error, or the resolver's own
    ``socket.gaierror`` under httpx): retrying cannot fix a misspelt URL."""
    return any(
        isinstance(e, socket.gaierror | aiohttp.ClientConnectorDNSError) for e in _causes(exc)
    )


def is_proxy_refusal(exc: BaseException) -> bool:
    """The proxy answered the CONNECT with a final status (403, 407): retrying cannot help."""
    return any(
        isinstance(e, aiohttp.ClientHttpProxyError) and e.status not in TRANSIENT_STATUSES
        for e in _causes(exc)
    )


def _aiohttp_cause(exc: BaseException) -> BaseException | None:
    """httpx-aiohttp maps aiohttp errors coarsely (a dropped connection becomes ConnectTimeout);
    the original, kept as ``__cause__``, says what really happened."""
    return next((e for e in _causes(exc) if isinstance(e, aiohttp.ClientError)), None)


def _describe_aiohttp(
    exc: BaseException, timeout: float, secrets: tuple[Secret | None, ...]
) -> str:
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return f"the proxy answered HTTP {exc.status} {exc.message}".rstrip()
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {exc.host}:{exc.port} ({exc.os_error.strerror or exc.os_error})"
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return f"timed out after {timeout:g} s"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection before answering"
    return f"connection error: {shorten(str(exc), *secrets) or type(exc).__name__}"


def describe_transport_error(
    exc: BaseException, timeout: float, *secrets: Secret | None, host: str = ""
) -> str:
    """A short phrase for a failure below HTTP: what the user can act on, no traceback.

    aiohttp names the proxy URL in its errors, userinfo included: :func:`shorten` drops it.
    """
    if is_certificate_error(exc):
        return "TLS certificate verification failed (the server's certificate is not trusted)"
    if is_unresolvable_host(exc):
        return f"the host name {host or ''} does not resolve (check the URL; not retried)".replace(
            "  ", " "
        )
    cause = _aiohttp_cause(exc)
    if cause is not None:
        return _describe_aiohttp(cause, timeout, secrets)
    if isinstance(exc, httpx.ConnectTimeout):
        return f"timed out connecting after {timeout:g} s"
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return f"timed out after {timeout:g} s"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect ({shorten(str(exc), *secrets) or 'connection refused'})"
    if isinstance(exc, httpx.RemoteProtocolError):
        return (
            f"the server broke the connection ({shorten(str(exc), *secrets) or 'protocol error'})"
        )
    detail = shorten(str(exc), *secrets)
    return f"connection lost ({detail})" if detail else f"connection lost ({type(exc).__name__})"
