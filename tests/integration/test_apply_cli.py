"""``reconciler apply`` end to end: the CLI against the emulator over real HTTP.

In-process runs (click's CliRunner) for the flows; real subprocesses for signals, because a
process has to be killed halfway to prove that running apply again converges.
"""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner, Result

from reconciler.applier import apply_report_json_schema
from reconciler.cli import main
from reconciler.emulator import Faults, RunningEmulator

CONV_A = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
CONV_B = "5d2f1a60-3b7e-4c1d-9a2b-6e8f0c4d7a19"
METRICS = "/v1/conversations/{id}/customer-metrics"
REPO = Path(__file__).resolve().parents[2]

Records = dict[str, list[dict[str, Any]]]


def _write_specs(folder: Path, conversations: Records) -> Path:
    """A spec file; JSON is YAML, so the records are written exactly as given."""
    path = folder / "specs.yaml"
    path.write_text(json.dumps({"conversations": conversations}, indent=1), encoding="utf-8")
    return path


def _records(n: int, *, score: int = 70, prefix: str = "qa-") -> list[dict[str, Any]]:
    return [{"externalId": f"{prefix}{i}", "label": f"L{i:03}", "score": score} for i in range(n)]


@pytest.fixture
def zelto(emulator: RunningEmulator) -> RunningEmulator:
    for cid in (CONV_A, CONV_B):
        emulator.store.add_conversation(cid)
    return emulator


class Cli:
    """The CLI pointed at one emulator with --api-url and the key in the environment."""

    def __init__(self, emulator: RunningEmulator, folder: Path) -> None:
        self.emulator = emulator
        self.folder = folder
        self.env = {"ZELTO_API_KEY": emulator.zelto_api_key, "ZELTO_API_URL": "", "NO_COLOR": "1"}

    def __call__(self, *args: str) -> Result:
        runner = CliRunner(env=self.env)
        return runner.invoke(main, [*args, "--api-url", self.emulator.url], catch_exceptions=False)

    def apply(self, *args: str) -> Result:
        return self("apply", *args)

    def posts(self) -> int:
        return self.emulator.request_counts().get(("POST", METRICS), 0)


@pytest.fixture
def cli(zelto: RunningEmulator, tmp_path: Path) -> Cli:
    return Cli(zelto, tmp_path)


def _single_line_error(result: Result, *needles: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    for needle in needles:
        assert needle in errors[0], errors[0]


def test_apply_then_plan_shows_no_changes_and_a_second_apply_sends_no_post(cli: Cli) -> None:
    specs = _write_specs(
        cli.folder,
        {
            CONV_A: [{"externalId": "qa-c", "label": "Compliance Check", "verdict": "pass"}],
            CONV_B: _records(3),
        },
    )
    first = cli.apply(str(specs), "--auto-approve")
    assert first.exit_code == 0, first.output
    assert "4 of 4 applied and verified" in first.output
    assert f"ok            {CONV_A}  create  'Compliance Check' (qa-c)" in first.output
    assert cli.posts() == 4
    plan = cli("plan", str(specs), "--detailed-exitcode")
    assert plan.exit_code == 0, plan.output
    second = cli.apply(str(specs), "--auto-approve")
    assert second.exit_code == 0, second.output
    assert "no changes, nothing was written" in second.output
    assert cli.posts() == 4


def test_json_report_follows_its_schema(cli: Cli) -> None:
    specs = _write_specs(cli.folder, {CONV_A: _records(2)})
    result = cli.apply(str(specs), "--auto-approve", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    jsonschema.validate(report, apply_report_json_schema())
    assert report["summary"] == {
        "planned": 2,
        "applied": 2,
        "failed": 0,
        "notConverged": 0,
        "notVerified": 0,
        "notAttempted": 0,
    }
    assert "Plan for target" in result.stderr  # the plan still comes first, off stdout


def test_without_a_terminal_auto_approve_is_required(cli: Cli) -> None:
    specs = _write_specs(cli.folder, {CONV_A: _records(1)})
    _single_line_error(cli.apply(str(specs)), "--auto-approve", "nothing was written")
    assert cli.emulator.request_counts() == {}


def test_plan_errors_block_the_apply(cli: Cli) -> None:
    unknown = "9f1d2c3b-4a5e-4f60-8a7b-1c2d3e4f5a6b"  # not in the emulator: a 404
    specs = _write_specs(cli.folder, {CONV_A: _records(1), unknown: _records(1)})
    result = cli.apply(str(specs), "--auto-approve")
    assert result.exit_code == 1 and "Traceback" not in result.output
    refusal = f"1 conversation(s) could not be read, so nothing was written: {unknown}; first:"
    assert refusal in result.stderr
    assert "run the same command again" in result.stderr
    assert cli.posts() == 0


def test_a_stale_saved_plan_is_refused_with_nothing_written(cli: Cli) -> None:
    specs = _write_specs(cli.folder, {CONV_A: _records(2), CONV_B: _records(1)})
    saved = cli.folder / "plan.json"
    assert cli("plan", str(specs), "--out", str(saved)).exit_code == 0
    cli.emulator.store.put_metric(CONV_B, label="Someone else's", externalId=None, score=3)
    result = cli.apply("--plan", str(saved), "--auto-approve")
    _single_line_error(result, "stale plan: 1 conversation changed", CONV_B, "nothing was written")
    assert cli.posts() == 0
    as_json = cli.apply("--plan", str(saved), "--auto-approve", "--format", "json")
    _refused_json(as_json, "stale plan: 1 conversation changed", CONV_B)
    assert cli.posts() == 0


def test_a_saved_plan_applies_exactly_and_only_to_its_target(cli: Cli, tmp_path: Path) -> None:
    specs = _write_specs(cli.folder, {CONV_A: _records(2)})
    saved = cli.folder / "plan.json"
    assert cli("plan", str(specs), "--out", str(saved)).exit_code == 0
    data = json.loads(saved.read_text())
    other = tmp_path / "other-target.json"
    other.write_text(json.dumps({**data, "target": "production"}))
    _single_line_error(
        cli.apply("--plan", str(other), "--auto-approve"), "target 'production'", "nothing"
    )
    specs.write_text("conversations: {}\n")  # a saved plan does not need the specs any more
    result = cli.apply("--plan", str(saved), "--auto-approve")
    assert result.exit_code == 0, result.output
    assert cli.posts() == 2 and len(cli.emulator.store.list_metrics(CONV_A)) == 2


def test_masked_values_come_from_the_specs_and_must_match_the_plan(cli: Cli) -> None:
    config = cli.folder / "reconciler.yaml"
    config.write_text("specs: [specs.yaml]\nsensitive: [note]\n")
    record = {"externalId": "qa-n", "label": "Notes", "score": 5, "note": "private words"}
    specs = _write_specs(cli.folder, {CONV_A: [record]})
    saved = cli.folder / "plan.json"
    planned = cli("plan", "--config", str(config), "--out", str(saved))
    assert planned.exit_code == 0, planned.output
    assert "private words" not in saved.read_text()
    _write_specs(cli.folder, {CONV_A: [{**record, "note": "changed words"}]})
    refused = cli.apply("--plan", str(saved), "--config", str(config), "--auto-approve")
    _single_line_error(refused, "specs changed since the plan was made", "note")
    assert "words" not in refused.output and cli.posts() == 0
    specs.write_text(json.dumps({"conversations": {CONV_A: [record]}}))
    result = cli.apply("--plan", str(saved), "--config", str(config), "--auto-approve")
    assert result.exit_code == 0, result.output
    assert "private words" not in result.output
    assert cli.emulator.store.list_metrics(CONV_A)[0]["note"] == "private words"


def test_the_safety_threshold_refuses_and_force_passes(cli: Cli) -> None:
    for i in range(20):
        cli.emulator.store.put_metric(CONV_A, label=f"L{i:03}", externalId=f"qa-{i}", score=70)
    records = _records(20)
    for record in records[:12]:
        record["score"] = 99
    specs = _write_specs(cli.folder, {CONV_A: records})
    refused = cli.apply(str(specs), "--auto-approve")
    _single_line_error(refused, "12 of 20", "60.0 %", "by 30.0 points", "--force")
    assert cli.posts() == 0
    forced = cli.apply(str(specs), "--auto-approve", "--force")
    assert forced.exit_code == 0, forced.output
    assert cli.posts() == 12


def test_a_conflict_blocks_and_adopt_takes_it_over(cli: Cli) -> None:
    cli.emulator.store.put_metric(CONV_A, label="Empathy", externalId=None, score=10)
    specs = _write_specs(
        cli.folder, {CONV_A: [{"externalId": "qa-e", "label": "Empathy", "score": 90}]}
    )
    blocked = cli.apply(str(specs), "--auto-approve")
    _single_line_error(blocked, "1 conflict", CONV_A, "'Empathy'", "--adopt")
    assert cli.posts() == 0
    adopted = cli.apply(str(specs), "--auto-approve", "--adopt")
    assert adopted.exit_code == 0, adopted.output
    assert "adopt   'Empathy' (qa-e)" in adopted.output
    (stored,) = cli.emulator.store.list_metrics(CONV_A)
    assert (stored["externalId"], stored["score"]) == ("qa-e", 90)


def test_a_refused_credential_is_one_line_and_never_shows_the_key(cli: Cli) -> None:
    specs = _write_specs(cli.folder, {CONV_A: _records(1)})
    cli.env["ZELTO_API_KEY"] = "zk_live_WRONG_0123456789"
    result = cli.apply(str(specs), "--auto-approve")
    _single_line_error(result, "HTTP 401", "ZELTO_API_KEY")
    assert "zk_live_WRONG" not in result.output and cli.posts() == 0


def test_the_configured_rate_and_concurrency_bound_the_writes(cli: Cli) -> None:
    # Lower bounds only (a busy machine can make anything slower, never faster).
    config = cli.folder / "reconciler.yaml"
    config.write_text("apply: {requestsPerSecond: 20}\n")
    specs = _write_specs(cli.folder, {CONV_A: _records(10)})
    args = ("--config", str(config), "--auto-approve", "--format", "json")
    limited = json.loads(cli.apply(str(specs), *args).stdout)
    assert limited["summary"]["applied"] == 10
    assert limited["durationSeconds"] >= 0.4  # 10 POSTs spaced 50 ms apart (+ the read-back)
    config.write_text("apply: {concurrency: 64}\n")
    cli.emulator.set_faults(Faults(latency_ms=60))
    specs = _write_specs(cli.folder, {CONV_A: _records(8, score=1)})
    serial = json.loads(cli.apply(str(specs), *args, "--concurrency", "1").stdout)
    assert serial["summary"]["applied"] == 8
    assert serial["durationSeconds"] >= 8 * 0.06  # one at a time despite the config's 64


def test_faults_are_survived_and_nothing_is_written_twice_differently(cli: Cli) -> None:
    # 30 % 5xx and 10 % 429: the default backoff (0.25 s base, full jitter) is kept, so the
    # writes run all at once (wall time = the unluckiest record, not the sum) and the attempt
    # budget is raised so that a 1-in-100 run of five failures cannot fail the test.
    cli.emulator.set_faults(
        Faults(error_rate=0.3, throttle_rate=0.1, retry_after_seconds=0.01, seed=11)
    )
    config = cli.folder / "reconciler.yaml"
    config.write_text("apply: {maxAttempts: 12, concurrency: 32}\nplan: {maxAttempts: 12}\n")
    specs = _write_specs(cli.folder, {CONV_A: _records(12), CONV_B: _records(12, score=3)})
    result = cli.apply(str(specs), "--config", str(config), "--auto-approve", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["summary"]["applied"] == 24 and report["requests"]["retries"] > 3
    assert report["requests"]["attempts"] == cli.posts()
    history = cli.emulator.store.accepted_writes()
    assert len(history) == 24
    for key, bodies in history.items():
        assert all(body == bodies[0] for body in bodies), key
    cli.emulator.set_faults(Faults())
    assert cli("plan", str(specs), "--detailed-exitcode").exit_code == 0


# --- on a terminal: a real pseudo-terminal -------------------------------------------------


def _apply_on_a_terminal(emulator: RunningEmulator, specs: Path, answer: str) -> tuple[int, str]:
    """Run apply with stdin, stdout and stderr on a pty, answer the prompt, return the exit code
    and everything the terminal showed."""
    master, slave = pty.openpty()
    env = {**os.environ, "ZELTO_API_KEY": emulator.zelto_api_key, "ZELTO_API_URL": ""}
    env["NO_COLOR"] = "1"
    command = [sys.executable, "-m", "reconciler", "apply", str(specs), "--api-url", emulator.url]
    process = subprocess.Popen(command, env=env, cwd=REPO, stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    shown = b""
    answered = False
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        if not answered and b"will be accepted" in shown:
            os.write(master, answer.encode() + b"\n")
            answered = True
        if process.poll() is not None and not ready:
            break
    os.close(master)
    return process.wait(timeout=10), shown.decode(errors="replace")


def test_on_a_terminal_apply_asks_and_only_yes_approves(cli: Cli) -> None:
    specs = _write_specs(cli.folder, {CONV_A: _records(3)})
    code, shown = _apply_on_a_terminal(cli.emulator, specs, "no")
    assert code == 1 and "apply cancelled; nothing was written" in shown
    assert "Apply 3 change(s) to" in shown and cli.posts() == 0
    code, shown = _apply_on_a_terminal(cli.emulator, specs, "yes")
    assert code == 0, shown
    assert "applying" in shown  # the progress bar, drawn on the terminal's stderr
    assert "3 of 3 applied and verified" in shown and cli.posts() == 3


# --- killed halfway: real processes ---------------------------------------------------------


def _start_apply(emulator: RunningEmulator, specs: Path, *extra: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "ZELTO_API_KEY": emulator.zelto_api_key,
        "ZELTO_API_URL": "",
        "NO_COLOR": "1",
    }
    command = [sys.executable, "-m", "reconciler", "apply", str(specs), "--auto-approve"]
    command += ["--api-url", emulator.url, "--concurrency", "2", *extra]
    return subprocess.Popen(
        command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.01)


@pytest.mark.parametrize(
    ("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGKILL, -9)]
)
def test_an_apply_killed_halfway_converges_when_run_again(
    cli: Cli, sig: signal.Signals, code: int
) -> None:
    cli.emulator.set_faults(Faults(latency_ms=40))
    specs = _write_specs(cli.folder, {CONV_A: _records(60)})
    as_json = sig is signal.SIGTERM  # a CD job reading the JSON report gets one after SIGTERM
    process = _start_apply(cli.emulator, specs, *(["--format", "json"] if as_json else []))
    _wait_until(lambda: len(cli.emulator.store.list_metrics(CONV_A)) >= 6)
    process.send_signal(sig)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == code, stderr
    written = len(cli.emulator.store.list_metrics(CONV_A))
    assert 6 <= written < 60
    if sig is not signal.SIGKILL:
        assert "Traceback" not in stderr
        assert "error: apply to" in stderr and "did not complete" in stderr
    if as_json:
        report = json.loads(stdout)
        assert report["stopped"] == "terminated (SIGTERM)"
        assert report["summary"]["notVerified"] == written
        assert report["summary"]["notAttempted"] == 60 - written
    elif sig is signal.SIGINT:
        assert "apply stopped: interrupted (SIGINT)" in stdout
        assert f"{written} written but not verified, {60 - written} not attempted" in stdout
    cli.emulator.set_faults(Faults())
    again = cli.apply(str(specs), "--auto-approve")
    assert again.exit_code == 0, again.output
    assert f"{60 - written} of {60 - written} applied and verified" in again.output
    stored = cli.emulator.store.list_metrics(CONV_A)
    assert sorted(r["externalId"] for r in stored) == sorted(f"qa-{i}" for i in range(60))
    assert {r["score"] for r in stored} == {70}


def test_a_json_file_that_is_not_a_plan_is_named_as_such(cli: Cli) -> None:
    report = cli.folder / "report.json"
    report.write_text('{"target": "local", "records": []}', encoding="utf-8")
    result = cli.apply("--plan", str(report), "--auto-approve")
    _single_line_error(
        result, f"--plan {report}: not a reconciler plan", "reconciler plan --out FILE"
    )
    assert "None" not in result.output and cli.posts() == 0


def test_the_closing_line_counts_one_post_in_the_singular(cli: Cli) -> None:
    specs = _write_specs(cli.folder, {CONV_A: _records(1)})
    result = cli.apply(str(specs), "--auto-approve")
    assert result.exit_code == 0, result.output
    assert "1 of 1 applied and verified (1 POST, 0 retries, " in result.output


def test_an_offline_saved_plan_is_refused_for_being_offline(cli: Cli) -> None:
    specs = _write_specs(cli.folder, {CONV_A: _records(1)})
    saved = cli.folder / "plan.json"
    assert cli("plan", str(specs), "--out", str(saved)).exit_code == 0
    data = json.loads(saved.read_text())
    saved.write_text(json.dumps({**data, "target": "offline", "offline": True}))
    result = cli.apply("--plan", str(saved), "--auto-approve")
    _single_line_error(result, "the plan was made offline", "cannot be applied")
    assert "--target offline" not in result.output and cli.posts() == 0


def _refused_json(result: Result, *needles: str) -> None:
    """A refused apply with --format json: one JSON report on stdout that says why."""
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    jsonschema.validate(report, apply_report_json_schema())
    for needle in needles:
        assert needle in report["refused"], report["refused"]
    assert report["summary"]["applied"] == 0 and report["records"] == []
    assert report["refused"] in result.stderr  # the error line, as without --format json


def test_a_refusal_is_a_json_report_with_format_json(cli: Cli) -> None:
    unknown = "9f1d2c3b-4a5e-4f60-8a7b-1c2d3e4f5a6b"  # not in the emulator: a 404
    specs = _write_specs(cli.folder, {CONV_A: _records(1), unknown: _records(1)})
    _refused_json(
        cli.apply(str(specs), "--auto-approve", "--format", "json"),
        "could not be read, so nothing was written",
        unknown,
    )
    assert cli.posts() == 0


def test_a_stale_saved_plan_says_what_changed_in_the_records_it_writes(cli: Cli) -> None:
    cli.emulator.store.put_metric(CONV_A, label="L000", externalId="qa-0", score=70)
    specs = _write_specs(cli.folder, {CONV_A: _records(1, score=75)})
    saved = cli.folder / "plan.json"
    assert cli("plan", str(specs), "--out", str(saved)).exit_code == 0
    cli.emulator.store.put_metric(CONV_A, label="L000", externalId="qa-0", score=99)
    result = cli.apply("--plan", str(saved), "--auto-approve")
    _single_line_error(result, f"What changed: {CONV_A}: 'L000' (qa-0): score 70 → 99.")
    assert cli.posts() == 0
