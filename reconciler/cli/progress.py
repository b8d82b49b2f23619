"""The two progress displays of plan and apply, on stderr and only on a terminal.

A CI log would fill with redraws, so without a terminal there is none (``for_stderr`` returns
None and the engine is given no callback at all). Both are the engine's ``progress(done, total)``
callbacks, redrawn at most every ``interval`` seconds: redrawing per conversation or per record
would cost more than the work itself.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any, TextIO

import click

__all__ = ["ApplyProgressBar", "ReadProgress"]


def _isatty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class ReadProgress:
    """``reading 1,234/5,000 conversations, 2 failed``, redrawn in place, erased by finish()."""

    def __init__(self, stream: TextIO | None = None, *, interval: float = 0.1) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._interval = interval
        self._total = 0
        self._done = 0
        self._failed = 0
        self._drawn_at = 0.0
        self._enabled = _isatty(self._stream)

    @classmethod
    def for_stderr(cls) -> ReadProgress | None:
        """A progress line when stderr is a terminal; None otherwise (CI logs stay clean)."""
        progress = cls()
        return progress if progress._enabled else None

    def __call__(self, done: int, total: int) -> None:
        if done == 0:
            self._failed = 0
        self._done, self._total = done, total
        self._draw(force=done in {0, total})

    def unreadable(self, conversation_id: str, message: str) -> None:
        """Count a conversation that could not be read (the plan lists why)."""
        self._failed += 1

    def finish(self) -> None:
        if self._enabled:
            self._stream.write("\r\x1b[K")
            self._stream.flush()

    def _draw(self, *, force: bool) -> None:
        now = time.monotonic()
        if not self._enabled or (not force and now - self._drawn_at < self._interval):
            return
        self._drawn_at = now
        failed = f", {self._failed:,} failed" if self._failed else ""
        line = f"reading {self._done:,}/{self._total:,} conversations{failed}"
        self._stream.write(f"\r\x1b[K{line}")
        self._stream.flush()


class ApplyProgressBar:
    """A bar while POSTs complete. Use as a context manager; when :attr:`enabled`, pass the bar
    itself as the engine's ``progress`` callback.

    The bar (and its clock) starts at the first write's outcome, not on entry: apply first
    re-reads every conversation it writes to (the freshness check), and click's ETA is the time
    since the bar started divided by the writes done, so a minute of re-reading made a 20-second
    run show hours (``831/8000 03:09:00``).
    """

    #: Seconds between redraws.
    INTERVAL = 0.1

    def __init__(self, total: int, *, stream: TextIO | None = None) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._enabled = total > 0 and _isatty(self._stream)
        self._bar: Any = None
        self._total = total
        self._shown = 0
        self._done = 0
        self._drawn_at = 0.0

    def __enter__(self) -> ApplyProgressBar:
        return self

    def _start(self) -> None:
        self._bar = click.progressbar(
            length=self._total,
            label="applying",
            file=self._stream,
            show_pos=True,
            show_eta=True,
        )
        self._bar.__enter__()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._flush()
            self._bar.__exit__(exc_type, exc, tb)
            self._bar = None

    @property
    def enabled(self) -> bool:
        """Whether a bar is drawn; when not, callers pass no callback to the engine at all."""
        return self._enabled

    def __call__(self, done: int, total: int) -> None:
        if not self._enabled:
            return
        if self._bar is None:
            self._start()
        self._done = done
        now = time.monotonic()
        if now - self._drawn_at >= self.INTERVAL:
            self._flush()
            self._drawn_at = now

    def _flush(self) -> None:
        self._bar.update(self._done - self._shown)
        self._shown = self._done
