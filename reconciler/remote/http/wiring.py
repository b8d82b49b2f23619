"""Which wire a session sends through: the one decision, made once per session.

- ``direct`` (the default): :class:`~reconciler.remote.http.direct.DirectWire`, HTTP/1.1 on
  asyncio's transports, the least client CPU per request (docs/performance.md). A session whose
  traffic goes through a proxy (``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``, minus
  ``NO_PROXY``) takes aiohttp's wire instead: the direct wire does not speak ``CONNECT``.
- ``aiohttp``: aiohttp's pool, answers wrapped as ``httpx.Response``.
- ``httpx``: httpcore's pool; or any ``httpx`` transport passed in (tests use one for faults no
  server produces).
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from reconciler.remote.http.direct import DirectWire
from reconciler.remote.http.wire import AiohttpWire, TransportWire, Wire, env_proxy

__all__ = ["open_wire"]


def open_wire(
    name: str,
    transport: httpx.AsyncBaseTransport | None,
    *,
    base_url: str,
    connections: int,
    timeout_seconds: float,
    headers: Mapping[str, str],
    max_body_bytes: int,
) -> Wire:
    """The wire for one session to ``base_url`` (see the module's docstring)."""
    if transport is None and name in {"direct", "aiohttp"}:
        proxy = env_proxy(base_url)
        if name == "direct" and proxy is None:
            return DirectWire(
                base_url, connections=connections, headers=headers, max_body_bytes=max_body_bytes
            )
        return AiohttpWire(
            connections=connections, headers=headers, max_body_bytes=max_body_bytes, proxy=proxy
        )
    if transport is None:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        transport = httpx.AsyncHTTPTransport(limits=limits, verify=True)
    return TransportWire(
        transport, timeout_seconds=timeout_seconds, headers=headers, max_body_bytes=max_body_bytes
    )
