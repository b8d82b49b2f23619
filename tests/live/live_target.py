"""The live suite's targets: the real Zelto and Siro APIs (opt-in), or the emulator (always).

``pytest -m live`` runs every probe and the end-to-end flow against the real APIs when the
environment names credentials and a test conversation (docs/live.md); without them those runs are
skipped with the list of what is missing. The same probes run against a lenient emulator in every
test run, so they cannot rot. At the end, a table shows each registered assumption: what the
registry expects and what was observed.

Nothing can be deleted through Zelto's API, so every write goes to one test conversation under
labels that start with :data:`LABEL_PREFIX`, and the suite says so before it writes.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from reconciler.emulator import EmulatorConfig, start_in_thread

LABEL_PREFIX = "reconciler-live-test:"
REQUIRED = (
    "ZELTO_API_KEY",
    "RECONCILER_LIVE_CONVERSATION",
    "SIRO_AUTH_TOKEN",
    "RECONCILER_LIVE_SIRO_ORGANIZATION",
    "RECONCILER_LIVE_SIRO_CONVERSATION_TYPE",
    "RECONCILER_LIVE_SIRO_RECORDINGS",
    "RECONCILER_LIVE_SIRO_START",
    "RECONCILER_LIVE_SIRO_END",
)


@dataclass(frozen=True)
class Target:
    """Where the live suite points, with everything it needs there (tokens stay in memory)."""

    name: str
    zelto_url: str
    zelto_key: str
    conversation: str
    siro_url: str
    siro_token: str
    siro_organization: str
    siro_conversation_type: str
    recordings: tuple[str, str]
    start: str
    end: str


@dataclass
class Observation:
    api: str
    key: str
    expected: str
    observed: str
    agrees: bool | None


@dataclass
class Observations:
    rows: list[Observation] = field(default_factory=list)


OBSERVED: dict[str, Observations] = {}

_SEED_VALUES = [
    {"id": "mv1", "name": "Conversation Time", "unit": "seconds", "unitAbbreviated": "sec",
     "metricType": "CONVERSATION_TIME", "value": 540, "passRate": 100},
    {"id": "mv2", "name": "Interactivity", "unit": "score", "unitAbbreviated": "pts",
     "metricType": "INTERACTIVITY_SCORE", "value": 7, "passRate": 100},
]  # fmt: skip


def emulator_target() -> Iterator[Target]:
    # Lenient, as the vendors document; two metric values a page, so paging is exercised.
    running = start_in_thread(EmulatorConfig(siro_page_size=1))
    conversation = str(running.store.add_conversation())
    for rid in ("rec_live_1", "rec_live_2"):
        running.store.add_siro_recording(
            rid, organization_id="org_live", conversation_type_id="ct_live",
            started_at="2026-01-10T12:00:00+00:00", metric_values=_SEED_VALUES,
        )  # fmt: skip
    yield Target(
        "emulator", running.url, running.zelto_api_key, conversation, running.url,
        running.siro_token, "org_live", "ct_live", ("rec_live_1", "rec_live_2"),
        "2026-01-01T00:00:00.000Z", "2026-02-01T00:00:00.000Z",
    )  # fmt: skip
    running.stop()


def live_target() -> Target:
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if missing:
        pytest.skip(f"live APIs not configured (docs/live.md): set {', '.join(missing)}")
    env = os.environ
    first, _, second = env["RECONCILER_LIVE_SIRO_RECORDINGS"].partition(",")
    if not second:
        pytest.skip("RECONCILER_LIVE_SIRO_RECORDINGS needs two recording ids, comma-separated")
    uuid.UUID(env["RECONCILER_LIVE_CONVERSATION"])
    print(  # noqa: T201 (the suite must say where it writes before it writes)
        f"\nlive suite: writes go to conversation {env['RECONCILER_LIVE_CONVERSATION']} only, "
        f"under labels starting with {LABEL_PREFIX!r}; Zelto has no DELETE, so they stay "
        "(clear them in the Zelto app)"
    )
    return Target(
        "live", env.get("ZELTO_API_URL") or "https://api.zelto.ai", env["ZELTO_API_KEY"],
        env["RECONCILER_LIVE_CONVERSATION"], env.get("SIRO_API_URL") or "https://api.siro.ai",
        env["SIRO_AUTH_TOKEN"], env["RECONCILER_LIVE_SIRO_ORGANIZATION"],
        env["RECONCILER_LIVE_SIRO_CONVERSATION_TYPE"], (first.strip(), second.strip()),
        env["RECONCILER_LIVE_SIRO_START"], env["RECONCILER_LIVE_SIRO_END"],
    )  # fmt: skip


def record(target: Target, row: Observation) -> None:
    OBSERVED.setdefault(target.name, Observations()).rows.append(row)
