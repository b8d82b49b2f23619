"""The wire: how one request/response exchange travels. The session above it owns the policy.

Two wires, one contract (send a request, return an ``httpx.Response`` with its body read):

- :class:`AiohttpWire`, the default. aiohttp sends the request and its answer is wrapped as an
  ``httpx.Response``. Client CPU per request (docs/performance.md): 220–400 µs, against 650–900 µs
  for ``httpx.AsyncClient`` over the ``httpx-aiohttp`` transport. Building an ``httpx.Request``
  re-validates the URL character by character, and the body streams through two adapters. With
  32 reads in flight, client CPU per response is what separates the reading phase from its floor.
- :class:`TransportWire`: any ``httpx.AsyncBaseTransport`` (httpcore's pool, or a test's fake
  for a fault the emulator cannot produce).

Callers see httpx only: ``httpx.Response`` and httpx's exceptions from the transport wire;
aiohttp's exceptions are classified and described by the session like httpx's.

Two rules hold on both wires (docs/security.md):

- The credential travels per request, never as a session default: aiohttp copies a session's
  default headers onto the CONNECT it sends to an ``HTTPS_PROXY``, so a default
  ``Authorization`` reached the proxy (as ``Proxy-Authorization``).
- A body is read with a cap on its *decoded* size (:class:`BodyTooLargeError`): a 1.4 MB gzip
  body can inflate to 1.5 GB. Bodies are decompressed here, bounded, and handed to
  ``httpx.Response`` without their ``Content-Encoding``.
"""

from __future__ import annotations

import functools
import json as jsonlib
import os
import ssl
import zlib
from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp
import httpx

from reconciler.remote.http.urls import check_proxy_url, is_loopback

__all__ = [
    "AiohttpWire",
    "BodyTooLargeError",
    "TransportWire",
    "Wire",
    "decode_body",
    "decoded_answer",
    "encode_json",
    "env_proxy",
    "query_pairs",
    "read_capped",
    "tls_context",
    "too_large",
]

#: Headers the wire replaces: the body is handed on decoded, so its encoding and length change.
_BODY_HEADERS = frozenset({b"content-encoding", b"content-length"})


class BodyTooLargeError(ValueError):
    """A response body over the cap, or one in an encoding we did not ask for."""


class Wire(Protocol):
    async def send(
        self,
        method: str,
        url: str,
        *,
        json: Any,
        params: Mapping[str, Any] | None,
        credentials: Mapping[str, str],
    ) -> httpx.Response: ...

    async def aclose(self) -> None: ...


def encode_json(value: Any) -> bytes:
    """The body bytes httpx would send for ``json=value`` (compact, UTF-8, no NaN)."""
    return jsonlib.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def env_proxy(url: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The proxy the environment names for ``url`` (``HTTPS_PROXY`` etc.), honouring
    ``NO_PROXY``; None when there is none, and always None for loopback."""
    parts = urlsplit(url)
    env = os.environ if environ is None else environ
    lowered = {k.lower(): v for k, v in env.items() if k.lower().endswith("_proxy") and v}
    no_proxy = lowered.get("no_proxy", "")
    host = parts.hostname or ""
    if is_loopback(host) or (no_proxy and _bypassed(host, no_proxy)):
        return None  # the embedded emulator never goes through a proxy
    for name in (f"{parts.scheme}_proxy", "all_proxy"):
        if name in lowered:
            return check_proxy_url(lowered[name], name.upper())
    return None


def _bypassed(host: str, no_proxy: str) -> bool:
    entries = [e.strip().lower().lstrip(".") for e in no_proxy.split(",") if e.strip()]
    name = host.lower()
    return any(e in {"*", name} or name.endswith("." + e) for e in entries)


def decode_body(raw: bytes, encoding: str, limit: int) -> bytes:
    """``raw`` decoded by its ``Content-Encoding``, refusing more than ``limit`` decoded bytes."""
    name = encoding.strip().lower()
    if name in {"", "identity"}:
        decoded = raw
    elif name in {"gzip", "x-gzip", "deflate"}:
        decoded = _inflate(raw, name, limit)
    else:
        raise BodyTooLargeError(f"the body is in an encoding we did not ask for ({name})")
    if len(decoded) > limit:
        raise BodyTooLargeError(too_large(limit))
    return decoded


def _inflate(raw: bytes, name: str, limit: int) -> bytes:
    # gzip has its header; "deflate" is zlib-wrapped by the RFC but raw in some servers.
    wbits = (16 + zlib.MAX_WBITS,) if name != "deflate" else (zlib.MAX_WBITS, -zlib.MAX_WBITS)
    for bits in wbits:
        inflater = zlib.decompressobj(bits)
        try:
            decoded = inflater.decompress(raw, limit + 1)
        except zlib.error:
            continue
        if len(decoded) > limit or inflater.unconsumed_tail:
            raise BodyTooLargeError(too_large(limit))
        return decoded
    raise BodyTooLargeError(f"the {name} body does not decompress")


async def read_capped(pieces: AsyncIterator[bytes], limit: int) -> bytes:
    """The pieces joined, abandoned as soon as they pass ``limit`` bytes."""
    kept: list[bytes] = []
    size = 0
    async for piece in pieces:
        size += len(piece)
        if size > limit:
            raise BodyTooLargeError(too_large(limit))
        kept.append(piece)
    return b"".join(kept)


def too_large(limit: int) -> str:
    return f"the response body is over {limit:,} bytes (the cap on a response; not read further)"


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's default verifying context (certifi), built once per process: loading the bundle
    took 0.3 s of client CPU, and every session (each plan's reads, each apply) paid it."""
    return httpx.create_ssl_context(verify=True)


def decoded_answer(
    status: int, raw_headers: list[tuple[bytes, bytes]], raw: bytes, reason: bytes, limit: int
) -> httpx.Response:
    """The answer as callers see it: the body decoded by its ``Content-Encoding`` under the cap
    (:func:`decode_body`), handed on without the ``Content-Encoding`` and ``Content-Length``
    that no longer describe it."""
    encoding = next((v for k, v in raw_headers if k.lower() == b"content-encoding"), b"")
    content = decode_body(raw, encoding.decode("latin-1"), limit)
    headers = [h for h in raw_headers if h[0].lower() not in _BODY_HEADERS]
    return answered(status, headers, content, reason)


def answered(
    status: int, headers: list[tuple[bytes, bytes]], content: bytes, reason: bytes
) -> httpx.Response:
    """An ``httpx.Response`` whose (decoded, capped) body is already in hand.

    ``httpx.Response(content=...)`` re-encodes the body as a stream, adds a ``Content-Length`` and
    reads the stream back through its decoders: 70 µs a response, about a tenth of the client's
    CPU per request at 64 in flight (py-spy, docs/performance.md). Given the stream, httpx does
    none of that; the body is then set where ``Response.read()`` keeps what it read, so
    ``.content``, ``.text`` and ``.json()`` behave as after a read
    (``tests/unit/test_http_wire.py`` compares the two with httpx's own).
    """
    response = httpx.Response(
        status,
        headers=headers,
        stream=httpx.ByteStream(content),
        extensions={"reason_phrase": reason},
    )
    response._content = content  # what read() stores; httpx is pinned in constraints.txt
    response.is_stream_consumed = response.is_closed = True
    return response


def query_pairs(params: Mapping[str, Any] | None) -> tuple[tuple[str, str], ...] | None:
    """Query pairs in order; a list or tuple value repeats its parameter (``ids=a&ids=b``): the
    list encoding is an assumption kept in the Siro registry (``list_encoding``)."""
    if not params:
        return None
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        items = value if isinstance(value, list | tuple) else (value,)
        pairs.extend((key, str(item)) for item in items)
    return tuple(pairs)


class AiohttpWire:
    """aiohttp's connection pool, answers wrapped as ``httpx.Response``.

    TLS verification uses httpx's default context (certifi), as with httpx itself. A proxy from
    ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` is looked up once for the endpoint's host
    (aiohttp's ``trust_env`` looks it up on every request: measured 2.5× the client CPU). Bodies
    are not decompressed by aiohttp: :func:`decode_body` does it, capped.

    aiohttp keeps no timers of its own: the session bounds every attempt as a whole (connect,
    send, read) with ``asyncio.timeout`` (``HttpSession._send``), and aiohttp's ``total`` timeout
    with the same value only armed and cancelled two more timers per request. A caller of this
    wire outside the session must bound its sends itself.
    """

    def __init__(
        self,
        *,
        connections: int,
        headers: Mapping[str, str],
        max_body_bytes: int,
        proxy: str | None = None,
    ) -> None:
        self._proxy = proxy
        self._limit = max_body_bytes
        self._connections = connections
        self._timeout = aiohttp.ClientTimeout(total=None, connect=None, sock_connect=None)
        self._headers = dict(headers)
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        # Created on first use: an aiohttp session belongs to the running event loop.
        connector = aiohttp.TCPConnector(limit=self._connections, ssl=tls_context())
        # No default headers: aiohttp copies them onto the proxy's CONNECT request.
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=self._timeout, auto_decompress=False
        )
        return self._session

    async def send(
        self,
        method: str,
        url: str,
        *,
        json: Any,
        params: Mapping[str, Any] | None,
        credentials: Mapping[str, str],
    ) -> httpx.Response:
        session = self._session or self._open()
        body = None if json is None else encode_json(json)
        headers = {**self._headers, **credentials}
        if body is not None:
            headers["Content-Type"] = "application/json"
        async with session.request(
            method,
            url,
            params=query_pairs(params),
            data=body,
            headers=headers,
            allow_redirects=False,
            proxy=self._proxy,
        ) as answer:
            raw = await self._read(answer)
            reason = (answer.reason or "").encode()
            return decoded_answer(answer.status, list(answer.raw_headers), raw, reason, self._limit)

    async def _read(self, answer: aiohttp.ClientResponse) -> bytes:
        """The raw body, at most the cap: a declared length is checked before reading; an
        undeclared one (chunked) is read piece by piece and abandoned past the cap."""
        declared = answer.content_length
        if declared is not None and declared <= self._limit:
            return await answer.read()  # the parser stops at the declared length
        if declared is not None:
            raise BodyTooLargeError(too_large(self._limit))
        return await read_capped(answer.content.iter_any(), self._limit)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


class TransportWire:
    """An ``httpx`` transport driven directly, without ``AsyncClient`` (whose per-request
    pipeline of cookies, auth flows, redirects and hooks we do not use)."""

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport,
        *,
        timeout_seconds: float,
        headers: Mapping[str, str],
        max_body_bytes: int,
    ) -> None:
        self._transport = transport
        self._headers = dict(headers)
        self._limit = max_body_bytes
        limit = timeout_seconds
        self._extensions = {
            "timeout": {"connect": limit, "read": limit, "write": limit, "pool": limit}
        }

    async def send(
        self,
        method: str,
        url: str,
        *,
        json: Any,
        params: Mapping[str, Any] | None,
        credentials: Mapping[str, str],
    ) -> httpx.Response:
        request = httpx.Request(
            method,
            url,
            params=query_pairs(params),
            json=json,
            headers={**self._headers, **credentials},
            extensions=self._extensions,
        )
        response = await self._transport.handle_async_request(request)
        if response.is_stream_consumed:  # a test's transport built it from bytes: decoded
            response.request = request
            return response
        try:
            raw = await read_capped(response.aiter_raw(), self._limit)
        finally:
            await response.aclose()
        encoding = response.headers.get("Content-Encoding", "")
        return httpx.Response(
            response.status_code,
            headers=[h for h in response.headers.raw if h[0].lower() not in _BODY_HEADERS],
            content=decode_body(raw, encoding, self._limit),
            extensions=response.extensions,
            request=request,
        )

    async def aclose(self) -> None:
        await self._transport.aclose()
