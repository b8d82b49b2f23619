"""One reconcile pass at a time, in-process: a real bare git repository, the emulator on
127.0.0.1, and the agent's Reconciler driving the engine exactly as ``reconciler agent`` does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.agent import AgentSettings, Reconciler
from reconciler.emulator import RunningEmulator
from tests.integration.agent_support import CONFIG, CONV_A, GitRemote, records, revision, spec_text

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


def _agent(
    git_remote: GitRemote, agent_zelto: RunningEmulator, tmp_path: Path, **options: object
) -> Reconciler:
    settings = AgentSettings(
        repo=str(git_remote.origin),
        api_url=agent_zelto.url,
        state_dir=tmp_path / "state",
        **options,  # type: ignore[arg-type]
    )
    environ = {k: v for k, v in os.environ.items() if k != "ZELTO_API_URL"}
    environ["ZELTO_API_KEY"] = agent_zelto.zelto_api_key
    return Reconciler(settings, environ=environ)


def _ready(agent: Reconciler) -> tuple[str, str, str]:
    ready = agent.status.condition("Ready")
    assert ready is not None
    return ready.status.value, ready.reason, ready.message


def _scores(agent_zelto: RunningEmulator) -> dict[str, int]:
    return {r["externalId"]: r["score"] for r in agent_zelto.store.list_metrics(CONV_A)}


def test_an_invalid_spec_leaves_the_last_good_revision_applied(
    git_remote: GitRemote, agent_zelto: RunningEmulator, tmp_path: Path
) -> None:
    good = git_remote.commit(
        {"reconciler.yaml": CONFIG, "specs/team.yaml": spec_text({CONV_A: records(3)})}
    )
    agent = _agent(git_remote, agent_zelto, tmp_path)
    agent.reconcile_once()
    assert _ready(agent)[:2] == ("True", "Succeeded")
    assert agent.status.last_applied_revision == revision(good)

    broken = records(3, score=80)
    broken[1]["score"] = 150  # line 8 of the file: the second record's score
    bad = git_remote.commit({"specs/team.yaml": spec_text({CONV_A: broken})}, "raise scores")
    posts_before = len(agent_zelto.store.accepted_writes())
    agent.reconcile_once()

    status, reason, message = _ready(agent)
    assert (status, reason) == ("False", "ValidationFailed")
    assert "specs/team.yaml:8" in message and "nothing was written" in message
    assert agent.status.last_attempted_revision == revision(bad)
    assert agent.status.last_applied_revision == revision(good)
    stalled = agent.status.condition("Stalled")
    assert stalled is not None and stalled.status.value == "True"
    # Nothing of the bad revision was written, not even its two valid score changes.
    assert _scores(agent_zelto) == {"qa-0": 70, "qa-1": 70, "qa-2": 70}
    assert len(agent_zelto.store.accepted_writes()) == posts_before


def test_a_refused_plan_writes_nothing_and_says_why(
    git_remote: GitRemote, agent_zelto: RunningEmulator, tmp_path: Path
) -> None:
    agent_zelto.store.put_metric(CONV_A, label="L001", externalId=None, score=5)  # made in the app
    git_remote.commit({"specs/team.yaml": spec_text({CONV_A: records(3)})})
    agent = _agent(git_remote, agent_zelto, tmp_path)
    agent.reconcile_once()
    status, reason, message = _ready(agent)
    assert (status, reason) == ("False", "PlanRefused")
    assert "1 conflict" in message and "nothing was written" in message
    assert agent.status.last_applied_revision is None
    assert agent_zelto.store.accepted_writes() == {}


def test_a_record_edited_behind_the_agents_back_is_healed_on_the_next_pass(
    git_remote: GitRemote, agent_zelto: RunningEmulator, tmp_path: Path
) -> None:
    git_remote.commit({"specs/team.yaml": spec_text({CONV_A: records(3)})})
    agent = _agent(git_remote, agent_zelto, tmp_path)
    agent.reconcile_once()
    agent_zelto.store.put_metric(CONV_A, label="L001", externalId="qa-1", score=11, source="api")

    agent.reconcile_once()
    assert _scores(agent_zelto) == {"qa-0": 70, "qa-1": 70, "qa-2": 70}
    assert agent.status.drift_corrected == 1
    assert agent.status.last_plan is not None and agent.status.last_plan.drift == 1
    assert agent.metrics.drift_corrected._value.get() == 1


def test_no_heal_reports_drift_and_writes_nothing(
    git_remote: GitRemote, agent_zelto: RunningEmulator, tmp_path: Path
) -> None:
    git_remote.commit({"specs/team.yaml": spec_text({CONV_A: records(3)})})
    agent = _agent(git_remote, agent_zelto, tmp_path, heal=False)
    agent.reconcile_once()
    agent_zelto.store.put_metric(CONV_A, label="L001", externalId="qa-1", score=11, source="api")
    agent.reconcile_once()
    assert _scores(agent_zelto)["qa-1"] == 11
    assert _ready(agent)[:2] == ("False", "DriftDetected")
    assert agent.status.drift_corrected == 0


def test_dry_run_plans_and_writes_nothing(
    git_remote: GitRemote, agent_zelto: RunningEmulator, tmp_path: Path
) -> None:
    git_remote.commit({"specs/team.yaml": spec_text({CONV_A: records(2)})})
    agent = _agent(git_remote, agent_zelto, tmp_path, dry_run=True)
    agent.reconcile_once()
    assert _ready(agent)[:2] == ("Unknown", "DryRun")
    assert agent.status.last_plan is not None and agent.status.last_plan.summary.create == 2
    assert agent_zelto.store.list_metrics(CONV_A) == []


def test_the_commit_is_planned_never_the_work_tree(
    git_remote: GitRemote, agent_zelto: RunningEmulator, tmp_path: Path
) -> None:
    """Uncommitted edits, including a reconciler.yaml above the exported tree, change nothing."""
    git_remote.commit({"specs/team.yaml": spec_text({CONV_A: records(1)})})
    (git_remote.work / "specs" / "team.yaml").write_text(spec_text({CONV_A: records(3)}))
    state = (
        git_remote.work / ".reconciler"
    )  # the state folder inside the checkout, as with --repo .
    (git_remote.work / "reconciler.yaml").write_text("specs: [nowhere]\n")
    settings = AgentSettings(repo=str(git_remote.work), api_url=agent_zelto.url, state_dir=state)
    environ = {"PATH": os.environ["PATH"], "ZELTO_API_KEY": agent_zelto.zelto_api_key}
    agent = Reconciler(settings, environ=environ)
    agent.reconcile_once()
    assert _ready(agent)[:2] == ("True", "Succeeded")
    assert _scores(agent_zelto) == {"qa-0": 70}


def test_the_last_applied_revision_survives_a_restart(
    git_remote: GitRemote, agent_zelto: RunningEmulator, tmp_path: Path
) -> None:
    sha = git_remote.commit({"specs/team.yaml": spec_text({CONV_A: records(1)})})
    _agent(git_remote, agent_zelto, tmp_path).reconcile_once()
    again = _agent(git_remote, agent_zelto, tmp_path)
    assert again.status.last_applied_revision == revision(sha)
    agent_zelto.store.put_metric(CONV_A, label="L000", externalId="qa-0", score=1, source="api")
    again.reconcile_once()
    assert again.status.drift_corrected == 1  # known as drift, not as a new revision


def test_an_unreachable_repository_is_a_failed_pass_not_a_crash(
    agent_zelto: RunningEmulator, tmp_path: Path
) -> None:
    settings = AgentSettings(
        repo=str(tmp_path / "missing"), api_url=agent_zelto.url, state_dir=tmp_path
    )
    agent = Reconciler(settings, environ={"PATH": os.environ["PATH"], "ZELTO_API_KEY": "k"})
    outcome = agent.reconcile_once()
    assert outcome.reason == "GitOperationFailed" and "git fetch failed" in outcome.message
    stalled = agent.status.condition("Stalled")
    assert stalled is not None and stalled.status.value == "False"  # retried at the interval


def test_path_plans_one_folder_of_the_repository_with_its_own_config(
    git_remote: GitRemote, agent_zelto: RunningEmulator, tmp_path: Path
) -> None:
    git_remote.commit(
        {
            "teams/a/reconciler.yaml": "specs: [metrics]\n",
            "teams/a/metrics/a.yaml": spec_text({CONV_A: records(2)}),
            "specs/other.yaml": spec_text({CONV_A: records(5)}),
        }
    )
    agent = _agent(git_remote, agent_zelto, tmp_path, path="teams/a")
    agent.reconcile_once()
    assert _ready(agent)[:2] == ("True", "Succeeded")
    assert _scores(agent_zelto) == {"qa-0": 70, "qa-1": 70}
