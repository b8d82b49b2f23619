"""``--verify-commits SIGNERS``: apply only commits signed by an allowed signer.

The decision is git's own (``git verify-commit``), not a re-implementation: SSH signatures are
checked against an allowed-signers file (``gpg.ssh.allowedSignersFile``), OpenPGP signatures
against the armored public keys in the file, imported into a keyring of the agent's own. Both
run with ``gpg.minTrustLevel=fully``: an SSH key absent from the allowed signers, or an OpenPGP
key not in the file, makes a *valid* signature that is still refused, because a signature proves
only who signed, and the file says whom to trust.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from reconciler.agent.gitsource import GitError, GitSource, Revision
from reconciler.errors import ConfigError, ReconcilerError
from reconciler.files import ensure_state_dir, read_regular

__all__ = ["CommitVerifier", "UntrustedCommitError"]

_MAX_SIGNERS_BYTES = 1 << 20
_PGP_BLOCK = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
_WHY = {
    "N": "it is not signed",
    "B": "its signature is bad",
    "U": "it is signed by a key that the allowed signers do not trust",
    "X": "its signature has expired",
    "Y": "it is signed by an expired key",
    "R": "it is signed by a revoked key",
    "E": "it is signed by a key that is not among the allowed signers",
}


class UntrustedCommitError(ReconcilerError):
    """The head commit is not signed by an allowed signer; nothing of it is applied."""


class CommitVerifier:
    """Checks commits of one ``GitSource`` against one signers file."""

    def __init__(self, signers: Path, source: GitSource) -> None:
        try:
            text = read_regular(signers, _MAX_SIGNERS_BYTES)[0].decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"--verify-commits {signers}: cannot read it ({exc})") from None
        self._signers = signers.resolve()
        self._source = source
        self._gnupg: Path | None = None
        if _PGP_BLOCK in text:
            self._gnupg = self._import_pgp_keys()

    def verify(self, revision: Revision) -> None:
        """Raise UntrustedCommitError unless git verifies ``revision`` with these signers."""
        config = self._config()
        env = {"GNUPGHOME": str(self._gnupg)} if self._gnupg else None
        try:
            self._source.git([*config, "verify-commit", revision.sha], extra_env=env)
        except GitError:
            code = self._source.git(
                [*config, "log", "-1", "--format=%G?", revision.sha], extra_env=env
            ).strip()
            why = _WHY.get(code, "its signature could not be verified")
            raise UntrustedCommitError(
                f"commit {revision.short} was refused: {why} (--verify-commits "
                f"{self._signers.name}); nothing of it was applied"
            ) from None

    def _config(self) -> list[str]:
        return [
            "-c",
            f"gpg.ssh.allowedSignersFile={self._signers}",
            "-c",
            "gpg.minTrustLevel=fully",
        ]

    def _import_pgp_keys(self) -> Path:
        """A keyring holding exactly the file's keys, each trusted fully (it is the allow-list)."""
        home = ensure_state_dir(self._source.cache_dir, "gnupg")
        home.chmod(0o700)  # gpg refuses a home others can read
        # --no-autostart: public keys need no gpg-agent, and a deep state folder would give the
        # agent's socket a path longer than a Unix socket may have.
        base = ["gpg", "--batch", "--quiet", "--no-autostart", "--homedir", str(home)]
        _run([*base, "--import", str(self._signers)])
        listing = _run([*base, "--with-colons", "--fingerprint", "--list-keys"])
        primaries = _primary_fingerprints(listing)
        trust = "".join(f"{fpr}:6:\n" for fpr in primaries)
        _run([*base, "--import-ownertrust"], stdin=trust)
        return home


def _primary_fingerprints(listing: str) -> list[str]:
    """The fingerprint line that follows each ``pub`` line of gpg's colon listing."""
    found: list[str] = []
    after_pub = False
    for line in listing.splitlines():
        fields = line.split(":")
        if fields[0] == "pub":
            after_pub = True
        elif fields[0] == "fpr" and after_pub and len(fields) > 9:
            found.append(fields[9])
            after_pub = False
    return found


def _run(command: list[str], *, stdin: str | None = None) -> str:
    try:
        done = subprocess.run(
            command, input=stdin, capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError(f"--verify-commits: cannot run gpg ({exc})") from None
    if done.returncode != 0:
        raise ConfigError(f"--verify-commits: gpg failed: {done.stderr.strip()[-500:]}")
    return done.stdout
