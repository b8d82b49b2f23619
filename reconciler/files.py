"""Every file the reconciler reads as input or writes as output goes through here.

One home for each filesystem rule (docs/security.md says which attack each one stops):

* :func:`read_regular` reads only regular files, with the size cap enforced *while* reading: a
  spec that is a symlink to ``/dev/zero`` would otherwise be read without bound, and a FIFO would
  block every command forever (it is opened non-blocking, then refused by ``fstat``).
* :func:`writable_target` decides "may the tool write here": the whole path is checked, not only
  its last part, so a committed symlink anywhere between the project folder and the file (a
  symlinked ``specs/imported``) cannot send a write outside the project.
* :func:`write_atomically` (and :func:`stage_beside` for writers that commit several files at once)
  is the one atomic write: a temp file beside the target, flushed to disk, renamed over it, so no
  reader ever sees half a file.
* :func:`ensure_state_dir` creates or checks the ``.reconciler`` folder (caches, local state): a
  real folder inside the project, owned by the user, never a symlink a pull request committed,
  holding a ``.gitignore`` of ``*`` so that git never commits it.
* :func:`check_private_file` is the ssh rule for secrets: the user's own file, mode 0600.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from reconciler.errors import ReconcilerError

__all__ = [
    "FileRefusedError",
    "UnsafePathError",
    "check_private_file",
    "ensure_state_dir",
    "read_regular",
    "stage_beside",
    "writable_target",
    "write_atomically",
]

_NEW_FILE_MODE = 0o644
_PRIVATE_MODE = 0o600


class UnsafePathError(ReconcilerError):
    """A path the reconciler refuses to write through or trust (a symlink, another owner...).

    The message names the path and says how to fix it.
    """


class FileRefusedError(OSError):
    """An input file that is not read (not a regular file, or over the size cap).

    ``reason`` is the user-facing message without the file name (callers add the place). An
    OSError, so that every "cannot read this file" path handles it without knowing of it.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_regular(path: str | Path, limit: int) -> tuple[bytes, os.stat_result]:
    """A regular file's bytes (at most ``limit``) and its stat taken *before* reading.

    Opened with ``O_NONBLOCK`` so that a FIFO does not block the open, then refused by ``fstat``
    unless it is a regular file (devices, FIFOs, sockets, folders). The cap holds while reading
    too: a file that grows after its stat is cut off at ``limit + 1`` bytes and refused.
    Raises :class:`FileRefusedError`, or OSError when the file cannot be opened.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb", buffering=0) as handle:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode):
            raise FileRefusedError(
                f"not a regular file ({_kind(found.st_mode)}); only files are read"
            )
        if found.st_size > limit:
            raise FileRefusedError(size_message(found.st_size, limit))
        chunks: list[bytes] = []
        total = 0
        while total <= limit:
            chunk = handle.read(min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise FileRefusedError(size_message(total, limit, growing=True))
        return b"".join(chunks), found


def size_message(size: int, limit: int, *, growing: bool = False) -> str:
    """The one wording of "this file is too large" (stat size, or read size when it grew)."""
    shown = f"more than {limit:,}" if growing else f"{size:,}"
    return f"file is {shown} bytes; the limit is {limit:,} bytes (split it into several files)"


def _kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "not a file")


def writable_target(path: Path, root: Path | None) -> Path:
    """The absolute path to write ``path`` at, once it is known to be safe; else UnsafePathError.

    With ``root`` (writers whose folder comes from the repository: imports, caches), the path
    must lie inside ``root`` and no existing part of it below ``root`` may be a symlink, so what
    is written stays in the project whatever the repository committed. Without ``root`` (a path
    the user typed, e.g. ``plan --out``), only the file itself is checked. Either way an existing
    target must be a regular file: writing replaces it, never what a symlink points at.
    """
    target = Path(os.path.abspath(path))
    if root is not None:
        base = Path(os.path.abspath(root))
        if target != base and base not in target.parents:
            raise UnsafePathError(
                f"{path}: outside the project folder {base}; refusing to write there "
                "(choose a folder inside the project)"
            )
        for part in reversed(target.parents):
            if part == base or base not in part.parents:
                continue
            _check_folder(part)
    _check_file(target)
    return target


def _check_folder(folder: Path) -> None:
    try:
        found = os.lstat(folder)
    except FileNotFoundError:
        return  # created by the write, inside a folder already checked
    _refuse_unless_real_folder(folder, found, f"replace it with a real folder: rm {folder}")


def _refuse_unless_real_folder(folder: Path, found: os.stat_result, fix: str) -> None:
    if stat.S_ISLNK(found.st_mode):
        raise UnsafePathError(
            f"{folder}: is a symbolic link (to {os.readlink(folder)}); refusing to write "
            f"through it: {fix}"
        )
    if not stat.S_ISDIR(found.st_mode):
        raise UnsafePathError(f"{folder}: not a folder; refusing to write under it: {fix}")


def _check_file(target: Path) -> None:
    try:
        found = os.lstat(target)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(found.st_mode):
        raise UnsafePathError(
            f"{target}: is a symbolic link (to {os.readlink(target)}); refusing to write "
            f"through it. Remove it (rm {target}) and run again"
        )
    if not stat.S_ISREG(found.st_mode):
        raise UnsafePathError(
            f"{target}: not a regular file ({_kind(found.st_mode)}); refusing to replace it"
        )


def stage_beside(target: Path, data: bytes | Iterable[bytes], *, private: bool = False) -> Path:
    """Write ``data`` to a new temp file in ``target``'s folder, flushed to disk; return its path.

    Renaming it over ``target`` (``os.replace``) then replaces the file atomically. The mode is
    the replaced file's, else 0644 (0600 when ``private``): mkstemp's 0600 would make every
    rewritten spec private. ``data`` may come in pieces (the spec cache's lines), so that a
    large file is never one more copy in memory. Raises OSError (the temp file removed) when
    the disk refuses.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            if isinstance(data, bytes):
                handle.write(data)
            else:
                handle.writelines(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(name, _mode_for(target, private))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
    return Path(name)


def _mode_for(target: Path, private: bool) -> int:
    if private:
        return _PRIVATE_MODE
    try:
        return os.lstat(target).st_mode & 0o777
    except OSError:
        return _NEW_FILE_MODE


def write_atomically(
    path: Path,
    data: bytes | str | Iterable[bytes],
    *,
    root: Path | None = None,
    private: bool = False,
) -> Path:
    """Check ``path`` (:func:`writable_target`), then replace it atomically with ``data``
    (text is written as UTF-8; bytes may come in pieces, see :func:`stage_beside`).

    Raises UnsafePathError before anything is written, or OSError when the disk refuses (the
    target is then unchanged and no temp file is left behind).
    """
    target = writable_target(path, root)
    body = data.encode("utf-8") if isinstance(data, str) else data
    temp = stage_beside(target, body, private=private)
    try:
        os.replace(temp, target)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return target


def ensure_state_dir(folder: Path, *parts: str) -> Path:
    """``folder[/parts...]`` (the ``.reconciler`` local-state folder, ``LoadedConfig.state_dir``),
    created when missing, each level checked.

    Each level must be a real folder (not a symlink) owned by this user and not writable by
    others: a committed ``.reconciler/cache`` symlink would otherwise make ``validate`` write,
    and delete, files wherever it points. Raises UnsafePathError (with the fix) otherwise, or
    OSError when a missing level cannot be created. The one place that creates the folder.

    It also writes ``folder/.gitignore`` (``*``) when missing, as pytest and mypy do for their
    caches: without it ``git add -A`` committed the caches and the emulator's SQLite, and the
    next pre-commit run of ``validate`` changed tracked files, which makes pre-commit fail.
    """
    _make_own_folder(folder)
    _ignore_in_git(folder)
    for part in parts:
        folder = folder / part
        _make_own_folder(folder)
    return folder


_GITIGNORE = b"# Created by the reconciler: caches and local state, never committed.\n*\n"


def _ignore_in_git(folder: Path) -> None:
    ignore = folder / ".gitignore"
    if not os.path.lexists(ignore):
        write_atomically(ignore, _GITIGNORE)


def _make_own_folder(folder: Path) -> None:
    with contextlib.suppress(FileExistsError):
        os.mkdir(folder, 0o755)
    found = os.lstat(folder)
    fix = f"remove it (rm -r {folder}) and run again; the reconciler re-creates it"
    _refuse_unless_real_folder(folder, found, fix)
    if found.st_uid != os.geteuid():
        raise UnsafePathError(f"{folder}: owned by user id {found.st_uid}, not you: {fix}")
    if found.st_mode & stat.S_IWOTH:
        raise UnsafePathError(
            f"{folder}: writable by every user; fix it with chmod o-w {folder}, or {fix}"
        )


def check_private_file(fd: int, shown: str) -> None:
    """Refuse an open secret file that is not this user's own with mode 0600, as ssh does.

    Anyone who can write or plant the file knows the secret, and a secret others know
    authenticates their forgeries.
    """
    found = os.fstat(fd)
    fix = f"delete it (a new one is made) or run chmod 600 {shown} if it is yours"
    if not stat.S_ISREG(found.st_mode):
        raise UnsafePathError(f"{shown}: not a regular file; {fix}")
    if found.st_uid != os.geteuid():
        raise UnsafePathError(f"{shown}: owned by user id {found.st_uid}, not you; {fix}")
    if found.st_mode & 0o077:
        mode = stat.S_IMODE(found.st_mode)
        raise UnsafePathError(f"{shown}: mode {mode:04o}; it must be 0600; {fix}")
