"""The direct wire: HTTP/1.1 to the session's one origin, on asyncio's transports, with
``httptools``' parser (the one uvicorn serves with).

Why a wire of its own: reading a large estate is bound by the client's CPU per request, not by
the network (docs/performance.md, "The direct wire"). aiohttp's client spends most of its
per-request time on what a session to one API does not need: building a URL object and a
request object, a multi-dict of headers, tracing hooks, cookie jars, and a connector that pools
connections for any number of hosts. Here a request is a few bytes joined once, and a response
is parsed in C into exactly what the session reads: status, headers, a capped body.

What it does not do, and who does:

- *A proxy* (``HTTPS_PROXY``...): the choice of wire
  (:func:`~reconciler.remote.http.wiring.open_wire`) sends proxied sessions through aiohttp,
  whose ``CONNECT`` handling is mature.
- *Another origin*: the wire connects only to the origin it was made for and takes only the path
  and query of a URL. Which URLs may carry the credential is decided before, in
  :func:`~reconciler.remote.http.urls.request_url`; a URL of another origin is refused here too.
- *Timeouts*: the session bounds every attempt as a whole (``HttpSession._send``); a cancelled
  exchange closes its connection, so a half-read answer never reaches the next request.

Bounds on what a server can make it hold: the status line and headers together are at most
:data:`MAX_HEAD_BYTES`, and the body follows the same cap as every wire (:func:`decode_body`),
refused as soon as a declared ``Content-Length`` or the bytes received pass it.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httptools
import httpx

from reconciler.remote.http.urls import may_carry_credential, origin
from reconciler.remote.http.wire import (
    BodyTooLargeError,
    decoded_answer,
    encode_json,
    query_pairs,
    tls_context,
    too_large,
)

__all__ = ["MAX_HEAD_BYTES", "DirectWire"]

#: The most a response's status line and headers may take: aiohttp allows 8 KiB a line and
#: 32 KiB of headers; llhttp itself buffers a header of any length.
MAX_HEAD_BYTES = 64 * 1024
#: Characters left as they are in a request target: RFC 3986's path and query characters and
#: ``%`` (a target is often already percent-encoded). Anything else, spaces and line breaks
#: included, is percent-encoded, so no target can end the request line early.
_TARGET_SAFE = "/?:@!$&'()*+,;=%-._~"


def _header_lines(headers: Mapping[str, str]) -> bytes:
    """``Name: value\\r\\n`` for each header; a line break or NUL in one would end the head
    early and let the rest be read as another header (or request), so it is refused."""
    lines = []
    for name, value in headers.items():
        if any(c in name or c in value for c in "\r\n\0") or ":" in name:
            raise httpx.LocalProtocolError(
                f"the {name!r} header holds a line break or NUL (or its name a colon)"
            )
        lines.append(f"{name}: {value}\r\n")
    return "".join(lines).encode("latin-1")


def _reason(exc: OSError) -> str:
    """``Connection refused`` rather than asyncio's ``Connect call failed ('127.0.0.1', 1)``."""
    if isinstance(exc.errno, int) and exc.errno > 0 and not isinstance(exc, ssl.SSLError):
        return os.strerror(exc.errno)
    return exc.strerror or str(exc) or type(exc).__name__


class _Connection(asyncio.Protocol):
    """One keep-alive connection: one exchange at a time, parsed as bytes arrive."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[None] | None = None
        self.closed = False
        self._start()

    def _start(self) -> None:
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.keep_alive = False
        self._pieces: list[bytes] = []
        self._size = 0
        self._head = 0  # bytes of this answer received before its headers ended
        self._head_done = False
        self._delimited = False  # by Content-Length or chunks, not by the connection's end

    @property
    def unanswered(self) -> bool:
        """No byte of an answer to the current request has arrived."""
        return self._head == 0

    @property
    def body(self) -> bytes:
        return b"".join(self._pieces)

    async def exchange(self, request: bytes) -> None:
        """Send ``request`` and wait for the whole response (status, headers, body)."""
        if self.closed or self._transport is None:
            raise httpx.RemoteProtocolError("the server closed the connection before answering")
        self._start()
        self._waiter = asyncio.get_running_loop().create_future()
        self._transport.write(request)
        try:
            await self._waiter
        finally:
            self._waiter = None

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._waiter.done():
            self.close()  # bytes nobody asked for: the connection's state is unknown
            return
        if not self._head_done:
            self._head += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(httpx.RemoteProtocolError("the server switched protocols"))
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"malformed response ({exc})"))
        if not self._head_done and self._head > MAX_HEAD_BYTES:
            self._fail(httpx.RemoteProtocolError(f"response headers over {MAX_HEAD_BYTES} bytes"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._head_done and not self._delimited:
            self._finish()  # HTTP/1.0 style: the body is what came before the end
            return
        error = httpx.RemoteProtocolError("the server closed the connection before answering")
        self._fail(error if exc is None else httpx.ReadError(f"connection lost ({exc})"))

    # httptools callbacks

    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._head_done = True
        self.status = self._parser.get_status_code()
        self.keep_alive = self._parser.should_keep_alive()
        declared = None
        for name, value in self.headers:
            lowered = name.lower()
            if lowered == b"content-length":
                declared = value
            elif lowered == b"transfer-encoding":
                self._delimited = True
        if declared is not None:
            self._delimited = True
            if not declared.strip().isdigit() or int(declared) > self._limit:
                self._fail(BodyTooLargeError(too_large(self._limit)))

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > self._limit:
            self._fail(BodyTooLargeError(too_large(self._limit)))
        else:
            self._pieces.append(body)

    def on_message_complete(self) -> None:
        if 100 <= self.status < 200:  # an interim answer (100 Continue): the real one follows
            self._start()
            return
        self._finish()

    def _finish(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _fail(self, error: Exception) -> None:
        self.keep_alive = False
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(error)
        self.close()


class DirectWire:
    """A pool of keep-alive connections to one origin; no proxy (see the module's docstring)."""

    def __init__(
        self,
        base_url: str,
        *,
        connections: int,
        headers: Mapping[str, str],
        max_body_bytes: int,
    ) -> None:
        where = origin(base_url)
        if where is None:
            raise ValueError(f"the direct wire speaks http and https, not {base_url!r}")
        self._base = base_url
        self._host, self._port, self._tls = where.host, where.port, where.scheme == "https"
        authority = urlsplit(base_url).netloc.rpartition("@")[2]
        self._fixed = _header_lines({"Host": authority, **headers})
        self._limit = max_body_bytes
        self._keep = connections
        self._idle: list[_Connection] = []
        self._credentials: Mapping[str, str] | None = None
        self._credential_lines = b""

    async def send(
        self,
        method: str,
        url: str,
        *,
        json: Any,
        params: Mapping[str, Any] | None,
        credentials: Mapping[str, str],
    ) -> httpx.Response:
        request = self._request(method, url, json, params, credentials)
        connection = self._idle_connection()
        if connection is None or not await self._exchange(connection, request, reused=True):
            connection = await self._connect()
            await self._exchange(connection, request, reused=False)
        status, headers, body, reason = (
            connection.status,
            connection.headers,
            connection.body,
            connection.reason,
        )  # read before the connection can take another request
        self._put_back(connection)
        return decoded_answer(status, headers, body, reason, self._limit)

    @staticmethod
    async def _exchange(connection: _Connection, request: bytes, *, reused: bool) -> bool:
        """Whether ``connection`` answered ``request``. False only for a reused connection that
        the server closed before a byte of answer came: a keep-alive connection may be closed by
        the server at any moment while idle, and the request then never reached it, so it goes
        once on a new connection (as aiohttp and httpcore do); any other failure is raised."""
        try:
            await connection.exchange(request)
        except (httpx.RemoteProtocolError, httpx.ReadError):
            connection.close()
            if reused and connection.unanswered:
                return False
            raise
        except BaseException:
            connection.close()  # cancelled or failed mid-answer: its state is unknown
            raise
        return True

    def _request(
        self,
        method: str,
        url: str,
        json: Any,
        params: Mapping[str, Any] | None,
        credentials: Mapping[str, str],
    ) -> bytes:
        """The request's bytes: request line, headers, body."""
        head = f"{method} {self._target(url, params)} HTTP/1.1\r\n".encode("latin-1")
        if credentials is not self._credentials:  # the session passes the same mapping each time
            self._credential_lines = _header_lines(credentials)
            self._credentials = credentials
        if json is None:
            return b"".join((head, self._fixed, self._credential_lines, b"\r\n"))
        body = encode_json(json)
        framing = f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        return b"".join((head, self._fixed, self._credential_lines, framing.encode(), body))

    def _target(self, url: str, params: Mapping[str, Any] | None) -> str:
        """The path and query of ``url`` with ``params`` appended, for this origin only (the
        credential's rule, :func:`may_carry_credential`, checked again: it is in every request)."""
        if not may_carry_credential(url, self._base):
            raise httpx.UnsupportedProtocol(f"the direct wire sends only to {self._host}")
        parts = urlsplit(url)
        query = parts.query
        pairs = query_pairs(params)
        if pairs:
            query = f"{query}&{urlencode(pairs)}" if query else urlencode(pairs)
        target = quote(parts.path or "/", safe=_TARGET_SAFE)
        return f"{target}?{quote(query, safe=_TARGET_SAFE)}" if query else target

    def _idle_connection(self) -> _Connection | None:
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed:
                return connection
        return None

    def _put_back(self, connection: _Connection) -> None:
        if connection.keep_alive and not connection.closed and len(self._idle) < self._keep:
            self._idle.append(connection)
        else:
            connection.close()

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            _, connection = await loop.create_connection(
                lambda: _Connection(self._limit),
                self._host,
                self._port,
                ssl=tls_context() if self._tls else None,
                server_hostname=self._host if self._tls else None,
            )
        except OSError as exc:  # refused, unreachable, unknown host, untrusted certificate
            raise httpx.ConnectError(f"{self._host}:{self._port}: {_reason(exc)}") from exc
        return connection

    async def aclose(self) -> None:
        while self._idle:
            self._idle.pop().close()
