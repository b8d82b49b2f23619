"""The emulator's answers as HTTP/1.1 bytes, for bench/_fast_server.py: rendered with the
emulator's own code (its store, ``ZeltoApi.metrics_page``, the Starlette ``JSONResponse`` its
handlers return), so the fast server serves the emulator's bytes, not an imitation."""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass
from http import HTTPStatus

from starlette.responses import JSONResponse

from reconciler.emulator import EmulatorApp
from reconciler.emulator.store import Organization
from reconciler.emulator.zelto_api import ZeltoApi


def http_bytes(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> bytes:
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}".encode()]
    lines += [name + b": " + value for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def rendered(response: JSONResponse) -> bytes:
    return http_bytes(response.status_code, response.raw_headers, bytes(response.body))


@dataclass(frozen=True)
class Reads:
    """How one organization's reads are rendered: at start, and again after a write."""

    api: ZeltoApi
    org: Organization

    def answers(self, conversation_id: str) -> dict[bytes, bytes]:
        """A conversation's two GET answers by request path (none when it does not exist).

        The bodies come from the emulator's own store methods and ``ZeltoApi.metrics_page``,
        put into the ``JSONResponse`` its handlers return: not a second rendering of the shape.
        """
        conversation = self.api.store.get_conversation(self.org.id, conversation_id)
        if conversation is None:
            return {}
        base = f"/v1/conversations/{conversation_id}"
        answers = {base.encode(): rendered(JSONResponse(conversation))}
        if self.org.metrics_enabled:  # else the emulator's 403, through its app
            page = self.api.metrics_page(conversation["id"])
            answers[f"{base}/customer-metrics".encode()] = rendered(JSONResponse(page))
        return answers


def render_reads(app: EmulatorApp, db: str, api_key: str) -> tuple[Reads, dict[bytes, bytes]]:
    """Every conversation's two GET answers for ``api_key``'s organization, by request path."""
    org = app.store.organization_for_key(api_key)
    if org is None:
        raise SystemExit("the API key has no organization in this database")
    reads = Reads(ZeltoApi(app.store), org)
    # Which conversations exist is the one thing the store has no method for.
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as listing:
        query = "SELECT id FROM conversations WHERE organization_id = ? ORDER BY id"
        ids = [row[0] for row in listing.execute(query, (org.id,))]
    answers: dict[bytes, bytes] = {}
    for cid in ids:
        answers.update(reads.answers(cid))
    return reads, answers
