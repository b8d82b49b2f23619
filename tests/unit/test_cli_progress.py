"""The progress displays of plan and apply: only on a terminal, redrawn in place, then erased."""

from __future__ import annotations

import io
import re
from types import SimpleNamespace

import pytest
from click import _termui_impl

from reconciler.cli.progress import ApplyProgressBar, ReadProgress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_counts_and_failures_then_erases_itself() -> None:
    stream = _Terminal()
    progress = ReadProgress(stream, interval=0.0)
    progress(0, 3)
    progress(1, 3)
    progress.unreadable("b", "HTTP 404")
    progress(2, 3)
    progress(3, 3)
    progress.finish()
    text = stream.getvalue()
    assert "\rreading 0/3 conversations" in text.replace("\x1b[K", "")
    assert "reading 3/3 conversations, 1 failed" in text
    assert text.endswith("\r\x1b[K")


def test_progress_is_throttled_but_always_shows_the_last_count() -> None:
    stream = _Terminal()
    progress = ReadProgress(stream, interval=3600.0)
    progress(0, 1000)
    for n in range(1000):
        progress(n + 1, 1000)
    assert stream.getvalue().count("reading") == 2
    assert "reading 1,000/1,000 conversations" in stream.getvalue()


def test_no_progress_without_a_terminal() -> None:
    stream = io.StringIO()
    progress = ReadProgress(stream, interval=0.0)
    progress(0, 2)
    progress(1, 2)
    progress.finish()
    assert stream.getvalue() == ""
    assert ReadProgress.for_stderr() is None  # pytest captures stderr: not a terminal
    assert not ApplyProgressBar(5, stream=io.StringIO()).enabled


def test_the_apply_bar_ends_at_the_last_count_however_throttled() -> None:
    stream = _Terminal()
    with ApplyProgressBar(40, stream=stream) as bar:
        assert bar.enabled
        for done in range(41):
            bar(done, 40)
    assert "40/40" in stream.getvalue()


def test_the_apply_eta_counts_only_the_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """8,000 writes in 20 s after a 10-minute freshness re-read: the ETA says seconds, not hours
    (it said ``831/8000 03:09:00`` when the bar started before the re-read)."""
    now = [1_000.0]
    monkeypatch.setattr(_termui_impl, "time", SimpleNamespace(time=lambda: now[0]))  # click's clock
    stream = _Terminal()
    total = 8_000
    with ApplyProgressBar(total, stream=stream) as bar:
        bar.INTERVAL = 0.0  # draw every update
        now[0] += 600.0  # re-reading every conversation the plan writes to
        for done in range(1, 832):
            now[0] += 20.0 / total
            bar(done, total)
        shown = stream.getvalue()
    days, hours, minutes, seconds = re.findall(
        r"831/8000\s+(?:(\d+)d )?(\d\d):(\d\d):(\d\d)", shown
    )[-1]  # click's ETA: [Nd ]HH:MM:SS
    eta = ((int(days or 0) * 24 + int(hours)) * 60 + int(minutes)) * 60 + int(seconds)
    assert 10 <= eta <= 25, shown[-200:]  # (8000 - 831) writes x 2.5 ms = 18 s
