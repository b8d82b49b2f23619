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
from tests.integration.agent_support import (
    CONV_A,
    GitRemote,
    records,
    revision,
    spec_text,
    ssh_signing,
)

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")
needs_ssh_keygen = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="no ssh-keygen")
needs_gpg = pytest.mark.skipif(shutil.which("gpg") is None, reason="no gpg")


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


@needs_ssh_keygen
def test_only_commits_signed_by_an_allowed_signer_are_applied(
    tmp_path: Path, emulator: RunningEmulator, trusted: tuple[Path, Path]
) -> None:
    key, signers = trusted
    emulator.store.add_conversation(CONV_A)
    git_remote = GitRemote(tmp_path)
    signed = git_remote.commit(
        {"specs/a.yaml": spec_text({CONV_A: records(1)})}, signing=ssh_signing(key)
    )
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
    git_remote.commit(
        {"specs/a.yaml": spec_text({CONV_A: records(3)})}, signing=ssh_signing(stranger)
    )
    outcome = agent.reconcile_once()
    assert outcome.reason == "VerificationFailed", outcome.message

    assert "a key that the allowed signers do not trust" in outcome.message
    assert len(emulator.store.list_metrics(CONV_A)) == 1

    trusted_again = git_remote.commit(
        {"specs/a.yaml": spec_text({CONV_A: records(4)})}, signing=ssh_signing(key)
    )
    agent.reconcile_once()
    assert agent.status.last_applied_revision == revision(trusted_again)
    assert len(emulator.store.list_metrics(CONV_A)) == 4


def _gpg_key(home: Path, uid: str) -> str:
    """A new ed25519 signing key without passphrase in keyring ``home``; returns its fingerprint."""
    home.mkdir(mode=0o700, exist_ok=True)
    gpg = ["gpg", "--homedir", str(home), "--batch", "--quiet", "--pinentry-mode", "loopback"]
    subprocess.run(
        [*gpg, "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never"],
        check=True,
        capture_output=True,
    )
    listing = subprocess.run(
        [*gpg, "--with-colons", "--fingerprint", "--list-keys", uid],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))


@needs_gpg
def test_openpgp_signatures_are_checked_against_the_armored_keys_given(
    tmp_path: Path, emulator: RunningEmulator
) -> None:
    emulator.store.add_conversation(CONV_A)
    git_remote = GitRemote(tmp_path)
    home = tmp_path / "gnupg"
    release = _gpg_key(home, "Release <release@example.com>")
    stranger = _gpg_key(home, "Stranger <stranger@example.com>")
    git_remote.env["GNUPGHOME"] = str(home)
    signers = tmp_path / "signers.asc"
    exported = ["gpg", "--homedir", str(home), "--armor", "--export", release]
    signers.write_bytes(subprocess.run(exported, check=True, capture_output=True).stdout)

    def signing(fingerprint: str) -> tuple[str, ...]:
        return ("-c", "gpg.format=openpgp", "-c", f"user.signingkey={fingerprint}")

    good = git_remote.commit(
        {"specs/a.yaml": spec_text({CONV_A: records(1)})}, signing=signing(release)
    )
    agent = _agent(git_remote, emulator, tmp_path, signers)
    agent.reconcile_once()
    assert agent.status.last_applied_revision == revision(good)

    git_remote.commit({"specs/a.yaml": spec_text({CONV_A: records(2)})}, signing=signing(stranger))
    outcome = agent.reconcile_once()
    assert outcome.reason == "VerificationFailed", outcome.message
    assert agent.status.last_applied_revision == revision(good)
    assert len(emulator.store.list_metrics(CONV_A)) == 1
