"""``reconciler import siro|zelto`` end to end: the CLI against the emulator on 127.0.0.1.

Every bad case of issue 7 has a test here: out-of-range score, missing value, a recording Siro
does not know, a recording without values in the window, unmapped metrics, a mapping that
never matches, a bad mapping file, a hand-written file in the way, a catalog that lacks a label.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import main
from reconciler.emulator import RunningEmulator
from reconciler.spec import discover_spec_files, load_specs

ORG = "org_test"
CT = "ct_sales"
CONV1 = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
CONV2 = "9a1f6f2e-3a4b-4c5d-8e9f-0a1b2c3d4e5f"
CONV3 = "5e0a4f0c-1111-4c1a-9b1e-2f4d8c9e7a10"
IN_WINDOW = "2026-11-23T10:00:00+00:00"
OUT_OF_WINDOW = "2026-10-01T10:00:00+00:00"
WINDOW = ["--start", "2026-11-23T00:00:00Z", "--end", "2026-11-24T00:00:00Z"]

MAPPING = """\
siro:
  organizationId: org_test
  conversationTypeId: ct_sales
  recordingsFile: siro-recordings.csv
  concurrency: 4
  metrics:
    - metricType: INTERACTIVITY_SCORE
      label: Interactivity
      score: passRate
      verdict: {from: passRate, op: ">=", threshold: 70}
      note: "Siro {name}: pass rate {passRate}%"
    - metricType: REP_SPEAKER_SHARE
      label: Talk share
      score: value
    - name: Next steps agreed
      label: Next steps
      verdict: {from: value, op: ">", threshold: 0}
"""


def metric(
    metric_type: str, name: str, value: float | None, pass_rate: float | None
) -> dict[str, Any]:
    return {
        "id": f"mv_{metric_type}_{name}".replace(" ", "_"),
        "name": name,
        "unit": "percent",
        "unitAbbreviated": "%",
        "metricType": metric_type,
        "description": f"{name} of the recording",
        "value": value,
        "passRate": pass_rate,
    }


GOOD_VALUES = [
    metric("INTERACTIVITY_SCORE", "Interactivity", 6.5, 80.0),
    metric("REP_SPEAKER_SHARE", "Rep speaker share", 55.0, 40.0),
    metric("AI_METRIC", "Next steps agreed", 1.0, 100.0),
    metric("REP_WORD_COUNT", "Rep word count", 1200.0, None),
]


class Repo:
    """A repository with reconciler.yaml, specs/ and the emulator as Zelto and Siro."""

    def __init__(self, root: Path, emulator: RunningEmulator) -> None:
        self.root = root
        self.emulator = emulator
        self.env = {
            "SIRO_AUTH_TOKEN": emulator.siro_token,
            "ZELTO_API_KEY": emulator.zelto_api_key,
            "SIRO_API_URL": "",
            "ZELTO_API_URL": "",
            "NO_COLOR": "1",
        }
        (root / "specs").mkdir()
        self.write_config(MAPPING)
        self.write_recordings({"rec_1": CONV1, "rec_2": CONV2})
        for conversation in (CONV1, CONV2, CONV3):
            emulator.store.add_conversation(conversation)

    def write_config(self, siro_section: str) -> None:
        (self.root / "reconciler.yaml").write_text(
            "specs: [specs]\n"
            "defaultTarget: emu\n"
            f"targets:\n  emu:\n    url: {self.emulator.url}\n" + siro_section
        )

    def write_recordings(self, mapping: Mapping[str, str]) -> None:
        rows = "".join(f"{rec},{conv}\n" for rec, conv in mapping.items())
        (self.root / "siro-recordings.csv").write_text("recordingId,conversationId\n" + rows)

    def add_recording(
        self, recording: str, values: Sequence[dict[str, Any]], started_at: str = IN_WINDOW
    ) -> None:
        self.emulator.store.add_siro_recording(
            recording,
            organization_id=ORG,
            conversation_type_id=CT,
            started_at=started_at,
            metric_values=values,
        )

    def run(self, *args: str) -> Result:
        old = Path.cwd()
        os.chdir(self.root)
        try:
            return CliRunner().invoke(main, list(args), env=self.env, catch_exceptions=False)
        finally:
            os.chdir(old)

    def import_siro(self, *extra: str) -> Result:
        return self.run("import", "siro", *WINDOW, "--siro-url", self.emulator.url, *extra)

    def generated(self, folder: str = "specs/imported/siro") -> dict[str, bytes]:
        base = self.root / folder
        if not base.exists():
            return {}
        return {p.name: p.read_bytes() for p in sorted(base.iterdir())}

    def load(self) -> Any:
        return load_specs(discover_spec_files([self.root / "specs"]), root=self.root)


@pytest.fixture
def repo(tmp_path: Path, emulator: RunningEmulator) -> Iterator[Repo]:
    yield Repo(tmp_path, emulator)


def test_siro_import_writes_reviewed_specs(repo: Repo) -> None:
    repo.add_recording("rec_1", GOOD_VALUES)
    repo.add_recording("rec_2", GOOD_VALUES[:2])
    repo.emulator.reset_request_counts()
    result = repo.import_siro()
    assert result.exit_code == 0, result.output
    siro_gets = repo.emulator.request_counts()[
        ("GET", "/v1/core/scorecards/scorecard-metrics/values")
    ]
    assert siro_gets == 2  # one request per recording
    assert "2 recordings read; 5 records in 2 files" in result.stdout
    assert "2 created, 0 updated, 0 unchanged" in result.stdout
    assert "REP_WORD_COUNT 'Rep word count' has no mapping in siro.metrics (in 1 recording)" in (
        result.stderr
    )
    files = repo.generated()
    assert sorted(files) == [f"{CONV1}.yaml", f"{CONV2}.yaml"]
    assert files[f"{CONV1}.yaml"].decode() == (
        "# Generated by reconciler import siro.\n"
        "# Do not edit by hand: re-run `reconciler import siro` to update it.\n"
        '# Source: Siro recording "rec_1", organization "org_test", conversation type "ct_sales".\n'
        "conversations:\n"
        f"  {CONV1}:\n"
        '    - externalId: "siro:rec_1:INTERACTIVITY_SCORE"\n'
        '      label: "Interactivity"\n'
        "      verdict: pass\n"
        "      score: 80\n"
        '      note: "Siro Interactivity: pass rate 80%"\n'
        '    - externalId: "siro:rec_1:AI_METRIC:Next steps agreed"\n'
        '      label: "Next steps"\n'
        "      verdict: pass\n"
        '    - externalId: "siro:rec_1:REP_SPEAKER_SHARE"\n'
        '      label: "Talk share"\n'
        "      score: 55\n"
    )
    assert repo.load().record_count == 5


def test_reimport_with_unchanged_data_changes_no_file(repo: Repo) -> None:
    repo.add_recording("rec_1", GOOD_VALUES)
    repo.add_recording("rec_2", GOOD_VALUES)
    assert repo.import_siro().exit_code == 0
    before = repo.generated()
    paths = sorted((repo.root / "specs/imported/siro").iterdir())
    for path in paths:
        os.utime(path, (1_000_000, 1_000_000))
    again = repo.import_siro()
    assert again.exit_code == 0, again.output
    assert "0 created, 0 updated, 2 unchanged" in again.stdout
    assert repo.generated() == before
    assert [p.stat().st_mtime for p in paths] == [1_000_000, 1_000_000]
    changed = [metric("INTERACTIVITY_SCORE", "Interactivity", 6.5, 60.0)]
    repo.add_recording("rec_2", changed + GOOD_VALUES[1:])
    third = repo.import_siro()
    assert "0 created, 1 updated, 1 unchanged" in third.stdout
    assert (repo.root / f"specs/imported/siro/{CONV1}.yaml").stat().st_mtime == 1_000_000
    assert b"verdict: fail" in repo.generated()[f"{CONV2}.yaml"]


def _nothing_written(repo: Repo, result: Result) -> None:
    assert result.exit_code == 1, result.output
    assert repo.generated() == {}
    assert "nothing was written" in result.stderr
    assert "Traceback" not in result.output


def test_score_outside_0_100_fails_the_run_and_writes_nothing(repo: Repo) -> None:
    repo.add_recording("rec_1", GOOD_VALUES)
    repo.add_recording("rec_2", [metric("REP_SPEAKER_SHARE", "Rep speaker share", 140.0, 40.0)])
    result = repo.import_siro()
    _nothing_written(repo, result)
    assert (
        "error: recording rec_2, metric REP_SPEAKER_SHARE 'Rep speaker share': value 140 "
        "(percent) is outside 0-100, what score: value accepts"
    ) in result.stderr


def test_a_mapped_pass_rate_outside_0_100_fails_the_run_naming_value_and_rule(repo: Repo) -> None:
    repo.add_recording("rec_1", GOOD_VALUES)
    repo.add_recording("rec_2", [metric("INTERACTIVITY_SCORE", "Interactivity", 6.5, 140.0)])
    result = repo.import_siro()
    _nothing_written(repo, result)
    assert (
        "recording rec_2, metric INTERACTIVITY_SCORE 'Interactivity': passRate 140 is outside "
        "0-100, what score: passRate accepts"
    ) in result.stderr
    assert result.stderr.count("rec_2") == 1


def test_missing_pass_rate_fails_the_run(repo: Repo) -> None:
    repo.add_recording("rec_1", [metric("INTERACTIVITY_SCORE", "Interactivity", 6.5, None)])
    repo.add_recording("rec_2", GOOD_VALUES)
    result = repo.import_siro()
    _nothing_written(repo, result)
    assert "recording rec_1, metric INTERACTIVITY_SCORE 'Interactivity': Siro sent no passRate" in (
        result.stderr
    )


def test_recording_siro_does_not_know_fails_the_run(repo: Repo) -> None:
    repo.add_recording("rec_1", GOOD_VALUES)
    result = repo.import_siro()  # rec_2 is mapped but Siro has no such recording
    _nothing_written(repo, result)
    assert "error: recording rec_2: Siro does not know this recording (404)" in result.stderr


def test_partial_writes_the_recordings_without_errors(repo: Repo) -> None:
    repo.add_recording("rec_1", GOOD_VALUES)
    result = repo.import_siro("--partial")
    assert result.exit_code == 1
    assert sorted(repo.generated()) == [f"{CONV1}.yaml"]
    assert "the files without errors were written (--partial)" in result.stderr


def test_recording_without_values_in_window_is_a_warning_and_keeps_its_file(repo: Repo) -> None:
    repo.add_recording("rec_1", GOOD_VALUES)
    repo.add_recording("rec_2", GOOD_VALUES)
    assert repo.import_siro().exit_code == 0
    before = repo.generated()
    repo.add_recording("rec_2", GOOD_VALUES, started_at=OUT_OF_WINDOW)
    result = repo.import_siro()
    assert result.exit_code == 0, result.output
    assert "warning: recording rec_2: no values in the window" in result.stderr
    assert repo.generated() == before


def test_mapping_that_never_matches_is_reported(repo: Repo) -> None:
    repo.add_recording("rec_1", GOOD_VALUES[:1])
    repo.add_recording("rec_2", GOOD_VALUES[:1])
    result = repo.import_siro()
    assert result.exit_code == 0, result.output
    assert (
        "warning: the mapping for metricType REP_SPEAKER_SHARE (label 'Talk share') matched no "
        "Siro metric in any recording of the window"
    ) in result.stderr
    assert "the mapping for name 'Next steps agreed'" in result.stderr


def test_bad_recordings_file_is_located(repo: Repo) -> None:
    (repo.root / "siro-recordings.csv").write_text(
        f"recordingId,conversationId\nrec_1,{CONV1}\nrec_2,not-a-uuid\nrec_3,{CONV1}\n"
    )
    result = repo.import_siro()
    assert result.exit_code == 1
    assert "error: siro-recordings.csv:3:7: conversationId: conversationId 'not-a-uuid'" in (
        result.stderr
    )
    assert "error: siro-recordings.csv:4:1: conversation " + CONV1 in result.stderr
    assert repo.generated() == {}


def test_bad_mapping_in_config_is_located(repo: Repo) -> None:
    repo.write_config(MAPPING.replace("pass rate {passRate}%", "{passrate}"))
    result = repo.import_siro()
    assert result.exit_code == 1
    assert "reconciler.yaml:" in result.stderr
    assert "{passrate} is unknown" in result.stderr
    assert "Traceback" not in result.output


def test_missing_siro_section(repo: Repo) -> None:
    repo.write_config("")
    result = repo.import_siro()
    assert result.exit_code == 1
    assert "has no 'siro' section" in result.stderr


def test_hand_written_file_is_never_overwritten(repo: Repo) -> None:
    repo.add_recording("rec_1", GOOD_VALUES)
    repo.add_recording("rec_2", GOOD_VALUES)
    hand = repo.root / "specs/imported/siro" / f"{CONV2}.yaml"
    hand.parent.mkdir(parents=True)
    hand.write_text("# mine\nconversations: {}\n")
    result = repo.import_siro()
    assert result.exit_code == 1
    assert "was not generated by this import" in result.stderr
    assert "nothing was written" in result.stderr
    assert hand.read_text() == "# mine\nconversations: {}\n"
    assert sorted(repo.generated()) == [f"{CONV2}.yaml"]


def test_generated_labels_must_be_in_the_catalog(repo: Repo) -> None:
    (repo.root / "specs/catalog.yaml").write_text(
        "labels:\n  Interactivity: {kind: both}\n  Next steps: {kind: verdict}\n"
    )
    repo.add_recording("rec_1", GOOD_VALUES)
    repo.add_recording("rec_2", GOOD_VALUES)
    result = repo.import_siro()
    assert result.exit_code == 1
    assert f"error: specs/imported/siro/{CONV1}.yaml:" in result.stderr
    assert "Talk share" in result.stderr
    assert repo.generated() == {}
    assert repo.run("validate").exit_code == 0


def test_expired_token_explains_and_is_never_shown(repo: Repo) -> None:
    repo.add_recording("rec_1", GOOD_VALUES)
    repo.env["SIRO_AUTH_TOKEN"] = "expired-token-value-1234"
    result = repo.import_siro()
    assert result.exit_code == 1
    assert "16 hours" in result.stderr
    assert "expired-token-value-1234" not in result.output
    assert repo.generated() == {}


def test_missing_token_and_plain_http(repo: Repo) -> None:
    repo.env["SIRO_AUTH_TOKEN"] = ""
    result = repo.import_siro()
    assert result.exit_code == 1
    assert "SIRO_AUTH_TOKEN" in result.stderr
    repo.env["SIRO_AUTH_TOKEN"] = "x"
    plain = repo.run("import", "siro", *WINDOW, "--siro-url", "http://siro.example.com")
    assert plain.exit_code == 1
    assert "http://" in plain.stderr


def test_window_must_be_zoned_and_ordered(repo: Repo) -> None:
    naive = repo.run(
        "import", "siro", "--start", "2026-11-23T00:00:00", "--end", "2026-11-24T00:00:00Z"
    )
    assert naive.exit_code == 1 and "has no time zone" in naive.stderr
    backwards = repo.run("import", "siro", "--start", WINDOW[3], "--end", WINDOW[1])
    assert backwards.exit_code == 1 and "--end must be after --start" in backwards.stderr


def test_zelto_import_adopts_existing_records(repo: Repo) -> None:
    store = repo.emulator.store
    store.put_metric(CONV1, label="Compliance", verdict="pass", note="read at 00:41", source="app")
    store.put_metric(CONV1, label="Empathy", score=85.0, externalId="qa-1-empathy", source="api")
    store.put_metric(CONV2, label="Tone", verdict="fail", score=12.5, source="app")
    result = repo.run("import", "zelto", CONV2.upper(), CONV1)
    assert result.exit_code == 0, result.output
    assert "3 records in 2 files" in result.stdout
    files = repo.generated("specs/imported/zelto")
    record_id = store.list_metrics(CONV1)[0]["id"]
    assert files[f"{CONV1}.yaml"].decode() == (
        "# Generated by reconciler import zelto.\n"
        "# Do not edit by hand: re-run `reconciler import zelto` to update it, or move the\n"
        "# records into a hand-written spec and delete this file.\n"
        f'# Source: the records target "emu" held for conversation {CONV1}.\n'
        "conversations:\n"
        f"  {CONV1}:\n"
        f"    # adopt: Zelto holds record {record_id} without an externalId; the plan shows a "
        "conflict until `reconciler apply --adopt` takes it over\n"
        f'    - externalId: "zelto:{record_id}"\n'
        '      label: "Compliance"\n'
        "      verdict: pass\n"
        '      note: "read at 00:41"\n'
        '    - externalId: "qa-1-empathy"\n'
        '      label: "Empathy"\n'
        "      score: 85\n"
    )
    assert repo.load().record_count == 3
    again = repo.run("import", "zelto", CONV1, CONV2)
    assert "0 created, 0 updated, 2 unchanged" in again.stdout


def test_zelto_import_leaves_declared_records_to_their_files(repo: Repo) -> None:
    repo.emulator.store.put_metric(CONV1, label="Empathy", score=85.0, externalId="qa-1")
    repo.emulator.store.put_metric(CONV1, label="Tone", verdict="pass", source="app")
    (repo.root / "specs/team.yaml").write_text(
        f"conversations:\n  {CONV1}:\n"
        "    - externalId: qa-1\n      label: Empathy\n      score: 85\n"
    )
    result = repo.run("import", "zelto", CONV1)
    assert result.exit_code == 0, result.output
    assert (
        f"warning: conversation {CONV1}: 1 record already declared in other spec files, left to "
        "them: 'Empathy' (specs/team.yaml:3:7)"
    ) in result.stderr
    text = repo.generated("specs/imported/zelto")[f"{CONV1}.yaml"].decode()
    assert "Tone" in text and "Empathy" not in text


def test_zelto_import_of_unknown_conversation_writes_nothing(repo: Repo) -> None:
    repo.emulator.store.put_metric(CONV1, label="Tone", verdict="pass", source="app")
    unknown = "00000000-0000-4000-8000-000000000404"
    result = repo.run("import", "zelto", CONV1, unknown)
    assert result.exit_code == 1
    assert f"error: conversation {unknown}:" in result.stderr
    assert repo.generated("specs/imported/zelto") == {}
    bad = repo.run("import", "zelto", "not-a-uuid")
    assert bad.exit_code == 1 and "'not-a-uuid' is not a conversation id" in bad.stderr


def test_zelto_import_with_nothing_to_adopt(repo: Repo) -> None:
    result = repo.run("import", "zelto", CONV3)
    assert result.exit_code == 0, result.output
    assert f"conversation {CONV3}: no records to import" in result.stderr
    assert "nothing to write" in result.stdout


def _nothing_to_apply(repo: Repo) -> None:
    plan = repo.run("plan", "--detailed-exitcode")
    assert plan.exit_code == 0, plan.output  # 0 = nothing to do
    again = repo.run("apply", "--auto-approve", "--format", "json")
    assert again.exit_code == 0, again.output
    assert '"planned": 0' in again.stdout


def test_siro_import_validate_apply_then_nothing_to_do(repo: Repo) -> None:
    repo.add_recording("rec_1", GOOD_VALUES)
    repo.add_recording("rec_2", GOOD_VALUES)
    assert repo.import_siro().exit_code == 0
    assert repo.load().record_count == 6
    validated = repo.run("validate")
    assert validated.exit_code == 0, validated.output
    plan = repo.run("plan", "--detailed-exitcode")
    assert plan.exit_code == 2, plan.output  # 2 = changes to apply
    assert "6 to create, 0 to update" in plan.stdout
    applied = repo.run("apply", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert "6 to create" in applied.stdout
    _nothing_to_apply(repo)
    remote = {r["externalId"]: r for r in repo.emulator.store.list_metrics(CONV1)}
    assert remote["siro:rec_1:INTERACTIVITY_SCORE"]["score"] == 80
    assert remote["siro:rec_1:INTERACTIVITY_SCORE"]["verdict"] == "pass"
    assert repo.import_siro().stdout.count("2 unchanged") == 1


def test_zelto_import_then_plan_shows_only_adoptions(repo: Repo) -> None:
    store = repo.emulator.store
    store.put_metric(CONV1, label="Legacy", verdict="pass", source="app")
    store.put_metric(CONV1, label="Empathy", score=85.5, externalId="qa-1", source="api")
    assert repo.run("import", "zelto", CONV1).exit_code == 0
    assert repo.run("validate").exit_code == 0
    plan = repo.run("plan", "--format", "json")
    assert plan.exit_code == 1  # a conflict fails the plan until adopted
    summary = json.loads(plan.stdout)["summary"]
    assert summary["conflict"] == 1 and summary["noop"] == 1
    assert summary["create"] == summary["update"] == summary["relabel"] == 0
    blocked = repo.run("apply", "--auto-approve")
    assert blocked.exit_code == 1
    assert "0 to create, 0 to update, 1 conflict, 1 unchanged" in blocked.stdout
    adopted = repo.run("apply", "--auto-approve", "--adopt")
    assert adopted.exit_code == 0, adopted.output
    assert "1 to adopt" in adopted.stdout
    _nothing_to_apply(repo)
    again = repo.run("import", "zelto", CONV1)
    assert "0 created, 1 updated" in again.stdout
    assert "# adopt:" not in repo.generated("specs/imported/zelto")[f"{CONV1}.yaml"].decode()
    _nothing_to_apply(repo)


def test_first_import_creates_the_spec_folder(repo: Repo) -> None:
    (repo.root / "specs").rmdir()
    repo.add_recording("rec_1", GOOD_VALUES)
    repo.add_recording("rec_2", GOOD_VALUES)
    result = repo.import_siro()
    assert result.exit_code == 0, result.output
    assert len(repo.generated()) == 2
    repo.emulator.store.put_metric(CONV3, label="Tone", verdict="pass", source="app")
    assert repo.run("import", "zelto", CONV3).exit_code == 0
    assert repo.run("validate").exit_code == 0


@pytest.mark.parametrize("link", ["specs/imported", "specs/imported/siro"])
def test_a_symlinked_output_folder_is_refused_before_writing(
    repo: Repo, tmp_path_factory: pytest.TempPathFactory, link: str
) -> None:
    """Issue 12 item 5: a committed symlink anywhere on the output path sends no write out."""
    outside = tmp_path_factory.mktemp("outside")
    (repo.root / link).parent.mkdir(parents=True, exist_ok=True)
    (repo.root / link).symlink_to(outside, target_is_directory=True)
    repo.add_recording("rec_1", GOOD_VALUES)
    repo.add_recording("rec_2", GOOD_VALUES)
    result = repo.import_siro()
    assert result.exit_code == 1, result.output
    assert "is a symbolic link" in result.stderr and "nothing was written" in result.stderr
    assert list(outside.rglob("*")) == []
    assert "Traceback" not in result.output


def test_an_output_folder_outside_the_project_is_refused(
    repo: Repo, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("elsewhere")
    repo.add_recording("rec_1", GOOD_VALUES)
    repo.add_recording("rec_2", GOOD_VALUES)
    result = repo.import_siro("--out", str(outside))
    assert result.exit_code == 1, result.output
    assert "outside the project folder" in result.stderr
    assert list(outside.iterdir()) == []


def test_a_urn_spelled_conversation_id_gets_a_canonical_file_name(repo: Repo) -> None:
    """Issue 12 item 17: the mapping file may spell a UUID any way Python's UUID() reads;
    the file name and the spec key are always the canonical form."""
    repo.write_recordings({"rec_1": "urn:uuid:" + CONV1.upper(), "rec_2": "{" + CONV2 + "}"})
    repo.add_recording("rec_1", GOOD_VALUES)
    repo.add_recording("rec_2", GOOD_VALUES)
    result = repo.import_siro()
    assert result.exit_code == 0, result.output
    assert sorted(repo.generated()) == [f"{CONV1}.yaml", f"{CONV2}.yaml"]
    assert f"  {CONV1}:\n" in repo.generated()[f"{CONV1}.yaml"].decode()
