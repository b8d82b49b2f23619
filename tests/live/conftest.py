"""The ``target`` fixture (the emulator always, the live APIs opt-in) and the assumption table."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from live_target import LABEL_PREFIX, OBSERVED, Target, emulator_target, live_target


@pytest.fixture(
    scope="module",
    params=["emulator", pytest.param("live", marks=pytest.mark.live)],
)
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    if request.param == "live":
        yield live_target()
    else:
        yield from emulator_target()


def pytest_report_header(config: pytest.Config) -> str | None:
    """Before anything runs: where a live run writes, since nothing it writes can be deleted."""
    conversation = os.environ.get("RECONCILER_LIVE_CONVERSATION")
    if not conversation or "live" not in str(config.getoption("markexpr", "")):
        return None
    return (
        f"live suite: writes go to Zelto conversation {conversation} only, under labels starting "
        f"with {LABEL_PREFIX!r}; Zelto has no DELETE, so they stay (clear them in the Zelto app)"
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The assumption table of each target that ran probes."""
    for name, found in OBSERVED.items():
        terminalreporter.section(f"assumptions observed on {name}")
        terminalreporter.write_line(f"{'assumption':<28} {'expected':<40} observed")
        for row in sorted(found.rows, key=lambda r: (r.api, r.key)):
            mark = {True: "", False: "  <-- differs: see docs/contract.md", None: ""}[row.agrees]
            terminalreporter.write_line(
                f"{row.api + ' ' + row.key:<28} {row.expected[:40]:<40} {row.observed}{mark}"
            )
