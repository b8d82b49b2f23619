"""Running the emulator: process mode, the ``emulator serve`` command, and the contract copies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from contract_check import check_response

from reconciler.cli import main
from reconciler.emulator import (
    EmulatorConfig,
    EmulatorError,
    Faults,
    RunningEmulator,
    start_in_process,
    start_in_thread,
)

REPO = Path(__file__).resolve().parents[2]
SHARED_CONTRACTS = REPO.parent / "shared" / "contracts"


@pytest.fixture(scope="module")
def in_process() -> Iterator[RunningEmulator]:
    running = start_in_process(EmulatorConfig(auto_create_conversations=True))
    yield running
    running.stop()


def test_a_process_emulator_serves_and_is_steered_over_http(in_process: RunningEmulator) -> None:
    headers = {"Authorization": f"Bearer {in_process.zelto_api_key}"}
    url = f"{in_process.url}/v1/conversations/3c90c3cc-0d44-4b50-8888-8dd25736052a/customer-metrics"
    in_process.reset_request_counts()
    posted = check_response(httpx.post(url, json={"label": "L", "score": 1}, headers=headers))
    assert posted.status_code == 200
    assert in_process.request_counts() == {("POST", "/v1/conversations/{id}/customer-metrics"): 1}
    in_process.set_faults(Faults(error_rate=1.0, seed=3))
    assert in_process.faults == Faults(error_rate=1.0, seed=3)
    assert check_response(httpx.get(url, headers=headers)).status_code == 503
    in_process.set_faults(Faults())
    assert check_response(httpx.get(url, headers=headers)).status_code == 200
    with pytest.raises(EmulatorError, match="only available for an emulator started in a thread"):
        in_process.store  # noqa: B018


def test_bad_faults_over_the_control_endpoint_are_422(in_process: RunningEmulator) -> None:
    response = httpx.put(f"{in_process.url}/_emulator/faults", json={"error_rate": 3})
    assert response.status_code == 422
    assert "between 0 and 1" in response.json()["error"]["message"]


def test_a_process_that_cannot_start_says_why(tmp_path: Path) -> None:
    with pytest.raises(EmulatorError, match=r"could not start: .*cannot read seed file"):
        start_in_process(EmulatorConfig(seed=tmp_path / "absent.yaml"))


def test_a_busy_port_is_a_clear_error() -> None:
    with start_in_thread() as running:
        port = int(running.url.rsplit(":", 1)[1])
        with pytest.raises(EmulatorError, match=f"cannot listen on 127.0.0.1:{port}"):
            start_in_thread(port=port)


def test_stop_is_idempotent_and_frees_the_port() -> None:
    running = start_in_thread()
    running.stop()
    running.stop()
    with pytest.raises(httpx.TransportError):
        httpx.get(running.url + "/v1/agents", timeout=2)


def test_serve_prints_url_and_exports_then_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "reconciler", "emulator", "serve", "--port", "0"]
    command += ["--db", str(tmp_path / "state.sqlite"), "--zelto-api-key", "k1", "--access-log"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert banner.startswith("Zelto + Siro emulator listening on http://127.0.0.1:")
        url = banner.split(" on ", 1)[1].split()[0]
        lines = [process.stdout.readline() for _ in range(3)]
        assert f"export ZELTO_API_URL={url} ZELTO_API_KEY=k1" in "".join(lines)
        response = check_response(
            httpx.get(f"{url}/v1/agents", headers={"Authorization": "Bearer k1"})
        )
        assert response.status_code == 200
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "emulator stopped" in out
    assert "Traceback" not in err
    assert '"GET /v1/agents HTTP/1.1" 200' in err
    assert (tmp_path / "state.sqlite").exists()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--error-rate", "2"], "Invalid value for '--error-rate'"),
        (["--seed", "absent.yaml"], "does not exist"),
        (["--max-rps", "0"], "Invalid value for '--max-rps'"),
    ],
)
def test_serve_rejects_bad_options_without_a_traceback(args: list[str], words: str) -> None:
    result = CliRunner().invoke(main, ["emulator", "serve", *args])
    assert result.exit_code == 1
    assert words in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_serve_reports_a_bad_seed_file_and_exits_1(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text("agents:\n  - {nmae: x}\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["emulator", "serve", "--port", "0", "--seed", str(seed)])
    assert result.exit_code == 1
    assert "agents[0].nmae: Extra inputs are not permitted" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("name", ["zelto-openapi.yaml", "siro-openapi.yaml"])
def test_contract_copies_match_the_shared_contracts(name: str) -> None:
    if not SHARED_CONTRACTS.exists():
        pytest.skip("no ../shared/contracts beside this clone: the copies are the contract")
    copy = (REPO / "contracts" / name).read_bytes()
    assert copy == (SHARED_CONTRACTS / name).read_bytes(), (
        f"contracts/{name} differs from {SHARED_CONTRACTS / name}: copy the shared file over"
    )


def test_the_readme_shows_the_banner_serve_prints() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    start = readme.index(
        "$ reconciler emulator serve --seed seed.yaml --db .reconciler/local.sqlite"
    )
    shown = readme[start + 1 : readme.index("```", start)]
    command = [sys.executable, "-m", "reconciler", "emulator", "serve", "--port", "0"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        printed = [process.stdout.readline().rstrip("\n") for _ in shown]
    finally:
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=20)
    url = printed[0].split(" on ", 1)[1].split()[0]
    assert [line.replace(url, "http://127.0.0.1:8787") for line in printed] == shown
    assert rest == "emulator stopped\n", "serve printed more than the README shows"
