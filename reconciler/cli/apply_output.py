"""What ``reconciler apply`` shows: a progress bar on a terminal, a result list for logs, a summary.

Kept apart from the command so that the command reads as the flow (check, confirm, write, report)
and this module as the presentation. The report itself never carries values (they may be
sensitive), so nothing printed here can leak one.
"""

from __future__ import annotations

import json
import sys
import time
from types import TracebackType
from typing import Any, TextIO

import click

from reconciler.applier import ApplyReport, RecordResult, RecordStatus

__all__ = ["Progress", "render_json", "render_text"]

_MARKS: dict[RecordStatus, tuple[str, str]] = {
    RecordStatus.APPLIED: ("ok", "green"),
    RecordStatus.FAILED: ("FAILED", "red"),
    RecordStatus.NOT_CONVERGED: ("NOT CONVERGED", "red"),
    RecordStatus.NOT_VERIFIED: ("not verified", "yellow"),
    RecordStatus.NOT_ATTEMPTED: ("not attempted", "yellow"),
}


class Progress:
    """A progress bar on stderr while POSTs complete, only when stderr is a terminal (a CI log
    would fill with redraws). Use as a context manager; :meth:`advance` is the applier's
    per-record callback."""

    #: Seconds between redraws: redrawing per record would cost more than the write itself.
    INTERVAL = 0.1

    def __init__(self, total: int, *, stream: TextIO | None = None) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._enabled = total > 0 and _isatty(self._stream)
        self._bar: Any = None
        self._total = total
        self._pending = 0
        self._drawn_at = 0.0

    def __enter__(self) -> Progress:
        if self._enabled:
            self._bar = click.progressbar(
                length=self._total,
                label="applying",
                file=self._stream,
                show_pos=True,
                show_eta=True,
            )
            self._bar.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.update(self._pending)
            self._pending = 0
            self._bar.__exit__(exc_type, exc, tb)
            self._bar = None

    @property
    def enabled(self) -> bool:
        """Whether a bar is drawn; when not, callers skip the per-record callback entirely."""
        return self._enabled

    def advance(self, result: RecordResult) -> None:
        if self._bar is None:
            return
        self._pending += 1
        now = time.monotonic()
        if now - self._drawn_at >= self.INTERVAL:
            self._bar.update(self._pending)
            self._pending = 0
            self._drawn_at = now


def _isatty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _record_line(result: RecordResult, color: bool) -> str:
    mark, colour = _MARKS[result.status]
    shown = click.style(f"{mark:<13}", fg=colour) if color else f"{mark:<13}"
    ext = f" ({result.external_id})" if result.external_id else ""
    line = f"  {shown} {result.conversation_id}  {result.action.value:<7} '{result.label}'{ext}"
    if result.attempts > 1:
        line += f" after {result.attempts} attempts"
    if result.reason:
        line += f": {result.reason}"
    return line


def render_text(report: ApplyReport, *, every_record: bool, color: bool) -> str:
    """The result list (every record for logs; only problems after a progress bar) and the
    summary line."""
    shown = report.records if every_record else report.problems()
    lines = [_record_line(r, color) for r in shown]
    if report.stopped:
        lines.append(f"apply stopped: {report.stopped}")
    counts = report.requests
    posts = f"{counts.posts} POST{'' if counts.posts == 1 else 's'}"
    retries = f"{counts.retries} {'retry' if counts.retries == 1 else 'retries'}"
    lines.append(
        f"Apply to {report.target}: {report.summary.line()} "
        f"({posts}, {retries}, {report.duration_seconds:.1f} s)."
    )
    return "\n".join(lines)


def render_json(report: ApplyReport) -> str:
    """The report as documented by schemas/apply-report.schema.json."""
    return json.dumps(report.to_json_dict(), indent=2, ensure_ascii=False)
