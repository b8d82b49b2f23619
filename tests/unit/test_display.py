"""reconciler.display: untrusted text never controls a terminal; look-alike labels are refused
(issue 12 item 12)."""

from __future__ import annotations

import pytest

from reconciler.cli.common import echo_err
from reconciler.display import escape_controls, first_unsafe, lookalike_key
from reconciler.errors import Issue, Location, SpecError
from reconciler.spec import load_spec_sources

HOSTILE = "Empathy\x1b[1A\x1b[2K\x07\x9b\u202e\x00"
ESCAPED = "Empathy\\x1b[1A\\x1b[2K\\x07\\x9b\\u202e\\x00"


def test_controls_become_escapes_and_plain_text_is_untouched() -> None:
    assert escape_controls(HOSTILE) == ESCAPED
    assert escape_controls(ESCAPED) == ESCAPED  # idempotent: safe to apply twice
    assert escape_controls("two\nlines\tand é ✓ 日本") == "two\nlines\tand é ✓ 日本"
    assert escape_controls("a\rb\x7f\u2066c") == "a\\x0db\\x7f\\u2066c"


def test_specs_refuse_what_output_escapes_except_carriage_return() -> None:
    assert first_unsafe("note\r\n") is None
    for bad in ("\x1b", "\x07", "\x00", "\x7f", "\x85", "\x9b", "\u202e", "\u200f", "\u2069"):
        assert first_unsafe(f"a{bad}") is not None, repr(bad)


def test_issue_messages_and_stderr_are_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    issue = Issue(Location("specs/a.yaml", 1, 1), f"label {HOSTILE}")
    assert str(issue) == f"specs/a.yaml:1:1: label {ESCAPED}"
    echo_err(f"error: {HOSTILE}")
    assert capsys.readouterr().err == f"error: {ESCAPED}\n"


@pytest.mark.parametrize(
    ("first", "second"),
    [("Caf\\u00e9", "Cafe\\u0301"), ("Empathy", "Empathy "), ("Empathy", "Em\\u200bpathy")],
    ids=["nfc-nfd", "trailing-space", "zero-width"],
)
def test_look_alike_labels_of_one_conversation_are_refused(first: str, second: str) -> None:
    """Two labels a reviewer cannot tell apart are two records to Zelto: refused, located."""
    spec = (
        "conversations:\n  3c90c3cc-0d44-4b50-8888-8dd25736052a:\n"
        f'    - {{externalId: a, label: "{first}", score: 1}}\n'
        f'    - {{externalId: b, label: "{second}", score: 1}}\n'
    )
    with pytest.raises(SpecError) as caught:
        load_spec_sources([("a.yaml", spec.encode())])
    (issue,) = caught.value.issues
    assert str(issue.location) == "a.yaml:4:23"
    assert "looks the same as" in issue.message and "at a.yaml:3:23" in issue.message


def test_look_alike_labels_in_different_conversations_are_fine() -> None:
    assert lookalike_key(" Cafe\u0301\u200b ") == "Caf\u00e9"
    spec = (
        "conversations:\n"
        '  3c90c3cc-0d44-4b50-8888-8dd25736052a: [{externalId: a, label: "Empathy", score: 1}]\n'
        '  9a1f6f2e-3a4b-4c5d-8e9f-0a1b2c3d4e5f: [{externalId: a, label: "Empathy ", score: 1}]\n'
    )
    assert load_spec_sources([("a.yaml", spec.encode())]).record_count == 2
