"""A plan's memory stays flat: no remote record outlives its conversation's decision.

The plan of a large estate used to hold every remote record it read until the end (about 5 KB
per record in all, issue 15). Records are now decided as they arrive and dropped. This counts
the live :class:`~reconciler.model.RemoteRecord` objects while a real plan reads from the
emulator: with streaming, only the conversation being decided holds any; without it, the count
grows with every conversation read.
"""

from __future__ import annotations

import gc
import json
from pathlib import Path

from reconciler import Workspace
from reconciler.emulator import RunningEmulator
from reconciler.model import RemoteRecord

CONVERSATIONS = 120
PER_CONVERSATION = 4
IN_FLIGHT = 8
SAMPLE_EVERY = 10


def _seed(folder: Path, emulator: RunningEmulator) -> None:
    conversations: dict[str, list[dict[str, object]]] = {}
    for n in range(CONVERSATIONS):
        cid = emulator.store.add_conversation()
        records = []
        for k in range(PER_CONVERSATION):
            fields = {"externalId": f"qa-{n}-{k}", "label": f"Label {k}", "score": (n + k) % 101}
            emulator.store.put_metric(cid, **fields)
            records.append(fields)
        conversations[cid] = records
    (folder / "specs").mkdir()
    spec = json.dumps({"conversations": conversations}, indent=1)
    (folder / "specs" / "qa.yaml").write_text(spec, encoding="utf-8")
    (folder / "reconciler.yaml").write_text(json.dumps({"specs": ["specs"]}), encoding="utf-8")


def _live_remote_records() -> int:
    return sum(1 for o in gc.get_objects() if isinstance(o, RemoteRecord))


def test_no_remote_record_outlives_its_conversations_decision(
    tmp_path: Path, emulator: RunningEmulator
) -> None:
    _seed(tmp_path, emulator)
    seen: list[int] = []

    def progress(done: int, total: int) -> None:
        if done and done % SAMPLE_EVERY == 0:
            seen.append(_live_remote_records())

    environ = {"ZELTO_API_KEY": emulator.zelto_api_key}
    with Workspace.load(tmp_path, api_url=emulator.url, environ=environ) as workspace:
        plan = workspace.plan(concurrency=IN_FLIGHT, progress=progress)
    assert plan.summary.noop == CONVERSATIONS * PER_CONVERSATION
    assert len(seen) == CONVERSATIONS // SAMPLE_EVERY
    # While a conversation is being read, only its own records are alive (the progress
    # callback runs between its answer and its decision). Held records would grow to
    # CONVERSATIONS x PER_CONVERSATION.
    assert max(seen) <= PER_CONVERSATION, seen
    assert _live_remote_records() == 0
