"""``reconciler agent`` as operators run it: a real process, its HTTP endpoints, signals."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import jsonschema
import pytest
from prometheus_client.parser import text_string_to_metric_families

from reconciler.agent.webhook import sign
from reconciler.emulator import Faults, RunningEmulator
from tests.integration.agent_support import (
    CONFIG,
    CONV_A,
    REPO,
    AgentProcess,
    GitRemote,
    records,
    revision,
    spec_text,
    wait_until,
)

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


def _metrics(agent: AgentProcess) -> dict[str, list[tuple[dict[str, str], float]]]:
    code, body = agent.get("/metrics")
    assert code == 200
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def test_a_new_commit_is_applied_within_one_interval(
    git_remote: GitRemote, agent_zelto: RunningEmulator, tmp_path: Path
) -> None:
    first = git_remote.commit(
        {"reconciler.yaml": CONFIG, "specs/a.yaml": spec_text({CONV_A: records(1)})}
    )
    agent = AgentProcess(git_remote, agent_zelto, tmp_path / "state", "--interval", "0.2s")
    try:
        agent.wait_ready()
        wait_until(lambda: agent.status()["lastAppliedRevision"] == revision(first))
        second = git_remote.commit({"specs/a.yaml": spec_text({CONV_A: records(2)})})
        pushed = time.monotonic()
        wait_until(lambda: agent.status()["lastAppliedRevision"] == revision(second), 10)
        # One interval plus the pass itself (fetch, plan, POST, read back) on a busy CI machine.
        assert time.monotonic() - pushed < 5.0
        assert len(agent_zelto.store.list_metrics(CONV_A)) == 2

        assert agent.get("/healthz") == (200, b"ok\n")
        schema = json.loads((REPO / "schemas" / "agent-status.schema.json").read_text())
        jsonschema.validate(agent.status(), schema)  # /status is what its schema says
        samples = _metrics(agent)  # prometheus_client's own parser accepts the exposition
        applied = samples["reconciler_agent_last_applied_revision_info"]
        assert applied == [({"revision": revision(second)}, 1.0)]
        assert samples["reconciler_agent_last_success_timestamp_seconds"][0][1] > 0
        # The pass after the apply finds nothing to do: its plan is 2 unchanged records.
        noop = ({"action": "noop"}, 2.0)
        wait_until(lambda: noop in _metrics(agent)["reconciler_agent_plan_records"])
        histogram = samples["reconciler_agent_reconcile_duration_seconds_count"]
        assert (
            dict((tuple(labels.items()), v) for labels, v in histogram)[(("result", "success"),)]
            >= 2
        )
        assert agent.get("/wp-login.php")[0] == 404
        requests = _metrics(agent)["reconciler_agent_http_requests_total"]
        assert ({"route": "/healthz", "status": "200"}, 1.0) in requests
        assert ({"route": "other", "status": "404"}, 1.0) in requests
    finally:
        stderr = agent.stop()
    assert agent.process.returncode == 0, stderr
    assert "Traceback" not in stderr and "stopped" in stderr


def test_the_webhook_rejects_a_wrong_signature_and_a_signed_push_triggers_a_pass(
    git_remote: GitRemote, agent_zelto: RunningEmulator, tmp_path: Path
) -> None:
    first = git_remote.commit({"specs/a.yaml": spec_text({CONV_A: records(1)})})
    agent = AgentProcess(git_remote, agent_zelto, tmp_path / "state", "--interval", "1h")
    try:
        agent.wait_ready()
        assert agent.status()["lastAppliedRevision"] == revision(first)
        second = git_remote.commit({"specs/a.yaml": spec_text({CONV_A: records(2)})})
        body = json.dumps({"ref": "refs/heads/main", "after": second}).encode()
        push = {"X-GitHub-Event": "push", "Content-Type": "application/json"}

        wrong = {**push, "X-Hub-Signature-256": sign(b"not-the-secret", body)}
        assert agent.request("POST", "/hook", body, wrong)[0] == 401
        assert agent.request("POST", "/hook", body, push)[0] == 401  # missing
        time.sleep(0.5)
        assert agent.status()["lastAppliedRevision"] == revision(first)
        assert len(agent_zelto.store.list_metrics(CONV_A)) == 1

        right = {**push, "X-Hub-Signature-256": sign(b"hook-secret", body)}
        assert agent.request("POST", "/hook", body, right)[0] == 202
        wait_until(lambda: agent.status()["lastAppliedRevision"] == revision(second), 10)
        requests = _metrics(agent)["reconciler_agent_http_requests_total"]
        assert ({"route": "/hook", "status": "401"}, 2.0) in requests
    finally:
        agent.stop()


def test_sigkill_during_an_apply_then_a_restart_converges_without_duplicates(
    git_remote: GitRemote, agent_zelto: RunningEmulator, tmp_path: Path
) -> None:
    declared = records(40)
    sha = git_remote.commit(
        {"reconciler.yaml": CONFIG, "specs/a.yaml": spec_text({CONV_A: declared})}
    )
    agent_zelto.set_faults(Faults(latency_ms=40, methods=("POST",)))
    state = tmp_path / "state"
    agent = AgentProcess(git_remote, agent_zelto, state, "--interval", "0.2s")
    try:
        wait_until(lambda: len(agent_zelto.store.list_metrics(CONV_A)) >= 4)
        agent.process.send_signal(signal.SIGKILL)
        agent.process.communicate(timeout=30)
    finally:
        if agent.process.poll() is None:
            agent.process.kill()
    written = len(agent_zelto.store.list_metrics(CONV_A))
    assert 4 <= written < 40

    agent_zelto.set_faults(Faults())
    again = AgentProcess(git_remote, agent_zelto, state, "--interval", "0.2s")
    try:
        again.wait_ready()
        wait_until(lambda: again.status()["lastAppliedRevision"] == revision(sha))
    finally:
        again.stop()
    stored = agent_zelto.store.list_metrics(CONV_A)
    assert sorted(r["externalId"] for r in stored) == sorted(r["externalId"] for r in declared)
    assert {r["score"] for r in stored} == {70}
    # Every write of every label carried the declared body: a record written before the kill
    # was at most written again with the same values, never with other ones.
    for (_, label), bodies in agent_zelto.store.accepted_writes().items():
        index = int(label[1:])
        assert all(b["externalId"] == f"qa-{index}" and b["score"] == 70 for b in bodies)
        assert len(bodies) <= 2


def test_sigterm_during_an_apply_lets_in_flight_writes_finish_and_exits_0(
    git_remote: GitRemote, agent_zelto: RunningEmulator, tmp_path: Path
) -> None:
    git_remote.commit({"reconciler.yaml": CONFIG, "specs/a.yaml": spec_text({CONV_A: records(40)})})
    agent_zelto.set_faults(Faults(latency_ms=40, methods=("POST",)))
    agent = AgentProcess(git_remote, agent_zelto, tmp_path / "state", "--interval", "0.2s")
    try:
        wait_until(lambda: len(agent_zelto.store.list_metrics(CONV_A)) >= 4)
        started = time.monotonic()
        agent.process.send_signal(signal.SIGTERM)
        stderr = agent.stop()
    finally:
        if agent.process.poll() is None:
            agent.process.kill()
    assert agent.process.returncode == 0, stderr
    assert time.monotonic() - started < 10
    assert "Traceback" not in stderr, stderr
    assert "ApplyFailed" in stderr and "SIGTERM" in stderr
    written = len(agent_zelto.store.list_metrics(CONV_A))
    assert 4 <= written < 40
    # Every POST the agent started was answered and stored: none was cut off halfway.
    assert sum(len(b) for b in agent_zelto.store.accepted_writes().values()) == written
    saved = json.loads((tmp_path / "state" / "agent" / "status.json").read_text())
    assert saved["lastAppliedRevision"] is None
    assert saved["conditions"][0]["reason"] == "ApplyFailed"
