"""The fast bench server (bench/_fast_server.py) answers a plan's reads byte for byte as the
emulator does: the plan benchmark's numbers against it are honest only then. Both are real
servers on 127.0.0.1 (ephemeral ports) over one database file, asked over keep-alive
connections."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bench._fast_server import FastServer
from reconciler.emulator import EmulatorConfig, RunningEmulator, Store, start_in_thread

KEY = "zelto-bench-key"
UNKNOWN = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """Conversations whose records hold what JSON rendering can get wrong: non-ASCII, quotes,
    nulls, floats, no records at all."""
    db = tmp_path_factory.mktemp("fast") / "state.sqlite"
    store = Store(db)
    try:
        ids = [store.add_conversation(name=f"Gespräch “{n}”") for n in range(3)]
        store.put_metric(ids[0], label="Label 0", verdict="pass", score=7, externalId="qa-0")
        store.put_metric(ids[0], label="Ünïcode ✓", verdict="fail", score=0.5, note='a "q"\n')
        store.put_metric(ids[1], label="Label 1", verdict=None, externalId=None, source="api")
    finally:
        store.close()
    return db, ids


@pytest.fixture(scope="module")
def servers(seeded: tuple[Path, list[str]]) -> Iterator[tuple[RunningEmulator, FastServer]]:
    db, _ = seeded
    config = EmulatorConfig(db_path=db, zelto_api_key=KEY)
    with FastServer(db, api_key=KEY) as fast, start_in_thread(config) as emulator:
        yield emulator, fast


def _answers(url: str, requests: list[tuple[str, dict[str, str]]]) -> list[tuple[object, ...]]:
    """Status, the headers a client reads, and the body of each request, all on one connection."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    got: list[tuple[object, ...]] = []
    try:
        for path, headers in requests:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            body = response.read()
            kept = {k: response.getheader(k) for k in ("content-type", "content-length")}
            got.append((path, response.status, kept, body))
    finally:
        connection.close()
    return got


def test_the_fast_server_answers_reads_as_the_emulator_does(
    seeded: tuple[Path, list[str]], servers: tuple[RunningEmulator, FastServer]
) -> None:
    _, ids = seeded
    emulator, fast = servers
    good = {"Authorization": f"Bearer {KEY}"}
    requests = [
        *((f"/v1/conversations/{cid}/customer-metrics", good) for cid in ids),
        *((f"/v1/conversations/{cid}", good) for cid in ids),
        (f"/v1/conversations/{ids[0].upper()}/customer-metrics", good),  # ids are case-blind
        (f"/v1/conversations/{UNKNOWN}/customer-metrics", good),
        ("/v1/conversations/not-a-uuid", good),
        (f"/v1/conversations/{ids[0]}/customer-metrics", {"Authorization": "Bearer wrong"}),
        (f"/v1/conversations/{ids[0]}/customer-metrics", {}),
        (f"/v1/conversations/{ids[0]}", {"Authorization": f"bearer  {KEY} "}),
    ]
    theirs = _answers(emulator.url, requests)
    ours = _answers(fast.url, requests)
    assert ours == theirs
    statuses = [status for _, status, _, _ in ours]
    assert statuses == [200] * 7 + [404, 404, 401, 401, 200]
    assert fast.request_counts() == {("*", "*"): len(requests)}  # it counts every request
