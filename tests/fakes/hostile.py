"""Hostile peers on 127.0.0.1 for the network hardening tests (issue 12).

Fakes, not the emulator: a proxy that records what reaches it, and a server that answers every
request with bytes a test chooses (a gzip bomb, JSON nested past the stack, a token echoed in
many encodings). The emulator should not learn to attack its own client, and a forward proxy
is not part of it at all.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

__all__ = ["RawServer", "http_answer", "raw_server", "read_head"]

#: Builds the raw HTTP answer (status line, headers, body) for the request head it was sent: all
#: at once, or as chunks sent one after the other (a slow peer).
Answer = Callable[[bytes], bytes | Iterable[bytes]]


@dataclass
class RawServer:
    """What the peer saw: the head of every request (or CONNECT) that reached it."""

    port: int
    heads: list[bytes] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def seen(self) -> bytes:
        return b"".join(self.heads)


def read_head(conn: socket.socket) -> bytes:
    """The request head: bytes up to the blank line (or the peer's end)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def _serve(listener: socket.socket, server: RawServer, answer: Answer) -> None:
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return  # closed at teardown
        with conn:
            try:
                head = read_head(conn)
                server.heads.append(head)
                answered = answer(head)
                for chunk in [answered] if isinstance(answered, bytes) else answered:
                    conn.sendall(chunk)
            except OSError:
                pass  # the client gave up first: what it sent is recorded already


@contextmanager
def raw_server(answer: Answer) -> Iterator[RawServer]:
    """A one-connection-at-a-time HTTP/1.1 peer on 127.0.0.1 (ephemeral port)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    server = RawServer(port=listener.getsockname()[1])
    thread = threading.Thread(target=_serve, args=(listener, server, answer), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        listener.shutdown(socket.SHUT_RDWR)  # wakes the accept(); close() alone does not
        listener.close()
        thread.join(timeout=5)


def http_answer(status: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    """A complete HTTP/1.1 response that closes the connection."""
    lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body
