"""The fast bench server (bench/_fast_server.py) answers a plan's reads and an apply's writes
byte for byte as the emulator does, injected 503s and 429s included: the benchmarks' numbers
against it are honest only then. Both are real servers on 127.0.0.1 (ephemeral ports), asked
over keep-alive connections; the reads over one database file, the writes over two copies of it
(the only bytes allowed to differ are the ids and times a write generates)."""

from __future__ import annotations

import http.client
import json
import re
import shutil
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bench._fast_server import FastServer
from reconciler.emulator import EmulatorConfig, Faults, RunningEmulator, Store, start_in_thread

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


Request = tuple[str, dict[str, str]] | tuple[str, dict[str, str], str, bytes]


def _answers(url: str, requests: list[Request]) -> list[tuple[object, ...]]:
    """Status, the headers a client reads, and the body of each request, all on one connection.
    A request is (path, headers) for a GET, or (path, headers, method, body)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    got: list[tuple[object, ...]] = []
    try:
        for path, headers, *write in requests:
            method, body = write if write else ("GET", None)
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            answer = response.read()
            kept = {
                k: response.getheader(k) for k in ("content-type", "content-length", "retry-after")
            }
            got.append((method, path, response.status, kept, answer))
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
    statuses = [status for _, _, status, _, _ in ours]
    assert statuses == [200] * 7 + [404, 404, 401, 401, 200]
    assert fast.request_counts() == {("*", "*"): len(requests)}  # it counts every request


# What a write generates: a new record's id, and the time of the write.
_GENERATED = re.compile(rb'"id":"[0-9a-f-]{36}"|"\d{4}-\d\d-\d\dT[0-9:.]{12}Z"')


def _without_generated(answers: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    """The answers with every id and time replaced by a placeholder of the same length (so
    Content-Length still compares): the rest must be the same bytes."""

    def placeholder(match: re.Match[bytes]) -> bytes:
        return b"x" * len(match.group(0))

    cleaned = []
    for *head, body in answers:
        assert isinstance(body, bytes)
        cleaned.append((*head, _GENERATED.sub(placeholder, body)))
    return cleaned


@pytest.fixture
def writable(
    seeded: tuple[Path, list[str]], tmp_path: Path
) -> Iterator[tuple[RunningEmulator, FastServer]]:
    """The emulator and the fast server, each over its own copy of the seeded database."""
    db, _ = seeded
    copies = [tmp_path / "emulator.sqlite", tmp_path / "fast.sqlite"]
    for copy in copies:
        shutil.copy(db, copy)
    config = EmulatorConfig(db_path=copies[0], zelto_api_key=KEY)
    with FastServer(copies[1], api_key=KEY) as fast, start_in_thread(config) as emulator:
        yield emulator, fast


def _post(cid: str, body: object, headers: dict[str, str]) -> Request:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    write = {**headers, "Content-Type": "application/json"}
    return f"/v1/conversations/{cid}/customer-metrics", write, "POST", data


def test_the_fast_server_answers_writes_as_the_emulator_does_and_reads_them_back(
    seeded: tuple[Path, list[str]], writable: tuple[RunningEmulator, FastServer]
) -> None:
    _, ids = seeded
    emulator, fast = writable
    good = {"Authorization": f"Bearer {KEY}"}
    metrics = f"/v1/conversations/{ids[0]}/customer-metrics"
    requests: list[Request] = [
        (metrics, good),  # rendered at start ...
        _post(
            ids[0], {"label": "New ✓", "verdict": "pass", "score": 3, "externalId": "qa-9"}, good
        ),
        _post(ids[0], {"label": "Label 0", "verdict": "fail", "note": "replaced"}, good),
        (metrics, good),  # ... and again after the writes
        (f"/v1/conversations/{ids[0]}", good),
        _post(ids[2], {"label": "First", "score": 1.5}, good),
        (f"/v1/conversations/{ids[2]}/customer-metrics", good),
        _post(ids[1], {"label": ""}, good),  # refused: nothing written
        _post(ids[1], b"{not json", good),
        _post(ids[1], {"label": "L", "verdict": "maybe"}, good),
        _post(UNKNOWN, {"label": "L", "verdict": "pass"}, good),
        _post(ids[1], {"label": "L", "verdict": "pass"}, {"Authorization": "Bearer wrong"}),
        (f"/v1/conversations/{ids[1]}/customer-metrics", good),
        (metrics, {**good}, "PUT", b"{}"),  # no such method: the emulator's 405
    ]
    theirs = _without_generated(_answers(emulator.url, requests))
    ours = _without_generated(_answers(fast.url, requests))
    assert ours == theirs
    statuses = [status for _, _, status, _, _ in ours]
    assert statuses == [200] * 7 + [422, 422, 422, 404, 401, 200, 405]
    read_back = ours[3][-1]
    assert isinstance(read_back, bytes)
    assert "New ✓".encode() in read_back and b"replaced" in read_back  # not the stale answer


def test_the_fast_server_injects_the_emulators_faults_in_the_same_seeded_order(
    seeded: tuple[Path, list[str]], writable: tuple[RunningEmulator, FastServer]
) -> None:
    _, ids = seeded
    emulator, fast = writable
    faults = Faults(error_rate=0.3, throttle_rate=0.2, retry_after_seconds=0.5, seed=7)
    good = {"Authorization": f"Bearer {KEY}"}
    requests: list[Request] = []
    for n in range(40):
        cid = ids[n % len(ids)]
        requests.append(_post(cid, {"label": f"Label {n % 5}", "score": n}, good))
        requests.append((f"/v1/conversations/{cid}/customer-metrics", good))
    for server in (emulator, fast):
        server.set_faults(faults)
    theirs = _without_generated(_answers(emulator.url, requests))
    ours = _without_generated(_answers(fast.url, requests))
    assert ours == theirs
    statuses = {status for _, _, status, _, _ in ours}
    assert statuses == {200, 429, 503}


def test_the_fast_server_refuses_faults_it_does_not_serve(
    writable: tuple[RunningEmulator, FastServer],
) -> None:
    _, fast = writable
    with pytest.raises(urllib.error.HTTPError):
        fast.set_faults(Faults(drop_rate=0.1))


def test_the_fast_server_writes_to_its_copy_in_memory_not_to_the_file(
    seeded: tuple[Path, list[str]], writable: tuple[RunningEmulator, FastServer], tmp_path: Path
) -> None:
    """Store.into_memory: the file's locks cost as much CPU as the statements; a benchmark's
    writes need not survive it."""
    _, ids = seeded
    _, fast = writable
    good = {"Authorization": f"Bearer {KEY}"}
    post = _post(ids[2], {"label": "Only in memory", "score": 2}, good)
    read = (f"/v1/conversations/{ids[2]}/customer-metrics", good)
    answers = _answers(fast.url, [post, read])
    assert [status for _, _, status, _, _ in answers] == [200, 200]
    read_back = answers[1][-1]
    assert isinstance(read_back, bytes) and b"Only in memory" in read_back
    on_file = Store(tmp_path / "fast.sqlite")
    try:
        assert on_file.list_metrics(ids[2]) == []
    finally:
        on_file.close()
