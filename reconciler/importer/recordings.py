"""The recording → conversation mapping: inline in reconciler.yaml and/or a CSV or YAML file.

No API links a Siro recording to a Zelto conversation (docs/siro-api.md), so this mapping is data
the user keeps in the repository. It is checked like a spec: every problem is reported with its
place, all at once, and a recording or a conversation appearing twice names both places.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from reconciler.errors import Issue, Location, SpecError
from reconciler.files import read_regular
from reconciler.spec.yamlio import load_yaml, location_at

__all__ = ["RECORDINGS_COLUMNS", "load_recordings", "parse_recordings_csv", "parse_recordings_yaml"]

RECORDINGS_COLUMNS = ("recordingId", "conversationId")
MAX_RECORDINGS_FILE_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class _Row:
    recording: str
    conversation: str
    location: Location


def load_recordings(
    inline: Mapping[str, UUID], file: Path | None, *, shown_as: str = "", config_file: str = ""
) -> dict[str, str]:
    """Inline and file mappings merged: recording id → lower-case conversation UUID.

    ``shown_as`` is the file's name in messages (relative to the config); ``config_file`` names
    reconciler.yaml for inline entries.
    """
    inline_at = Location(config_file or "reconciler.yaml")
    rows = [_Row(rec, str(conv).lower(), inline_at) for rec, conv in inline.items()]
    issues = [
        issue
        for row in rows
        if (issue := _check_pair(row.recording, row.conversation, inline_at, inline_at)) is not None
    ]
    if file is not None:
        name = shown_as or str(file)
        data = _read(file, name)
        parsed, problems = (
            parse_recordings_csv(data, name)
            if file.suffix.lower() == ".csv"
            else parse_recordings_yaml(data, name)
        )
        rows += [_Row(r, c, loc) for r, c, loc in parsed]
        issues += problems
    issues += _duplicates(rows)
    if issues:
        raise SpecError(issues)
    return {row.recording: row.conversation for row in rows}


def _read(file: Path, name: str) -> bytes:
    try:
        return read_regular(file, MAX_RECORDINGS_FILE_BYTES)[0]
    except FileNotFoundError:
        raise SpecError([Issue(Location(name), "recordings file not found")]) from None
    except OSError as exc:  # FileRefusedError too: a FIFO, a device, an oversized file
        message = f"cannot be read: {exc.strerror or exc}"
        raise SpecError([Issue(Location(name), message)]) from None


Parsed = tuple[list[tuple[str, str, Location]], list[Issue]]


def parse_recordings_csv(data: bytes, name: str) -> Parsed:
    """``recordingId,conversationId`` with that header row; ``#`` lines and blank lines skipped."""
    rows: list[tuple[str, str, Location]] = []
    issues: list[Issue] = []
    if len(data) > MAX_RECORDINGS_FILE_BYTES:
        return rows, [Issue(Location(name), f"file is {len(data)} bytes; at most 50 MiB is read")]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return rows, [Issue(Location(name, line), "not valid UTF-8 text")]
    lines = list(_data_lines(text))
    if not lines:
        return rows, [Issue(Location(name, 1), _header_hint("the file is empty"))]
    header_no, header = lines[0]
    if [h.strip() for h in header] != list(RECORDINGS_COLUMNS):
        return rows, [Issue(Location(name, header_no, 1), _header_hint(f"header is {header!r}"))]
    for line_no, fields in lines[1:]:
        if len(fields) != 2:
            issues.append(
                Issue(Location(name, line_no, 1), f"expected 2 columns, found {len(fields)}")
            )
            continue
        recording, conversation = (f.strip() for f in fields)
        where = Location(name, line_no, len(fields[0]) + 2)
        issue = _check_pair(recording, conversation, Location(name, line_no, 1), where)
        if issue is not None:
            issues.append(issue)
            continue
        rows.append((recording, _canonical(conversation), Location(name, line_no, 1)))
    return rows, issues


def _canonical(conversation: str) -> str:
    """The one spelling of a conversation UUID (lower case, hyphenated): ``UUID()`` also reads
    ``urn:uuid:…``, braces and bare hex, and the import names files after this string."""
    return str(UUID(conversation))


def _header_hint(problem: str) -> str:
    return f"{problem}; the first row must be 'recordingId,conversationId'"


def _data_lines(text: str) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    for fields in reader:
        if not fields or all(not f.strip() for f in fields) or fields[0].lstrip().startswith("#"):
            continue
        yield reader.line_num, fields


def _check_pair(
    recording: str, conversation: str, rec_at: Location, conv_at: Location
) -> Issue | None:
    if not recording:
        return Issue(rec_at, "recordingId is empty", "recordingId")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in recording):
        return Issue(
            rec_at, f"recordingId {recording!r} contains control characters", "recordingId"
        )
    try:
        UUID(conversation)
    except ValueError:
        return Issue(
            conv_at,
            f"conversationId {conversation!r} is not a UUID (a Zelto conversation id)",
            "conversationId",
        )
    return None


def parse_recordings_yaml(data: bytes, name: str) -> Parsed:
    """A YAML mapping ``<recordingId>: <conversation UUID>``, read by the safe spec loader."""
    rows: list[tuple[str, str, Location]] = []
    issues: list[Issue] = []
    try:
        doc = load_yaml(data, name, max_bytes=MAX_RECORDINGS_FILE_BYTES, what="recordings files")
    except SpecError as exc:
        return rows, list(exc.issues)
    if doc.data is None:
        return rows, issues
    if not isinstance(doc.data, dict):
        where = location_at(name, doc.root)
        return rows, [Issue(where, "expected a mapping of recordingId: conversation UUID")]
    for key, value in doc.data.items():
        where = doc.locate((key,))[0]
        if not isinstance(key, str) or not isinstance(value, str):
            issues.append(
                Issue(
                    doc.key_location((key,)),
                    f"entry {key!r}: recording id and conversation UUID must both be strings "
                    "(quote a numeric recording id, e.g. '12345': ...)",
                )
            )
            continue
        issue = _check_pair(key.strip(), value.strip(), doc.key_location((key,)), where)
        if issue is not None:
            issues.append(issue)
            continue
        rows.append((key.strip(), _canonical(value.strip()), doc.key_location((key,))))
    return rows, issues


def _duplicates(rows: list[_Row]) -> list[Issue]:
    """A recording mapped twice, or a conversation fed by two recordings, names both places."""
    issues: list[Issue] = []
    by_recording: dict[str, _Row] = {}
    by_conversation: dict[str, _Row] = {}
    for row in rows:
        first = by_recording.get(row.recording)
        if first is not None:
            issues.append(
                Issue(
                    row.location,
                    f"recording {row.recording} is mapped again (first at {first.location})",
                )
            )
            continue
        by_recording[row.recording] = row
        other = by_conversation.get(row.conversation)
        if other is not None:
            issues.append(
                Issue(
                    row.location,
                    f"conversation {row.conversation} is already mapped from recording "
                    f"{other.recording} (at {other.location}); one recording per conversation",
                )
            )
            continue
        by_conversation[row.conversation] = row
    return issues
