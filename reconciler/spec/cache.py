"""A content-addressed cache of validated results, so an unchanged re-run skips parsing.

Entries are keyed by the sha256 of a file's bytes, inside a *namespace* that names the loader
version: new content or new loader code simply misses. The store is one line-oriented file,
``<family>-<version>.jsonl``, read once, because opening thousands of small files would cost as
much as the parse it saves. Writing is atomic (:func:`reconciler.files.write_atomically`), and a
cache that cannot be written is only a slower run, so write failures are swallowed on purpose.

Each line is authenticated with an HMAC under a secret kept *outside* the repository: the
per-user key file (``$XDG_CACHE_HOME/reconciler/cache.key``, mode 0600; a key file that is not the
user's own 0600 file is refused), or in CI a key derived from the ``RECONCILER_CACHE_KEY`` secret
(:mod:`reconciler.spec.cachekey`). :func:`cache_secret` is the one place that decides which, and
whether this run may use the cache at all (not for a pull request from a fork). The cache sits
in the working tree (in CI, restored by ``actions/cache``), and ``plan`` and ``apply`` read it:
without the secret, a pull request could commit or save a cache entry that maps an
innocent-looking spec file's hash to other records, and CD would apply what no reviewer saw. A
line that is damaged, edited, or written under another secret is a miss, never trusted. The
folder itself is checked by :func:`reconciler.files.ensure_state_dir` (a real folder of the
user's, never a symlink).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import json
import logging
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from reconciler.files import (
    UnsafePathError,
    check_private_file,
    read_regular,
    write_atomically,
)
from reconciler.spec.cachekey import CACHE_KEY_ENV, ci_refusal, derive_key, parse_cache_key

__all__ = ["MAX_ENTRIES", "ContentCache", "cache_secret", "content_key", "user_secret"]

#: Entries of earlier runs are kept (a run over a subset must not evict the rest) while the
#: store holds fewer lines than this; a run's own entries are always kept.
MAX_ENTRIES = 20_000
#: A store larger than this is not read (a miss): far above the snapshot of 20,000 records.
MAX_STORE_BYTES = 1 << 30
_SUFFIX = ".jsonl"
_SECRET_BYTES = 32
#: Where the note goes that a run does not use the cache; with no logging configured (the
#: command line) Python prints it on stderr, an embedding program routes it like its own.
_log = logging.getLogger(__name__)


def content_key(data: bytes) -> str:
    """The cache key of some content."""
    return hashlib.sha256(data).hexdigest()


def cache_secret() -> bytes | None:
    """The secret that authenticates cache lines for this run; None means no cache (cold, and
    nothing written). Every cache goes through here.

    - a pull request from a fork (:func:`~reconciler.spec.cachekey.ci_refusal`): None, with one
      note why; the key is not even looked at;
    - ``RECONCILER_CACHE_KEY`` set (not empty: CI gives an empty value for a secret a run may not
      have): the key derived from it; a malformed value is a ConfigError naming the variable;
    - else the per-user key file (:func:`user_secret`).
    """
    refusal = ci_refusal(os.environ)
    if refusal is not None:
        _note(refusal)
        return None
    value = os.environ.get(CACHE_KEY_ENV, "")
    if value.strip():
        return _derived(value)
    return user_secret()


@functools.cache
def _derived(value: str) -> bytes:
    """Parsed and derived once per process (a load opens three stores)."""
    return derive_key(parse_cache_key(value))


@functools.cache
def _note(refusal: str) -> None:
    """Once per process and reason: a load opens three stores, the user needs to read it once."""
    _log.warning("note: the spec cache is off for this run: %s; every spec file is parsed", refusal)


def _secret_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "reconciler" / "cache.key"


def user_secret() -> bytes | None:
    """This user's cache secret, created on first use; None when it cannot be had (no cache).

    A key file that is not this user's own with mode 0600 is refused (UnsafePathError), as ssh
    refuses such a private key: whoever planted or can write it knows the secret, and then their
    forged cache lines pass as ours.
    """
    path = _secret_path()
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return _new_secret(path)
    except OSError as exc:
        if path.is_symlink():
            raise UnsafePathError(
                f"{path}: the cache key is a symbolic link; delete it (a new one is made)"
            ) from exc
        return None
    with os.fdopen(fd, "rb") as handle:
        check_private_file(fd, str(path))
        found = handle.read(_SECRET_BYTES + 1)
    if len(found) == _SECRET_BYTES:
        return found
    with contextlib.suppress(OSError):
        path.unlink()  # damaged (and ours): start afresh, the cache only misses
    return _new_secret(path)


def _new_secret(path: Path) -> bytes | None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return user_secret()
    except OSError:
        return None
    secret = secrets.token_bytes(_SECRET_BYTES)
    with os.fdopen(fd, "wb") as out:
        out.write(secret)
    return secret


def _line_digest(secret: bytes, key: str, payload: str) -> str:
    """The HMAC of ``key<TAB>payload``, fed in two parts: a snapshot's payload is tens of MB,
    and joining the two first was one more copy of it."""
    mac = hmac.new(secret, f"{key}\t".encode(), "sha256")
    mac.update(payload.encode())
    return mac.hexdigest()[:32]


def _line(key: str, digest: str, payload: str) -> tuple[bytes, bytes, bytes]:
    """A stored line in three pieces, so that a large payload is encoded once, not copied."""
    return f"{key}\t{digest}\t".encode(), payload.encode(), b"\n"


class ContentCache:
    """Maps content keys to JSON values, persisted under ``directory`` for one version.

    ``family`` names what is cached (``specs``); ``version`` the code that produced it. Saving
    removes the family's files of other versions, and never touches other families. ``secret``
    defaults to :func:`cache_secret`; without one the cache stays empty and writes nothing.
    ``max_entries`` (default :data:`MAX_ENTRIES`) bounds how many entries of earlier runs are kept;
    a family of large values (a whole merged load) keeps only what the run used.
    """

    def __init__(
        self,
        directory: Path,
        family: str,
        version: str,
        *,
        secret: bytes | None = None,
        max_entries: int | None = None,
    ) -> None:
        self._secret = secret if secret is not None else cache_secret()
        self._max_entries = max_entries
        self.directory = directory
        self.family = family
        self.version = version
        self._lines: dict[str, tuple[str, str]] | None = None
        self._new: dict[str, str] = {}
        self._used: set[str] = set()

    @property
    def path(self) -> Path:
        return self.directory / f"{self.family}-{self.version}{_SUFFIX}"

    def _load(self) -> dict[str, tuple[str, str]]:
        if self._lines is None:
            self._lines = {}
            if self._secret is None:
                return self._lines
            try:
                # A regular file only, and bounded: a committed symlink to /dev/zero is a miss.
                data, _stat = read_regular(self.path, MAX_STORE_BYTES)
            except OSError:
                return self._lines
            text = data.decode("utf-8", errors="replace")
            # Only "\n" ends a line: payloads are JSON, which escapes it, but a note may hold
            # U+2028 and the like, which splitlines() would cut at.
            for line in text.split("\n"):
                parts = line.split("\t", 2)
                if len(parts) == 3:
                    self._lines[parts[0]] = (parts[1], parts[2])
        return self._lines

    def get(self, key: str) -> Any | None:
        """The stored value, or None when absent or damaged."""
        found = self._load().get(key)
        if found is None:
            return None
        digest, payload = found
        if not self._sound(key, payload, digest):
            return None
        try:
            value = json.loads(payload)
        except ValueError:
            return None
        self._used.add(key)
        return value

    def get_json(self, key: str) -> str | None:
        """The stored value's JSON text when the entry is sound, else None: for values validated
        straight from JSON (pydantic's ``validate_json``), which is faster than ``json.loads``
        and then validating Python objects."""
        found = self._load().get(key)
        if found is None or not self._sound(key, found[1], found[0]):
            return None
        self._used.add(key)
        return found[1]

    def get_many(self, keys: list[str]) -> list[Any | None]:
        """:meth:`get` for many keys, decoding all sound entries in one pass (warm runs)."""
        lines = self._load()
        sound: list[tuple[int, str]] = []
        for i, key in enumerate(keys):
            found = lines.get(key)
            if found is not None and self._sound(key, found[1], found[0]):
                sound.append((i, found[1]))
        out: list[Any | None] = [None] * len(keys)
        try:
            values = json.loads("[" + ",".join(payload for _i, payload in sound) + "]")
        except ValueError:
            return [self.get(key) for key in keys]  # find the one that does not decode
        for (i, _payload), value in zip(sound, values, strict=True):
            out[i] = value
            self._used.add(keys[i])
        return out

    def _sound(self, key: str, payload: str, digest: str) -> bool:
        if self._secret is None:
            return False
        return hmac.compare_digest(_line_digest(self._secret, key, payload), digest)

    def put(self, key: str, value: Any) -> None:
        """Remember a value; written by :meth:`save`."""
        self._new[key] = json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    def put_json(self, key: str, payload: str) -> None:
        """:meth:`put` for a value already serialised as JSON (e.g. by pydantic, which is faster
        than building Python objects for ``json.dumps``); it must be valid, one-line JSON."""
        self._new[key] = payload

    def save(self) -> None:
        """Write new entries (and keep old ones); writes nothing when nothing is new.

        Then the lines read are let go (read again if asked for): a cold load of 400,000
        records otherwise held every file's entry, ~50 MB, until it returned.
        """
        if not self._new or self._secret is None:
            self._lines = None
            return
        lines = self._load()
        for key, payload in self._new.items():
            lines[key] = (_line_digest(self._secret, key, payload), payload)
        fresh = self._used | set(self._new)
        # This run's entries always stay; older ones (other branches, subsets) while there is room.
        keep = [item for item in lines.items() if item[0] in fresh]
        limit = MAX_ENTRIES if self._max_entries is None else self._max_entries
        room = max(0, limit - len(keep))
        keep += [item for item in lines.items() if item[0] not in fresh][-room:] if room else []
        del lines
        self._new.clear()
        self._lines = None
        # Piece by piece: the whole store as one text, then as its bytes, was two more copies
        # of it in memory (~100 MB at 400,000 records).
        with contextlib.suppress(OSError):
            self._write(piece for k, (d, p) in keep for piece in _line(k, d, p))

    def _write(self, lines: Iterable[bytes]) -> None:
        write_atomically(self.path, lines, private=True)
        self._remove_other_namespaces()

    def _remove_other_namespaces(self) -> None:
        """Entries of older loader versions can never hit again."""
        for other in self.directory.glob(f"{self.family}-*{_SUFFIX}"):
            if other.name != self.path.name:
                with contextlib.suppress(OSError):
                    other.unlink()
