"""What ``reconciler apply`` prints after the writes: a result list for logs and a summary line.

Kept apart from the command so that the command reads as the flow (check, confirm, write, report)
and this module as the presentation (the progress bar is in cli/progress.py). The report itself
never carries values (they may be sensitive), so nothing printed here can leak one.
"""

from __future__ import annotations

import json

import click

from reconciler.applier import ApplyReport, RecordResult, RecordStatus
from reconciler.display import escape_controls

__all__ = ["render_report_json", "render_report_text"]

_MARKS: dict[RecordStatus, tuple[str, str]] = {
    RecordStatus.APPLIED: ("ok", "green"),
    RecordStatus.FAILED: ("FAILED", "red"),
    RecordStatus.NOT_CONVERGED: ("NOT CONVERGED", "red"),
    RecordStatus.NOT_VERIFIED: ("not verified", "yellow"),
    RecordStatus.NOT_ATTEMPTED: ("not attempted", "yellow"),
}


def _record_line(result: RecordResult, color: bool) -> str:
    mark, colour = _MARKS[result.status]
    shown = click.style(f"{mark:<13}", fg=colour) if color else f"{mark:<13}"
    ext = f" ({escape_controls(result.external_id)})" if result.external_id else ""
    label = escape_controls(result.label)
    line = f"  {shown} {result.conversation_id}  {result.action.value:<7} '{label}'{ext}"
    if result.attempts > 1:
        line += f" after {result.attempts} attempts"
    if result.reason:
        line += f": {escape_controls(result.reason)}"
    return line


def render_report_text(report: ApplyReport, *, every_record: bool, color: bool) -> str:
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


def render_report_json(report: ApplyReport) -> str:
    """The report as documented by schemas/apply-report.schema.json."""
    return json.dumps(report.to_json_dict(), indent=2, ensure_ascii=False)
