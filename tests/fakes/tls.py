"""A TLS peer on 127.0.0.1, with a certificate made for the test by the ``openssl`` command.

A fake rather than the emulator: the emulator serves plain HTTP on loopback (TLS would only get
in its users' way), while the client's TLS paths (a certificate no one trusts, a private CA named
by ``SSL_CERT_FILE``) need a server that speaks it. Each connection gets one answer, then closes.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fakes.hostile import read_head

__all__ = ["make_certificate", "tls_server"]


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for IP 127.0.0.1 and its key (skips without ``openssl``)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command to make a certificate")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def _serve_one(
    conn: socket.socket, context: ssl.SSLContext, answer: Callable[[bytes], bytes] | None
) -> None:
    with conn, contextlib.suppress(OSError):
        conn.settimeout(2)
        wrapped = context.wrap_socket(conn, server_side=True)
        if answer is not None:
            wrapped.sendall(answer(read_head(wrapped)))
        wrapped.close()


@contextlib.contextmanager
def tls_server(
    cert: Path, key: Path, answer: Callable[[bytes], bytes] | None = None
) -> Iterator[str]:
    """``https://127.0.0.1:PORT``: each connection is handshaken and, given ``answer``, sent
    ``answer(request head)``; without it the handshake is all (a client that refuses the
    certificate never gets further)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stopping = threading.Event()

    def serve() -> None:
        while not stopping.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            _serve_one(conn, context, answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stopping.set()
        thread.join()
        listener.close()
