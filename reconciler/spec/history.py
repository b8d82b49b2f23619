"""What git's history of the spec paths says, computed with git.

- :func:`changed_conversations` (``plan --changed-since REF``): the specs at REF and in the
  working tree are *loaded and validated* and compared per conversation, not as lines of text: a
  record that moved between files or lines is not a change, and a catalog edit touches every
  conversation that uses the label, wherever it is declared.
- :func:`retired_conversations` (every full ``plan``): the conversations that recent commits
  declared and the current specs do not. Zelto has no org-wide listing, so a conversation removed
  from the specs would otherwise never be read again and its records never reported as orphans;
  git's history is the record of every conversation ever managed, no state file needed.
"""

from __future__ import annotations

import itertools
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.errors import Issue, Location, ReconcilerError, SpecError
from reconciler.files import read_regular
from reconciler.model import DesiredState, normalise_uuid
from reconciler.spec import load_spec_sources, load_specs
from reconciler.spec.cache import ContentCache
from reconciler.spec.delta import RemovedRecord, differing_conversations, removed_records
from reconciler.spec.discovery import SPEC_SUFFIXES
from reconciler.spec.yamlio import DEFAULT_MAX_BYTES, load_yaml

__all__ = [
    "DEFAULT_HISTORY_COMMITS",
    "ChangeScope",
    "GitError",
    "changed_conversations",
    "git_spec_sources",
    "retired_conversations",
]

#: How many of the spec paths' most recent commits a plan reads for retired conversations.
DEFAULT_HISTORY_COMMITS = 100
#: blob id -> the conversations that version of a spec file declared (blobs never change): a
#: family of the spec cache's folder (``history-v1.jsonl``).
_HISTORY_FAMILY = "history"
_HISTORY_VERSION = "v1"


class GitError(ReconcilerError):
    """git could not answer: not a repository, an unknown ref, a path outside the repository."""


@dataclass(frozen=True)
class ChangeScope:
    """The conversations to plan, the records removed since REF, and what was compared."""

    ref: str
    commit: str
    conversations: frozenset[str]
    removed: tuple[RemovedRecord, ...] = ()
    changed_files: tuple[str, ...] = ()
    note: str = ""
    before: DesiredState | None = field(default=None, compare=False, repr=False)

    @property
    def label(self) -> str:
        return f"changed since {self.ref}"

    @property
    def planned(self) -> frozenset[str]:
        """The conversations a changed-since plan covers, online or offline: the changed ones,
        and those whose records were all removed (so that what stays in Zelto is shown)."""
        return self.conversations | {r.conversation_id for r in self.removed}


def changed_conversations(
    root: Path,
    ref: str,
    spec_paths: Sequence[Path],
    *,
    current: DesiredState | None = None,
) -> ChangeScope:
    """Conversations whose declared records differ between ``ref`` and the working tree.

    ``current`` is the working tree's desired state when the caller already loaded it (plan
    does); otherwise it is loaded from ``spec_paths``. Untracked spec files count as changed,
    because the working tree's specs include them.
    """
    top = _toplevel(root)
    commit = _resolve(top, ref)
    pathspecs = [_relative(top, p) for p in spec_paths]
    changed = _changed_spec_files(top, commit, pathspecs)
    if not changed:
        return ChangeScope(ref=ref, commit=commit, conversations=frozenset(), before=current)
    after = current if current is not None else load_specs(list(spec_paths), root=root)
    try:
        before = load_spec_sources(git_spec_sources(top, ref, commit, pathspecs, changed))
    except SpecError as exc:
        return ChangeScope(
            ref=ref,
            commit=commit,
            conversations=frozenset(after.conversations),
            changed_files=changed,
            note=f"the specs at {ref} do not load ({len(exc.issues)} problems), so every "
            "conversation is planned",
        )
    touched = differing_conversations(before, after)
    return ChangeScope(
        ref=ref,
        commit=commit,
        conversations=frozenset(touched & set(after.conversations)),
        removed=removed_records(before, after),
        changed_files=changed,
        before=before,
    )


def git_spec_sources(
    top: Path, ref: str, commit: str, pathspecs: Sequence[str], changed: Sequence[str]
) -> list[tuple[str, bytes]]:
    """Every spec file as it was at ``commit``, named ``REF:path`` so errors say where.

    Files that did not change are read from disk (identical by definition); the changed ones
    come from one ``git cat-file --batch``, so a pull request touching a thousand files does not
    start a thousand processes.
    """
    files = _spec_files_at(top, commit, pathspecs)
    changed_set = set(changed)
    old = _blobs(top, commit, [p for p in files if p in changed_set])
    return [(f"{ref}:{path}", old[path] if path in old else _on_disk(top, path)) for path in files]


def _on_disk(top: Path, path: str) -> bytes:
    """An unchanged spec file, read like every other spec (regular files only, capped)."""
    try:
        return read_regular(top / path, DEFAULT_MAX_BYTES)[0]
    except OSError as exc:  # FileRefusedError too: a symlink to a device, an oversized file
        raise SpecError([Issue(Location(path), f"cannot read: {exc.strerror or exc}")]) from None


def _git(top: Path, *args: str, stdin: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(
            ["git", "-C", str(top), *args],
            input=stdin,
            capture_output=True,
            check=False,
            timeout=120,
        )
    except FileNotFoundError:
        raise GitError("--changed-since needs git, and git is not installed") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {args[0]} took longer than 120 s") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(f"git {args[0]} failed: {message[-1] if message else done.returncode}")
    return done.stdout


def _toplevel(root: Path) -> Path:
    try:
        out = _git(root, "rev-parse", "--show-toplevel")
    except GitError:
        raise GitError(
            f"--changed-since needs a git repository, and {root} is not inside one"
        ) from None
    return Path(out.decode().strip()).resolve()


def _resolve(top: Path, ref: str) -> str:
    if not ref or ref.startswith("-"):
        raise GitError(f"'{ref}' is not a git ref")
    try:
        return _git(top, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").decode().strip()
    except GitError:
        raise GitError(
            f"unknown git ref '{ref}'. In CI, fetch it first (actions/checkout with "
            "`fetch-depth: 0`, or `git fetch origin main`)"
        ) from None


def _relative(top: Path, path: Path) -> str:
    resolved = path.resolve()
    try:
        relative = resolved.relative_to(top)
    except ValueError:
        raise GitError(f"spec path {path} is outside the git repository {top}") from None
    return relative.as_posix() or "."


def _changed_spec_files(top: Path, commit: str, pathspecs: Sequence[str]) -> tuple[str, ...]:
    diff = _git(top, "diff", "--name-only", "--no-renames", "-z", commit, "--", *pathspecs)
    untracked = _git(top, "ls-files", "--others", "--exclude-standard", "-z", "--", *pathspecs)
    names = {*_split(diff), *_split(untracked)}
    return tuple(sorted(n for n in names if _is_spec(n, pathspecs)))


def _spec_files_at(top: Path, commit: str, pathspecs: Sequence[str]) -> list[str]:
    listed = _git(top, "ls-tree", "-r", "-z", "--name-only", commit, "--", *pathspecs)
    return sorted(n for n in _split(listed) if _is_spec(n, pathspecs))


def _is_spec(path: str, pathspecs: Sequence[str]) -> bool:
    """What the spec loader would read: YAML files, not inside hidden folders below a spec path."""
    if not path.endswith(SPEC_SUFFIXES):
        return False
    for spec in pathspecs:
        if path == spec:
            return True
        prefix = "" if spec == "." else spec.rstrip("/") + "/"
        if path.startswith(prefix):
            below = path[len(prefix) :].split("/")[:-1]
            return not any(part.startswith(".") for part in below)
    return False


def _split(output: bytes) -> list[str]:
    return [part.decode("utf-8", "surrogateescape") for part in output.split(b"\0") if part]


def _blobs(top: Path, commit: str, paths: Sequence[str]) -> dict[str, bytes]:
    """The content of ``commit:path`` for each path, read in one ``git cat-file --batch``."""
    batchable = [p for p in paths if "\n" not in p]
    blobs = {p: _git(top, "show", f"{commit}:{p}") for p in paths if "\n" in p}
    contents = _cat_file(top, [f"{commit}:{p}" for p in batchable])
    blobs.update(zip(batchable, contents, strict=True))
    return blobs


def _cat_file(top: Path, objects: Sequence[str]) -> list[bytes]:
    """The content of each object (``commit:path`` or a blob id), in one ``git cat-file --batch``
    so that a thousand files do not start a thousand processes."""
    if not objects:
        return []
    request = "".join(f"{name}\n" for name in objects).encode("utf-8", "surrogateescape")
    output = _git(top, "cat-file", "--batch", stdin=request)
    contents = []
    offset = 0
    for name in objects:
        end = output.index(b"\n", offset)
        header = output[offset:end].split()
        if len(header) != 3 or header[1] != b"blob":
            raise GitError(f"git cat-file could not read {name[:60]}")
        size = int(header[2])
        contents.append(output[end + 1 : end + 1 + size])
        offset = end + 1 + size + 1
    return contents


def retired_conversations(
    root: Path,
    spec_paths: Sequence[Path],
    current: Iterable[str],
    *,
    max_commits: int = DEFAULT_HISTORY_COMMITS,
    cache_dir: Path | None = None,
) -> frozenset[str]:
    """Conversations that the last ``max_commits`` commits touching ``spec_paths`` declared and
    ``current`` (the working tree's specs) does not.

    Bounded and cached: one ``git log --raw`` lists every version (blob) of every spec file those
    commits changed, before and after; each blob is parsed once, ever, and what it declares is
    kept in ``cache_dir`` by blob id. Outside a git repository (a tarball), or when
    ``max_commits`` is 0, there is no history: nothing is returned. A version that does not parse
    declares nothing (it was already refused when it was committed).
    """
    if max_commits <= 0:
        return frozenset()
    try:
        top = _toplevel(root)
    except GitError:
        return frozenset()
    pathspecs = [_relative(top, p) for p in spec_paths]
    log = _git(
        top, "log", f"-n{max_commits}", "--format=", "--raw", "-z", "--root", "--no-abbrev",
        "--no-renames", "--", *pathspecs,
    )  # fmt: skip
    blobs = sorted(_spec_blobs(log, pathspecs))
    cache = _history_cache(cache_dir)
    known = _cached_blobs(cache, blobs)
    missing = [blob for blob in blobs if blob not in known]
    for blob, data in zip(missing, _cat_file(top, missing), strict=True):
        known[blob] = _declared_conversations(blob, data)
        if cache is not None:
            cache.put(blob, known[blob])
    if cache is not None:
        cache.save()  # only when something is new (a read-only checkout: parsed again next time)
    declared = {cid for ids in known.values() for cid in ids}
    return frozenset(declared - {normalise_uuid(c) or c for c in current})


def _spec_blobs(raw_log: bytes, pathspecs: Sequence[str]) -> set[str]:
    """Both sides' blob ids of every spec file change in ``git log --raw -z`` output."""
    blobs: set[str] = set()
    fields = raw_log.split(b"\0")
    for field_, path in itertools.pairwise(fields):
        meta = field_.lstrip(b"\n")
        if not meta.startswith(b":") or not _is_spec(
            path.decode("utf-8", "surrogateescape"), pathspecs
        ):
            continue
        _, _, old, new, _ = meta.decode("ascii").split(" ", 4)
        blobs.update(b for b in (old, new) if b.strip("0"))
    return blobs


def _declared_conversations(blob: str, data: bytes) -> list[str]:
    try:
        document = load_yaml(data, f"git blob {blob[:12]}")
    except SpecError:
        return []
    conversations = document.data.get("conversations") if isinstance(document.data, dict) else None
    if not isinstance(conversations, dict):
        return []
    return sorted({normalise_uuid(str(cid)) or "" for cid in conversations} - {""})


def _history_cache(cache_dir: Path | None) -> ContentCache | None:
    """Blob id -> the conversations it declares, in the spec cache's folder and under its
    rules: every line authenticated by the cache's key (:func:`~reconciler.spec.cache.cache_secret`,
    refused in a fork's pull request), so a planted line cannot add conversations to a full
    plan's reads (whose records with our externalIds would show as orphans) or hide retired ones.
    Only this run's blobs are kept (``max_entries=0``): the window's, so it never outgrows it."""
    if cache_dir is None:
        return None
    return ContentCache(cache_dir, _HISTORY_FAMILY, _HISTORY_VERSION, max_entries=0)


def _cached_blobs(cache: ContentCache | None, blobs: Sequence[str]) -> dict[str, list[str]]:
    if cache is None:
        return {}
    found = zip(blobs, cache.get_many(list(blobs)), strict=True)
    return {
        blob: ids
        for blob, ids in found
        if isinstance(ids, list) and all(isinstance(i, str) for i in ids)
    }
