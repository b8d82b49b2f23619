"""The progress displays of plan and apply: only on a terminal, redrawn in place, then erased."""

from __future__ import annotations

import io

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
