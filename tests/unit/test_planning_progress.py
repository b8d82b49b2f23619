"""The read progress line of plan and apply: only on a terminal, redrawn in place, then erased."""

from __future__ import annotations

import io

from reconciler.cli.planning import Progress
from reconciler.errors import ApiError


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_counts_and_failures_then_erases_itself() -> None:
    stream = _Terminal()
    progress = Progress(stream, interval=0.0)
    progress.start(3)
    progress.advance("a", [])
    progress.advance("b", ApiError("404", target="local"))
    progress.advance("c", [])
    progress.finish()
    text = stream.getvalue()
    assert "\rreading 0/3 conversations" in text.replace("\x1b[K", "")
    assert "reading 3/3 conversations, 1 failed" in text
    assert text.endswith("\r\x1b[K")


def test_progress_is_throttled_but_always_shows_the_last_count() -> None:
    stream = _Terminal()
    progress = Progress(stream, interval=3600.0)
    progress.start(1000)
    for n in range(1000):
        progress.advance(str(n), [])
    assert stream.getvalue().count("reading") == 2
    assert "reading 1,000/1,000 conversations" in stream.getvalue()


def test_no_progress_without_a_terminal() -> None:
    stream = io.StringIO()
    progress = Progress(stream, interval=0.0)
    progress.start(2)
    progress.advance("a", [])
    progress.finish()
    assert stream.getvalue() == ""
