"""The recording → conversation mapping file: every mistake located, all reported at once."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest

from reconciler.errors import SpecError
from reconciler.importer.recordings import load_recordings

CONV = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
CONV2 = "9a1f6f2e-3a4b-4c5d-8e9f-0a1b2c3d4e5f"


def issues_of(inline: dict[str, UUID], file: Path | None) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_recordings(inline, file, shown_as=file.name if file else "", config_file="cfg.yaml")
    return [str(i) for i in info.value.issues]


def test_csv_and_inline_merge(tmp_path: Path) -> None:
    f = tmp_path / "rec.csv"
    f.write_text(f"recordingId,conversationId\n# a comment\n\nrec_2,{CONV2.upper()}\n")
    got = load_recordings({"rec_1": UUID(CONV)}, f)
    assert got == {"rec_1": CONV, "rec_2": CONV2}


def test_csv_problems_are_located(tmp_path: Path) -> None:
    f = tmp_path / "rec.csv"
    f.write_text(
        "recordingId,conversationId\n"
        f"rec_1,{CONV}\n"
        "rec_2,not-a-uuid\n"
        f",{CONV2}\n"
        "rec_3\n"
        f"rec_1,{CONV2}\n"
    )
    assert issues_of({}, f) == [
        "rec.csv:3:7: conversationId: conversationId 'not-a-uuid' is not a UUID (a Zelto "
        "conversation id)",
        "rec.csv:4:1: recordingId: recordingId is empty",
        "rec.csv:5:1: expected 2 columns, found 1",
        "rec.csv:6:1: recording rec_1 is mapped again (first at rec.csv:2:1)",
    ]


def test_csv_header_is_required(tmp_path: Path) -> None:
    f = tmp_path / "rec.csv"
    f.write_text(f"rec_1,{CONV}\n")
    (issue,) = issues_of({}, f)
    assert issue.startswith("rec.csv:1:1: header is") and "recordingId,conversationId" in issue


def test_csv_invalid_utf8_is_located(tmp_path: Path) -> None:
    f = tmp_path / "rec.csv"
    f.write_bytes(b"recordingId,conversationId\nrec_\xff," + CONV.encode() + b"\n")
    assert issues_of({}, f) == ["rec.csv:2: not valid UTF-8 text"]


def test_conversation_fed_by_two_recordings_names_both(tmp_path: Path) -> None:
    f = tmp_path / "rec.csv"
    f.write_text(f"recordingId,conversationId\nrec_2,{CONV}\n")
    (issue,) = issues_of({"rec_1": UUID(CONV)}, f)
    assert issue.startswith("rec.csv:2:1: conversation " + CONV)
    assert "recording rec_1 (at cfg.yaml)" in issue


def test_yaml_file(tmp_path: Path) -> None:
    f = tmp_path / "rec.yaml"
    f.write_text(f"rec_1: {CONV}\n'123': {CONV2}\n")
    assert load_recordings({}, f) == {"rec_1": CONV, "123": CONV2}


def test_yaml_problems_are_located(tmp_path: Path) -> None:
    f = tmp_path / "rec.yaml"
    f.write_text(f"rec_1: nope\n123: {CONV2}\nrec_1: {CONV}\n")
    issues = issues_of({}, f)
    assert any(i.startswith("rec.yaml:3:1:") and "duplicate" in i.lower() for i in issues), issues


def test_yaml_value_problems(tmp_path: Path) -> None:
    f = tmp_path / "rec.yaml"
    f.write_text(f"rec_1: nope\n123: {CONV2}\n")
    assert issues_of({}, f) == [
        "rec.yaml:1:8: conversationId: conversationId 'nope' is not a UUID (a Zelto "
        "conversation id)",
        "rec.yaml:2:1: entry 123: recording id and conversation UUID must both be strings "
        "(quote a numeric recording id, e.g. '12345': ...)",
    ]


def test_yaml_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    f = tmp_path / "rec.yaml"
    f.write_text("- a\n")
    (issue,) = issues_of({}, f)
    assert "expected a mapping" in issue


def test_missing_file(tmp_path: Path) -> None:
    assert issues_of({}, tmp_path / "nope.csv") == ["nope.csv: recordings file not found"]


def test_inline_recording_ids_are_checked_too() -> None:
    assert issues_of({"rec\n1": UUID(CONV)}, None) == [
        "cfg.yaml: recordingId: recordingId 'rec\\n1' contains control characters"
    ]
