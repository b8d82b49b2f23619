"""Safe YAML loading with places: what the loader refuses, and how errors find their node."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from reconciler.config import Config
from reconciler.errors import SpecError
from reconciler.spec.yamlio import (
    allowed_keys,
    c_parser_in_use,
    describe_node,
    did_you_mean,
    format_path,
    load_yaml,
    node_parent,
    validation_issues,
)
from reconciler.spec.yamlio import loader as yamlio_loader
from reconciler.spec.yamlio.loader import _depth_is_bounded, _Loader


def _issues(data: bytes) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load_yaml(data, "f.yaml")
    return [str(i) for i in caught.value.issues]


def test_the_c_parser_is_in_use() -> None:
    # Without ruamel.yaml.clib the safe loader silently falls back to pure Python (5x slower).
    assert c_parser_in_use()
    assert "_ruamel_yaml" in _Loader.__mro__[1].__module__


def test_values_follow_the_yaml_1_2_core_schema() -> None:
    doc = load_yaml(b"a: 1\nb: [x, 2.5, true, null, 2024-01-01]\nc: '7'\n", "f.yaml")
    assert doc.data == {"a": 1, "b": ["x", 2.5, True, None, "2024-01-01"], "c": "7"}


def test_yaml_1_2_booleans_only() -> None:
    # YAML 1.2: yes/no/on/off are strings, so "verdict: no" is a typo report, not False.
    assert load_yaml(b"a: yes\nb: off\n", "f.yaml").data == {"a": "yes", "b": "off"}


def test_empty_document_is_none() -> None:
    assert load_yaml(b"", "f.yaml").data is None
    assert load_yaml(b"# only a comment\n", "f.yaml").data is None


def test_invalid_utf8_gets_line_and_column_after_multibyte_text() -> None:
    assert _issues("a: café\nb: €".encode() + b"\xff\n") == [
        "f.yaml:2:5: invalid UTF-8 (byte 0xff); save as UTF-8"
    ]


def test_control_characters_get_line_and_column() -> None:
    assert _issues(b"a: 1\nb: x\x07y\n") == [
        "f.yaml:2:5: control character U+0007 is not allowed in YAML; remove it"
    ]


def test_duplicate_keys_name_the_first_place() -> None:
    assert _issues(b"a: 1\nb:\n  c: 1\n  c: 2\n") == [
        "f.yaml:4:3: duplicate key 'c' (first defined at f.yaml:3:3)"
    ]


def test_keys_of_different_types_are_not_duplicates() -> None:
    doc = load_yaml(b"1: a\n'1': b\n1.5: c\n", "f.yaml")
    assert doc.data == {1: "a", "1": "b", 1.5: "c"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"~: 1\n", "empty (null) mapping key is not allowed"),
        (b"? [a]\n: 1\n", "mapping keys must be plain strings"),
        (b"a: !!set {x}\n", "tag !!set is not allowed"),
        (b"a: !custom 1\n", "tag !custom is not allowed"),
        (b"a: !!binary aGk=\n", "tag !!binary is not allowed"),
        (b"a:\n  <<: {b: 1}\n", "merge keys (<<) are not allowed"),
        (b"a: &x 1\nb: *x\n", "anchors and aliases are not allowed"),
    ],
)
def test_refused_constructs(data: bytes, message: str) -> None:
    assert any(message in issue for issue in _issues(data))


def test_all_problems_of_a_file_are_collected() -> None:
    assert len(_issues(b"a: !x 1\nb: !y 2\nb: 3\n")) == 3


def test_size_cap() -> None:
    with pytest.raises(SpecError) as caught:
        load_yaml(b"a: 1\n", "f.yaml", max_bytes=4)
    assert "file is 5 bytes; the limit is 4 bytes" in str(caught.value)


def test_depth_prescan_vouches_for_ordinary_files_only() -> None:
    ordinary = b"conversations:\n  x:\n    - {externalId: a, label: b, score: 1}\n" * 50
    assert _depth_is_bounded(ordinary)
    assert not _depth_is_bounded(b"[" * 301)
    assert not _depth_is_bounded(b"a:" + b" " * 300 + b"b\n")
    assert not _depth_is_bounded(b"- " * 50)


def test_exact_nesting_limit_applies_on_the_fast_path_too() -> None:
    data = b"a: " + b"[" * 33 + b"]" * 33 + b"\n"
    assert _depth_is_bounded(data)
    assert any("nesting deeper than 32 levels" in i for i in _issues(data))
    assert load_yaml(b"a: " + b"[" * 30 + b"]" * 30 + b"\n", "f.yaml").data is not None


def test_syntax_errors_are_located() -> None:
    assert _issues(b"a: [1, 2\nb: 3\n")[0].startswith("f.yaml:2:2: not valid YAML")


def test_locate_walks_to_the_deepest_existing_node() -> None:
    doc = load_yaml(b"top:\n  items:\n    - {x: 1}\n    - {x: 2, y: 3}\n", "f.yaml")
    location, found = doc.locate(("top", "items", 1, "y"))
    assert (str(location), found) == ("f.yaml:4:17", ("top", "items", 1, "y"))
    location, found = doc.locate(("top", "items", 1, "missing"))
    assert (str(location), found) == ("f.yaml:4:7", ("top", "items", 1))
    location, found = doc.locate(("top", "items", "[key]"))
    assert str(location) == "f.yaml:2:3"
    assert str(doc.key_location(("top", "items", 1, "y"))) == "f.yaml:4:14"


def test_node_descriptions_are_short_and_safe() -> None:
    doc = load_yaml(b"a: x\nb: [1]\nc: {}\nd: true\ne: " + b"z" * 100 + b"\nf:\n", "f")
    described = [describe_node(node_parent(doc.root, (key,))) for key in "abcdef"]
    assert described == [
        "'x'",
        "a list",
        "a mapping",
        "the boolean true",
        "a string of 100 characters",
        "an empty value (null)",
    ]


def test_paths_read_like_the_document() -> None:
    assert format_path(("conversations", "abc", 2, "score")) == "conversations.abc[2].score"
    assert format_path(("labels", "Compliance Check", "kind")) == 'labels["Compliance Check"].kind'


def test_did_you_mean_is_case_insensitive_and_only_for_close_words() -> None:
    assert did_you_mean("externalid", ["externalId", "label"]) == "externalId"
    assert did_you_mean("zzz", ["externalId", "label"]) is None


def test_allowed_keys_follow_aliases_through_containers() -> None:
    assert allowed_keys(Config, ("targets", "prod")) == ["url", "emulator", "tokenEnv", "tokenFile"]
    keys = allowed_keys(Config, ("siro", "metrics", 0, "verdict"))
    assert keys == ["from", "op", "threshold"]
    assert allowed_keys(Config, ("specs", 0)) is None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int
    name: str


def test_validation_issues_without_explain_use_pydantic_messages() -> None:
    doc = load_yaml(b"count: many\nnmae: x\n", "f.yaml")
    with pytest.raises(ValidationError) as caught:
        _Strict.model_validate(doc.data)
    issues = [str(i) for i in validation_issues(doc, caught.value, _Strict)]
    assert issues == [
        "f.yaml:1:1: missing required key 'name'",
        "f.yaml:1:8: count: got 'many'; Input should be a valid integer, unable to parse string "
        "as an integer",
        "f.yaml:2:1: nmae: unknown key 'nmae'; did you mean 'name'? Allowed keys: count, name",
    ]


def test_unused_anchors_are_refused_too_but_ampersands_in_text_are_not() -> None:
    message = "f.yaml:1:4: anchors and aliases are not allowed in spec files"
    assert _issues(b"a: &x 1\n") == [message]
    text = b'a: Q&A and R & D\nb: "&quoted"\nc: R &D\n'
    assert load_yaml(text, "f.yaml").data == {"a": "Q&A and R & D", "b": "&quoted", "c": "R &D"}


def test_keys_differing_only_in_case_are_located_exactly() -> None:
    doc = load_yaml(b"labels:\n  empathy: {kind: x}\n  Empathy: {kind: y}\n", "f.yaml")
    location, _found = doc.locate(("labels", "Empathy", "kind"))
    assert str(location) == "f.yaml:3:19"
    location, _found = doc.locate(("labels", "EMPATHY"))  # no exact match: case-insensitive
    assert str(location) == "f.yaml:2:12"


@pytest.mark.parametrize("plain", ["+_", "-_", "0x_", "0o_", "0b_", "._", "1_0", "0b101", "1:20"])
def test_plain_scalars_outside_the_core_schema_are_strings(plain: str) -> None:
    """Issue 12 items 9 and 17: ``+_`` ... ``._`` crashed the loader with a bare ValueError, and
    ``1_0`` was read as 10 (YAML 1.1 leftovers); in YAML 1.2's core schema all are strings."""
    assert load_yaml(f"note: {plain}\nk:\n  - {plain}\n".encode(), "f").data == {
        "note": plain,
        "k": [plain],
    }


@pytest.mark.parametrize(
    ("plain", "value"),
    [
        ("0x1F", 31),
        ("0o17", 15),
        ("-12", -12),
        ("010", 10),
        ("1e3", 1000.0),
        ("-.5", -0.5),
        ("1.", 1.0),
        (".Inf", float("inf")),
        ("FALSE", False),
        ("Null", None),
        ("~", None),
    ],
)
def test_core_schema_numbers_booleans_and_null(plain: str, value: object) -> None:
    assert load_yaml(f"v: {plain}\n".encode(), "f").data == {"v": value}


def test_an_explicit_tag_that_does_not_fit_its_value_is_located() -> None:
    assert _issues(b"a: 1\nb: !!int 0x_\nc: !!timestamp 2024-01-01\n") == [
        "f.yaml:2:4: '0x_' is not a valid !!int (YAML 1.2)",
        "f.yaml:3:4: tag !!timestamp is not allowed; use plain strings and numbers",
    ]


@pytest.mark.parametrize(
    "escape", ["\\e", "\\x07", "\\0", "\\x7f", "\\x9b", "\\u202e", "\\u2066", "\\N"]
)
def test_terminal_controls_written_as_escapes_are_refused(escape: str) -> None:
    """Issue 12 item 12: the raw-text check cannot see ``"\\e[2K"``; the value check does."""
    issues = _issues(f'label: "ok{escape}[2K"\n'.encode())
    assert len(issues) == 1
    assert issues[0].startswith("f.yaml:1:8: character U+")
    assert "(position 3) is a terminal control or bidi character" in issues[0]


def test_a_carriage_return_in_a_note_is_kept() -> None:
    assert load_yaml(b'note: "one\\r\\ntwo"\n', "f").data == {"note": "one\r\ntwo"}


def test_a_merge_key_value_is_a_plain_string() -> None:
    assert load_yaml(b"note: <<\n", "f").data == {"note": "<<"}


def test_a_file_past_the_node_cap_stops_at_the_first_node_past_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 12 item 10: composing stops at the cap instead of building every node."""
    monkeypatch.setattr(yamlio_loader, "MAX_NODES", 50)
    assert _issues(b"items:\n" + b"  - x\n" * 100) == [
        "f.yaml:49:5: more than 50 values in one file; the rest was not read. "
        "Split it into several spec files"
    ]
    tagged = b"items:\n" + b"  - !!str x\n" * 1100  # tagged nodes are counted by the scan
    monkeypatch.setattr(yamlio_loader, "MAX_NODES", 1050)
    assert _issues(tagged)[0].startswith("f.yaml:1049:5: more than 1,050 values")
