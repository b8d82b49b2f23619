"""Spec loading: every rule of semantics.md §1 has a named fixture, located to line and column."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from reconciler.errors import SpecError
from reconciler.spec import discover_spec_files, load_spec_sources, load_specs
from reconciler.spec.document import check_file
from reconciler.spec.parallel import PARALLEL_MIN_BYTES, fork_context
from reconciler.spec.parallel import check_all as _check_all
from reconciler.spec.yamlio import DEFAULT_MAX_BYTES

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "specs"
INVALID = FIXTURES / "invalid"
VALID = FIXTURES / "valid"
CONVERSATION = "3c90c3cc-0d44-4b50-8888-8dd25736052a"

# fixture -> (file inside the fixture, "line:column", words the message must contain)
EXPECTED: dict[str, tuple[str, str, str]] = {
    "adopt-not-boolean": ("", "6:14", "adopt must be true or false"),
    "anchors-and-aliases": ("", "3:7", "anchors and aliases are not allowed"),
    "catalog-entry-not-a-mapping": ("", "2:12", "a catalog entry must be a mapping"),
    "catalog-kind-invalid": ("", "2:19", "kind must be verdict, score or both"),
    "catalog-metric-id-invalid": ("", "2:23", "metricId must be a UUID, or a mapping"),
    "catalog-unknown-key": ("", "2:13", "unknown key 'knd'; did you mean 'kind'?"),
    "catalog-unknown-label": (
        "",
        "6:7",
        "unknown label 'Complaince Check'; did you mean 'Compliance Check'?",
    ),
    "conversation-id-not-uuid": ("", "2:3", "'call-7781'; a conversation id must be a UUID"),
    "conversation-listed-twice": ("", "6:3", "is listed twice here (first at"),
    "catalog-agent-listed-twice": (
        "",
        "5:7",
        "agent 9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d is listed twice",
    ),
    "conversations-not-a-mapping": ("", "2:3", "conversations must be a mapping"),
    "custom-tag": ("", "5:14", "tag !!python/object:os.system is not allowed"),
    "deep-nesting": ("", "1:48", "nesting deeper than 32 levels"),
    "duplicate-external-id-across-files": ("b.yaml", "3:7", "externalId 'qa-1' is used twice"),
    "duplicate-external-id-in-file": ("", "6:7", "externalId 'qa-1' is used twice"),
    "duplicate-key": ("", "6:7", "duplicate key 'score' (first defined at"),
    "duplicate-label-across-files": ("b.yaml", "4:7", "label 'Empathy' is used twice"),
    "duplicate-label-in-file": ("", "7:7", "label 'Empathy' is used twice"),
    "external-id-empty": ("", "3:19", "externalId must be a string of 1 to 255 characters"),
    "external-id-not-a-string": ("", "3:19", "got 12345; externalId must be a string"),
    "external-id-too-long": ("", "3:19", "a string of 256 characters; externalId must be"),
    "invalid-utf8": ("", "4:17", "invalid UTF-8 (byte 0xe9)"),
    "kind-both-missing-verdict": ("", "6:7", "of kind both"),
    "kind-score-without-score": ("", "6:7", "its records need a score"),
    "kind-verdict-with-score": ("", "8:7", "its records carry no score"),
    "label-defined-twice": ("b.yaml", "3:3", "label 'Empathy' is defined twice in the catalog"),
    "label-empty": ("", "4:14", "label must be a string of 1 to 255 characters"),
    "label-too-long": ("", "4:14", "a string of 256 characters; label must be"),
    "merge-key": ("", "3:7", "merge keys (<<) are not allowed"),
    "metric-id-not-uuid": ("", "6:17", "'empathy-v2'; metricId must be a UUID"),
    "missing-external-id": ("", "3:7", "missing required key 'externalId'"),
    "missing-label": ("", "3:7", "missing required key 'label'"),
    "multiple-documents": ("", "2:1", "expected a single document"),
    "neither-verdict-nor-score": ("", "3:7", "at least one of verdict and score"),
    "note-too-long": ("", "6:13", "note must be a string of at most 5000 characters"),
    "nul-byte": ("", "4:17", "NUL byte is not allowed"),
    "record-not-a-mapping": ("", "3:7", "a record must be a mapping with externalId"),
    "records-not-a-list": ("", "3:5", "the records of a conversation must be a list"),
    "score-negative": ("", "5:14", "got -1; score must be a number from 0 to 100"),
    "score-not-finite": ("", "5:14", "score must be a number from 0 to 100"),
    "score-out-of-range": ("", "5:14", "got 150; score must be a number from 0 to 100"),
    "score-quoted": ("", "5:14", "got '85'; score must be a number from 0 to 100"),
    "score-underscore": ("", "5:14", "got '8_5'; score must be a number from 0 to 100"),
    "label-terminal-escape": ("", "4:14", "character U+001B (position 8) is a terminal control"),
    "self-referencing-alias": ("", "1:16", "anchors and aliases are not allowed"),
    "syntax-error": ("", "4:1", "not valid YAML"),
    "tab-indentation": ("", "4:1", "tab character in indentation"),
    "top-level-list": ("", "1:1", "the top level is a list; a spec file must be a mapping"),
    "top-level-scalar": ("", "1:1", "the top level is a single value"),
    "unknown-label-across-files": ("team.yaml", "4:7", "did you mean 'Empathy'?"),
    "unknown-record-field": ("", "5:7", "unknown key 'scroe'; did you mean 'score'?"),
    "unknown-top-level-key": ("", "1:1", "did you mean 'conversations'?"),
    "verdict-invalid": ("", "5:16", "got 'maybe'; verdict must be pass or fail"),
}
# An alias bomb repeats each of its nine anchors many times; each anchor is reported once.
ISSUE_COUNTS = {"alias-bomb": 9}


def _fixture(name: str) -> Path:
    folder = INVALID / name
    return folder if folder.is_dir() else INVALID / f"{name}.yaml"


def _errors(paths: list[Path], root: Path = FIXTURES) -> SpecError:
    with pytest.raises(SpecError) as caught:
        load_specs(paths, root=root)
    return caught.value


def test_every_invalid_fixture_has_an_expectation() -> None:
    names = {p.name.removesuffix(".yaml") for p in INVALID.iterdir()}
    assert names == set(EXPECTED) | set(ISSUE_COUNTS)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_invalid_fixture_is_reported_at_its_place(name: str) -> None:
    inner, place, words = EXPECTED[name]
    path = _fixture(name)
    issues = _errors([path]).issues
    assert len(issues) == 1, [str(i) for i in issues]
    issue = issues[0]
    shown = f"invalid/{name}/{inner}" if inner else f"invalid/{name}.yaml"
    assert issue.location.file == shown
    assert f"{issue.location.line}:{issue.location.column}" == place
    assert words in issue.message, str(issue)


def test_alias_bomb_is_refused_once_per_anchor_without_expanding() -> None:
    issues = _errors([_fixture("alias-bomb")]).issues
    assert len(issues) == ISSUE_COUNTS["alias-bomb"]
    assert all("anchors and aliases are not allowed" in i.message for i in issues)


def test_cross_file_errors_name_both_places() -> None:
    issue = _errors([_fixture("duplicate-label-across-files")]).issues[0]
    assert "here and at invalid/duplicate-label-across-files/a.yaml:4:7" in issue.message
    assert issue.path == f"conversations.{CONVERSATION}[0].label"
    twice = _errors([_fixture("label-defined-twice")]).issues[0]
    assert "(also at invalid/label-defined-twice/a.yaml:2:3)" in twice.message


def test_every_error_of_a_run_is_reported_at_once() -> None:
    singles = sorted(p for p in INVALID.glob("*.yaml"))
    issues = _errors(singles).issues
    files = {i.location.file for i in issues}
    assert files == {f"invalid/{p.name}" for p in singles}
    assert list(issues) == sorted(issues)


def test_paths_of_errors_point_inside_the_document() -> None:
    issue = _errors([_fixture("score-out-of-range")]).issues[0]
    assert issue.path == f"conversations.{CONVERSATION}[0].score"
    assert str(issue).startswith(
        f"invalid/score-out-of-range.yaml:5:14: conversations.{CONVERSATION}"
    )


@pytest.mark.parametrize("path", sorted(VALID.iterdir()), ids=lambda p: p.name)
def test_valid_fixture_loads(path: Path) -> None:
    state = load_specs([path], root=FIXTURES)
    assert state.files == (f"valid/{path.name}",)


def test_empty_files_declare_nothing() -> None:
    state = load_specs([VALID / "empty.yaml", VALID / "comments-only.yaml"], root=FIXTURES)
    assert state.record_count == 0
    assert dict(state.conversations) == {}


def test_block_scalar_keeps_its_trailing_newline_and_strip_removes_it() -> None:
    state = load_specs([VALID / "block-note.yaml"], root=FIXTURES)
    notes = {d.record.label: d.record.note for d in state.conversations[CONVERSATION]}
    assert notes == {"Kept": "Line one.\nLine two.\n", "Stripped": "No trailing newline."}


def test_conversation_ids_are_normalised_to_lower_case() -> None:
    state = load_specs([VALID / "upper-case-conversation.yaml"], root=FIXTURES)
    assert list(state.conversations) == ["7f1b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d"]


def test_quoted_values_stay_strings() -> None:
    state = load_specs([VALID / "quoted-values.yaml"], root=FIXTURES)
    record = state.conversations[CONVERSATION][0].record
    assert (record.external_id, record.label, record.note) == ("12345", "2024-01-01", "true")


def test_catalog_with_agent_map_is_kept_for_the_planner() -> None:
    state = load_specs([VALID / "catalog-agent-map.yaml"], root=FIXTURES)
    entry = state.catalog["Compliance Check"]
    agent = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
    assert entry.metric_for_agent(agent) == "0b6a1c1e-5f7d-4c1a-9b1e-2f4d8c9e7a10"
    assert entry.metric_for_agent(None) is None


def test_example_specs_merge_across_files_sorted_by_label() -> None:
    state = load_specs([REPO / "specs"], root=REPO)
    assert state.files == ("specs/escalations.yaml", "specs/support-qa.yaml")
    assert state.record_count == 8
    assert len(state.conversations) == 4
    records = state.conversations[CONVERSATION]
    assert [d.record.label for d in records] == ["Compliance Check", "Empathy", "Resolution"]
    assert str(records[2].location) == "specs/escalations.yaml:5:7"
    assert all(isinstance(e.metric_id, type(None)) or e.metric_id for e in state.catalog.values())
    assert state.spec_digest.startswith("sha256:")


def test_sources_give_the_same_state_as_files() -> None:
    from_files = load_specs([REPO / "specs"], root=REPO)
    sources = [(f, (REPO / f).read_bytes()) for f in reversed(from_files.files)]
    from_sources = load_spec_sources(sources)
    assert from_sources.spec_digest == from_files.spec_digest
    assert from_sources.conversations == from_files.conversations
    assert from_sources.catalog == from_files.catalog


def test_digest_changes_with_content_and_with_path() -> None:
    data = (VALID / "minimal.yaml").read_bytes()
    base = load_spec_sources([("a.yaml", data)]).spec_digest
    assert load_spec_sources([("a.yaml", data)]).spec_digest == base
    assert load_spec_sources([("b.yaml", data)]).spec_digest != base
    assert load_spec_sources([("a.yaml", data + b"# more\n")]).spec_digest != base


def test_sources_over_the_size_cap_are_refused() -> None:
    with pytest.raises(SpecError) as caught:
        load_spec_sources([("big.yaml", b"#" * 101)], max_file_bytes=100)
    assert "file is 101 bytes; the limit is 100 bytes" in caught.value.issues[0].message


def test_file_over_the_default_size_cap_is_refused_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "huge.yaml"
    with big.open("wb") as out:
        out.truncate(DEFAULT_MAX_BYTES + 1)  # sparse: no need to write 10 MiB
    issue = _errors([big], root=tmp_path).issues[0]
    assert issue.location.file == "huge.yaml"
    assert f"the limit is {DEFAULT_MAX_BYTES:,} bytes" in issue.message


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("flow-100k-deep", b"conversations: " + b"[" * 100_000 + b"]" * 100_000 + b"\n"),
        ("block-50k-deep", b"conversations:\n" + b"- " * 50_000 + b"x\n"),
        ("mapping-50k-deep", b"{a: " * 50_000 + b"1" + b"}" * 50_000 + b"\n"),
    ],
)
def test_generated_deep_nesting_is_refused_without_crashing(name: str, content: bytes) -> None:
    # Generated, not committed: these would crash the C composer (segfault) if parsed directly.
    with pytest.raises(SpecError) as caught:
        load_spec_sources([(f"{name}.yaml", content)])
    assert "nesting deeper than 32 levels" in caught.value.issues[0].message


def test_long_space_runs_trigger_the_exact_depth_scan_and_still_load() -> None:
    note = "wide" + " " * 400 + "gap"
    data = (
        f"conversations:\n  {CONVERSATION}:\n"
        f'    - {{externalId: qa-1, label: L, score: 1, note: "{note}"}}\n'
    ).encode()
    state = load_spec_sources([("wide.yaml", data)])
    assert state.conversations[CONVERSATION][0].record.note == note


def test_discovery_is_recursive_sorted_and_skips_dot_folders(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "deep").mkdir(parents=True)
    (tmp_path / ".hidden").mkdir()
    for rel in ["b/x.yaml", "a/deep/y.yml", "a/z.yaml", ".hidden/w.yaml", "a/readme.md"]:
        (tmp_path / rel).write_text("")
    found = discover_spec_files([tmp_path])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "a/deep/y.yml",
        "a/z.yaml",
        "b/x.yaml",
    ]
    assert discover_spec_files([tmp_path / "a" / "readme.md"]) == [tmp_path / "a" / "readme.md"]


def test_discovery_keeps_relative_paths_relative(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    assert discover_spec_files([Path("specs")]) == [
        Path("specs/escalations.yaml"),
        Path("specs/support-qa.yaml"),
    ]


def test_a_missing_path_is_an_error(tmp_path: Path) -> None:
    issue = _errors([tmp_path / "nope"], root=tmp_path).issues[0]
    assert issue.message == "no such file or folder"


def test_files_outside_the_root_are_shown_with_their_full_path(tmp_path: Path) -> None:
    copy = tmp_path / "outside.yaml"
    shutil.copy(VALID / "minimal.yaml", copy)
    state = load_specs([copy], root=FIXTURES)
    assert state.files == (copy.as_posix(),)


def _many_sources(count: int, *, broken: int = -1) -> list[tuple[str, bytes]]:
    sources = []
    for i in range(count):
        conversation = f"{i:08x}-0000-4000-8000-000000000000"
        note = "padding " * 400
        score = 150 if i == broken else 50
        text = (
            f"conversations:\n  {conversation}:\n    - externalId: qa-{i}\n      label: L\n"
            f"      score: {score}\n      note: {note}\n"
        )
        sources.append((f"team/{i:04d}.yaml", text.encode()))
    return sources


def test_parallel_checking_gives_the_serial_results() -> None:
    sources = _many_sources(400, broken=123)
    assert sum(len(d) for _f, d in sources) > PARALLEL_MIN_BYTES
    if fork_context() is None:  # a thread left running by another test: no fork here
        pytest.skip(f"threads alive: {[t.name for t in threading.enumerate()]}")
    parallel = [checked.outcome for checked in _check_all(sources, DEFAULT_MAX_BYTES)]
    serial = []
    for display, data in sources:
        try:
            serial.append(check_file(display, data))
        except SpecError as exc:
            serial.append(exc.issues)  # type: ignore[arg-type]
    assert parallel == serial
    with pytest.raises(SpecError) as caught:
        load_spec_sources(sources)
    assert [i.location.file for i in caught.value.issues] == ["team/0123.yaml"]


def test_with_other_threads_running_the_work_stays_in_process() -> None:
    # Forking while another thread runs can deadlock the child; spawn would re-import the
    # caller's main module. So with a thread alive, checking is serial and still correct.
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert fork_context() is None
        state = load_spec_sources(_many_sources(300))
    finally:
        stop.set()
        thread.join()
    assert state.record_count == 300
