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
"""

from __future__ import annotations

import ipaddress
import json as jsonlib
import os
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp
import httpx

__all__ = ["AiohttpWire", "TransportWire", "Wire", "encode_json", "env_proxy"]


class Wire(Protocol):
    async def send(
        self, method: str, url: str, *, json: Any, params: Mapping[str, Any] | None
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
    if _is_loopback(host) or (no_proxy and _bypassed(host, no_proxy)):
        return None
    return lowered.get(f"{parts.scheme}_proxy") or lowered.get("all_proxy")


def _is_loopback(host: str) -> bool:
    """The embedded emulator never goes through a proxy."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bypassed(host: str, no_proxy: str) -> bool:
    entries = [e.strip().lower().lstrip(".") for e in no_proxy.split(",") if e.strip()]
    name = host.lower()
    return any(e in {"*", name} or name.endswith("." + e) for e in entries)


def _query(params: Mapping[str, Any] | None) -> tuple[tuple[str, str], ...] | None:
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
    are not decompressed by aiohttp: ``httpx.Response`` decodes them by ``Content-Encoding``.
    """

    def __init__(
        self,
        *,
        connections: int,
        timeout_seconds: float,
        headers: Mapping[str, str],
        proxy: str | None = None,
    ) -> None:
        self._proxy = proxy
        self._connections = connections
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._headers = dict(headers)
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        # Created on first use: an aiohttp session belongs to the running event loop.
        connector = aiohttp.TCPConnector(
            limit=self._connections, ssl=httpx.create_ssl_context(verify=True)
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers=self._headers,
            timeout=self._timeout,
            auto_decompress=False,
        )
        return self._session

    async def send(
        self, method: str, url: str, *, json: Any, params: Mapping[str, Any] | None
    ) -> httpx.Response:
        session = self._session or self._open()
        body = None if json is None else encode_json(json)
        headers = {"Content-Type": "application/json"} if body is not None else None
        async with session.request(
            method,
            url,
            params=_query(params),
            data=body,
            headers=headers,
            allow_redirects=False,
            proxy=self._proxy,
        ) as answer:
            content = await answer.read()
            return httpx.Response(
                answer.status,
                headers=answer.raw_headers,
                content=content,
                extensions={"reason_phrase": (answer.reason or "").encode()},
            )

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
    ) -> None:
        self._transport = transport
        self._headers = httpx.Headers(dict(headers))
        limit = timeout_seconds
        self._extensions = {
            "timeout": {"connect": limit, "read": limit, "write": limit, "pool": limit}
        }

    async def send(
        self, method: str, url: str, *, json: Any, params: Mapping[str, Any] | None
    ) -> httpx.Response:
        request = httpx.Request(
            method,
            url,
            params=_query(params),
            json=json,
            headers=self._headers,
            extensions=self._extensions,
        )
        response = await self._transport.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
        response.request = request
        return response

    async def aclose(self) -> None:
        await self._transport.aclose()
