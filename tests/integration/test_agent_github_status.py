"""``--github-status``: each revision's outcome as a commit status, through the shared GitHub
client, against the local fake of GitHub's REST API (a fake: the emulator is no GitHub)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.agent import AgentSettings, Reconciler
from reconciler.agent.commitstatus import CONTEXT, CommitStatusReporter
from reconciler.emulator import RunningEmulator
from reconciler.remote.github import RepositoryRef
from tests.fakes.github import FakeGitHub, serve
from tests.integration.agent_support import CONV_A, GitRemote, records, spec_text

REPO = "your-org/zelto-specs"

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub()
    fake.repositories.add(REPO)
    with serve(fake):
        yield fake


def _agent(
    git_remote: GitRemote, zelto: RunningEmulator, tmp_path: Path, github: FakeGitHub
) -> Reconciler:
    settings = AgentSettings(
        repo=str(git_remote.origin), api_url=zelto.url, state_dir=tmp_path / "state"
    )
    environ = {"PATH": os.environ["PATH"], "ZELTO_API_KEY": zelto.zelto_api_key}
    ref = RepositoryRef(api_url=github.base_url, repository=REPO, token=github.token)
    return Reconciler(settings, environ=environ, on_pass=CommitStatusReporter(ref))


def _states(github: FakeGitHub, sha: str) -> list[tuple[str, str, str]]:
    found = github.statuses.get((REPO, sha), [])
    return [(s["state"], s["context"], s["description"]) for s in found]


def test_applied_and_refused_revisions_get_a_status_once(
    git_remote: GitRemote, agent_zelto: RunningEmulator, tmp_path: Path, github: FakeGitHub
) -> None:
    good = git_remote.commit({"specs/a.yaml": spec_text({CONV_A: records(2)})})
    agent = _agent(git_remote, agent_zelto, tmp_path, github)
    agent.reconcile_once()
    agent.reconcile_once()  # nothing changed: no second API call
    [(state, context, description)] = _states(github, good)
    assert (state, context) == ("success", CONTEXT)
    assert "2 of 2 applied and verified" in description

    broken = records(2)
    broken[0]["score"] = 101
    bad = git_remote.commit({"specs/a.yaml": spec_text({CONV_A: broken})})
    agent.reconcile_once()
    [(state, _, description)] = _states(github, bad)
    assert state == "failure" and "specs/a.yaml:" in description
    assert len(description) <= 140


def test_github_being_down_does_not_stop_the_reconciliation(
    git_remote: GitRemote, agent_zelto: RunningEmulator, tmp_path: Path, github: FakeGitHub
) -> None:
    sha = git_remote.commit({"specs/a.yaml": spec_text({CONV_A: records(1)})})
    github.fail_next.append(503)
    agent = _agent(git_remote, agent_zelto, tmp_path, github)
    agent.reconcile_once()
    assert agent.status.last_applied_revision == f"main@sha1:{sha}"
    assert _states(github, sha) == []
    agent.reconcile_once()  # the next pass tries again
    assert [s[0] for s in _states(github, sha)] == ["success"]
