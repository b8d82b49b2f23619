"""The agent's source of desired state: one branch of a git repository, fetched with real ``git``.

Like Flux's source-controller, the agent never plans a work tree: it fetches the branch into a
bare cache repository of its own, resolves the branch to a commit, and exports *that commit's*
tree (``git archive``). So uncommitted edits in a checkout given as ``--repo .`` are never applied,
and every plan names exactly one revision.

Credentials stay out of argv, URLs and logs: an HTTPS token is read by git from the environment
through a ``GIT_ASKPASS`` script that contains no secret (it prints ``$RECONCILER_GIT_TOKEN`` when
git asks), and a URL with a password in it is refused. SSH uses the user's own ssh config and
keys, in batch mode so that nothing ever waits for a passphrase.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from reconciler.errors import ConfigError, ReconcilerError
from reconciler.files import write_atomically

__all__ = [
    "TOKEN_ENV",
    "USERNAME_ENV",
    "GitError",
    "GitSource",
    "Revision",
    "check_repo_url",
    "tree_root",
]

TOKEN_ENV = "RECONCILER_GIT_TOKEN"
USERNAME_ENV = "RECONCILER_GIT_USERNAME"
CONFIG_NAME = "reconciler.yaml"
_FETCH_TIMEOUT = 300.0
_LOCAL_TIMEOUT = 60.0
_KEEP_TREES = 2
_TRACKING = "refs/reconciler/head"

# Prints the token only when git asks for a password; the script itself holds no secret.
_ASKPASS = f"""#!/bin/sh
case "$1" in
  Username*) printf '%s\\n' "${{{USERNAME_ENV}:-x-access-token}}" ;;
  *) printf '%s\\n' "${TOKEN_ENV}" ;;
esac
"""


class GitError(ReconcilerError):
    """A git operation failed; the message carries git's own words, with any token removed."""


@dataclass(frozen=True, order=True)
class Revision:
    """A branch resolved to a commit, written the way Flux writes revisions: ``main@sha1:…``."""

    branch: str
    sha: str

    def __str__(self) -> str:
        return f"{self.branch}@sha1:{self.sha}"

    @property
    def short(self) -> str:
        return self.sha[:12]


def check_repo_url(repo: str) -> str:
    """``repo`` as git should see it: an absolute local path, or a URL without a password."""
    if "://" not in repo and not _is_scp_like(repo):
        path = Path(repo).expanduser().resolve()
        if not path.exists():
            raise ConfigError(f"--repo {repo}: no such folder")
        return str(path)
    if _is_scp_like(repo):
        return repo
    parts = urlsplit(repo)
    if parts.password is not None:
        raise ConfigError(
            f"--repo: the URL carries a password; put the token in ${TOKEN_ENV} instead "
            "(it would otherwise show in process listings and logs)"
        )
    if parts.scheme not in {"https", "ssh", "file", "http", "git"}:
        raise ConfigError(f"--repo: unsupported URL scheme '{parts.scheme}'")
    return repo


def _is_scp_like(repo: str) -> bool:
    """``git@github.com:org/repo.git``: git's scp-like SSH syntax."""
    head, sep, _ = repo.partition(":")
    return bool(sep) and "@" in head and "/" not in head


class GitSource:
    """One branch of one repository, cached under ``cache_dir`` (a bare repository)."""

    def __init__(
        self,
        url: str,
        branch: str,
        cache_dir: Path,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.url = url
        self.branch = branch
        self.cache_dir = cache_dir
        self._environ = dict(os.environ if environ is None else environ)
        self._token = self._environ.get(TOKEN_ENV, "")

    @property
    def git_dir(self) -> Path:
        return self.cache_dir / "repo.git"

    def fetch(self) -> Revision:
        """Fetch the branch and return the commit it points at now."""
        self._ensure_cache()
        refspec = f"+refs/heads/{self.branch}:{_TRACKING}"
        self.git(["fetch", "--no-tags", "--prune", "--", self.url, refspec], timeout=_FETCH_TIMEOUT)
        sha = self.git(["rev-parse", "--verify", f"{_TRACKING}^{{commit}}"]).strip()
        return Revision(self.branch, sha)

    def export(self, revision: Revision) -> Path:
        """The commit's tree as plain files under ``trees/<sha>``; older exports are removed."""
        trees = self.cache_dir / "trees"
        dest = trees / revision.sha
        if not dest.is_dir():
            partial = trees / f".{revision.sha}.partial"
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir(parents=True)
            self._extract(revision.sha, partial)
            partial.rename(dest)
        self._prune_trees(trees, keep=dest)
        return dest

    def _extract(self, sha: str, dest: Path) -> None:
        archive = dest / ".archive.tar"
        with archive.open("wb") as out:
            self.git(["archive", "--format=tar", sha], stdout=out)
        with tarfile.open(archive) as tar:
            # The "data" filter refuses absolute paths, links out of the tree and device files:
            # a hostile commit cannot write outside its own export.
            tar.extractall(dest, filter="data")
        archive.unlink()

    def _prune_trees(self, trees: Path, *, keep: Path) -> None:
        others = sorted((p for p in trees.iterdir() if p != keep), key=lambda p: p.stat().st_mtime)
        for old in others[: max(0, len(others) - (_KEEP_TREES - 1))]:
            shutil.rmtree(old, ignore_errors=True)

    def _ensure_cache(self) -> None:
        if (self.git_dir / "HEAD").exists():
            return
        self.git_dir.mkdir(parents=True, exist_ok=True)
        self.git(["init", "--bare", "--quiet", str(self.git_dir)], bare=False)

    def env(self) -> dict[str, str]:
        """git's environment: no prompts, the askpass helper for tokens, ssh in batch mode."""
        env = {k: v for k, v in self._environ.items() if not k.startswith("GIT_DIR")}
        env["GIT_TERMINAL_PROMPT"] = "0"
        env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
        if self._token:
            env["GIT_ASKPASS"] = str(self._askpass())
        return env

    def _askpass(self) -> Path:
        path = self.cache_dir / "askpass.sh"
        write_atomically(path, _ASKPASS, private=True)
        path.chmod(0o700)
        return path

    def git(
        self,
        args: list[str],
        *,
        timeout: float = _LOCAL_TIMEOUT,
        stdout: IO[bytes] | None = None,
        bare: bool = True,
        extra_env: Mapping[str, str] | None = None,
    ) -> str:
        """Run git on the cache; GitError with git's message (token removed) when it fails."""
        command = ["git", "--git-dir", str(self.git_dir), *args] if bare else ["git", *args]
        env = self.env() | dict(extra_env or {})
        try:
            done = subprocess.run(
                command,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=stdout if stdout is not None else subprocess.PIPE,
                stderr=subprocess.PIPE,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise GitError(f"git {args[0]} did not finish within {timeout:.0f} s") from None
        except OSError as exc:
            raise GitError(f"cannot run git: {exc.strerror or exc}") from None
        if done.returncode != 0:
            raise GitError(f"git {args[0]} failed: {self.redact(_text(done.stderr))}")
        return (done.stdout or b"").decode("utf-8", "replace") if stdout is None else ""

    def redact(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text


def tree_root(tree: Path, subdir: str) -> tuple[Path, Path]:
    """The folder to plan inside an exported tree, and the config file that governs it.

    The config is looked up from ``subdir`` up to the tree's top and no further: above the
    export lies the agent's state folder, possibly inside a user's checkout, whose (uncommitted)
    reconciler.yaml must never steer a revision. A tree without one gets an empty one (the
    defaults) written into its export, which ends the lookup there.
    """
    root = (tree / subdir).resolve()
    top = tree.resolve()
    if root != top and top not in root.parents:
        raise ConfigError(f"--path {subdir}: must be a folder inside the repository")
    if not root.is_dir():
        raise ConfigError(f"--path {subdir}: no such folder in the commit")
    for folder in (root, *root.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return root, candidate
        if folder == top:
            break
    defaults = root / CONFIG_NAME
    defaults.write_text("{}\n", encoding="utf-8")
    return root, defaults


def _text(data: bytes | None) -> str:
    lines = (data or b"").decode("utf-8", "replace").strip().splitlines()
    return "\n".join(lines[-5:]) if lines else "(no message)"
