"""``--verify-commits``: SSH-signed commits made with ``ssh-keygen`` keys and checked by git's
own ``verify-commit`` against an allowed-signers file."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from reconciler.agent import AgentSettings, Reconciler
from reconciler.emulator import RunningEmulator
from tests.integration.agent_support import CONV_A, GitRemote, records, revision, spec_text

pytestmark = [
    pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]


def _key(folder: Path, name: str) -> Path:
    path = folder / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(path)], check=True
    )
    return path


@pytest.fixture
def trusted(tmp_path: Path) -> tuple[Path, Path]:
    """A signing key and an allowed-signers file that trusts it (and only it)."""
    key = _key(tmp_path, "release")
    public = key.with_suffix(".pub").read_text().split()
    signers = tmp_path / "allowed_signers"
    signers.write_text(f'test@example.com namespaces="git" {public[0]} {public[1]}\n')
    return key, signers


def _agent(
    git_remote: GitRemote, agent_zelto: RunningEmulator, tmp_path: Path, signers: Path
) -> Reconciler:
    settings = AgentSettings(
        repo=str(git_remote.origin),
        api_url=agent_zelto.url,
        state_dir=tmp_path / "state",
        signers=signers,
    )
    environ = {"PATH": os.environ["PATH"], "ZELTO_API_KEY": agent_zelto.zelto_api_key}
    return Reconciler(settings, environ=environ)


def test_only_commits_signed_by_an_allowed_signer_are_applied(
    tmp_path: Path, emulator: RunningEmulator, trusted: tuple[Path, Path]
) -> None:
    key, signers = trusted
    emulator.store.add_conversation(CONV_A)
    git_remote = GitRemote(tmp_path)
    signed = git_remote.commit({"specs/a.yaml": spec_text({CONV_A: records(1)})}, sign_with=key)
    agent = _agent(git_remote, emulator, tmp_path, signers)
    agent.reconcile_once()
    assert agent.status.last_applied_revision == revision(signed)

    unsigned = git_remote.commit({"specs/a.yaml": spec_text({CONV_A: records(2)})})
    outcome = agent.reconcile_once()
    assert outcome.reason == "VerificationFailed"
    assert "it is not signed" in outcome.message and unsigned[:12] in outcome.message
    ready = agent.status.condition("Ready")
    assert ready is not None and ready.status.value == "False"
    assert ready.reason == "VerificationFailed"
    assert agent.status.last_applied_revision == revision(signed)
    assert len(emulator.store.list_metrics(CONV_A)) == 1

    stranger = _key(tmp_path, "stranger")
    git_remote.commit({"specs/a.yaml": spec_text({CONV_A: records(3)})}, sign_with=stranger)
    outcome = agent.reconcile_once()
    assert outcome.reason == "VerificationFailed", outcome.message

    assert "a key that the allowed signers do not trust" in outcome.message
    assert len(emulator.store.list_metrics(CONV_A)) == 1

    trusted_again = git_remote.commit(
        {"specs/a.yaml": spec_text({CONV_A: records(4)})}, sign_with=key
    )
    agent.reconcile_once()
    assert agent.status.last_applied_revision == revision(trusted_again)
    assert len(emulator.store.list_metrics(CONV_A)) == 4
