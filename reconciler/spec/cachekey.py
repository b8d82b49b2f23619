"""Which secret the spec cache may use in CI, and when CI may not use the cache at all.

A fresh CI runner has no per-user secret (``$XDG_CACHE_HOME/reconciler/cache.key``), so every
run was cold. :data:`CACHE_KEY_ENV` lets a CI secret take its place; the cache folder itself is
then carried between runs by the CI's own cache (``actions/cache``), which is storage anyone
with a workflow on the right branch can write: it is trusted only because every line in it
carries an HMAC under a key that is in a CI secret and nowhere else (never the repository,
never ``reconciler.yaml``).

The raw secret is not used as the HMAC key: HKDF-SHA256 (RFC 5869) with a fixed context
derives it, so a secret that is also used elsewhere (it should not be) gives a key that is
ours alone, and the format may change the derivation without reusing a key.

A pull request from a fork neither reads nor writes the cache (:func:`ci_refusal`): on
``pull_request_target`` (and ``workflow_run``) it would run in the base repository's context,
where what it saves is restored by the main branch, and its author controls the spec bytes the
run sees. When the event cannot be read, the run is treated as a fork's: cold, never wrong.
The reasoning, and the rest of the threat model, is in docs/security.md ("The spec cache in CI").
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn

from reconciler.errors import ConfigError

__all__ = [
    "CACHE_KEY_ENV",
    "MIN_KEY_BYTES",
    "ci_refusal",
    "derive_key",
    "hkdf_sha256",
    "parse_cache_key",
]

#: The environment variable that holds the CI cache key (a CI secret).
CACHE_KEY_ENV = "RECONCILER_CACHE_KEY"
#: 256 bits: as much as the HMAC-SHA256 key it becomes.
MIN_KEY_BYTES = 32
#: Far above any sensible key; a longer value is a mistake (a whole file pasted in).
_MAX_KEY_CHARS = 1024
#: Fewer different byte values than this in 32 bytes is a pattern, not a random key (a random
#: 32-byte key has ~30; fewer than 8 has a probability far below 2**-100).
_MIN_DISTINCT_BYTES = 8
_HEX = re.compile(r"[0-9a-fA-F]+")
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")
_HKDF_SALT = b"reconciler spec cache"
_HKDF_INFO = b"reconciler/spec-cache/hmac-sha256/v1"
_ALLOWED = (
    f"at least {MIN_KEY_BYTES} random bytes written as hex (64 or more hex digits) or base64 "
    "(44 or more characters), e.g. the output of `openssl rand -hex 32`"
)
#: GitHub events whose payload is a pull request (``pull_request.head`` / ``.base``).
_PULL_REQUEST_EVENTS = frozenset(
    {"pull_request", "pull_request_target", "pull_request_review", "pull_request_review_comment"}
)


def parse_cache_key(text: str) -> bytes:
    """The key bytes of a :data:`CACHE_KEY_ENV` value; ConfigError naming the variable and what
    is allowed otherwise. The value itself is never part of a message: it is a secret."""
    value = text.strip()  # a secret pasted with its trailing newline is still the same secret
    if len(value) > _MAX_KEY_CHARS:
        _refuse(f"it is longer than {_MAX_KEY_CHARS} characters")
    raw: bytes | None = None
    if _HEX.fullmatch(value) and len(value) % 2 == 0:
        raw = bytes.fromhex(value)
    elif _BASE64.fullmatch(value):
        plain = value.rstrip("=").replace("+", "-").replace("/", "_")
        try:
            raw = base64.urlsafe_b64decode(plain + "=" * (-len(plain) % 4))
        except (binascii.Error, ValueError):
            raw = None
    if raw is None:
        _refuse("it is neither hex nor base64")
    if len(raw) < MIN_KEY_BYTES:
        _refuse(f"it holds {len(raw)} bytes")
    if len(set(raw)) < _MIN_DISTINCT_BYTES:
        _refuse("its bytes repeat a pattern, it is not random")
    return raw


def _refuse(why: str) -> NoReturn:
    raise ConfigError(
        f"{CACHE_KEY_ENV} is not a usable cache key: {why} (its value is not shown). "
        f"Allowed: {_ALLOWED}; or unset it to run without a shared cache."
    )


def derive_key(raw: bytes) -> bytes:
    """The HMAC key of cache lines, from the CI secret's bytes."""
    return hkdf_sha256(_HKDF_SALT, raw, _HKDF_INFO)


def hkdf_sha256(salt: bytes, ikm: bytes, info: bytes) -> bytes:
    """HKDF-SHA256 (RFC 5869) with one output block, 32 bytes: extract, then expand."""
    prk = hmac.digest(salt, ikm, "sha256")
    return hmac.digest(prk, info + b"\x01", "sha256")


def ci_refusal(environ: Mapping[str, str]) -> str | None:
    """Why this run must not use the spec cache (read nor write), or None when it may.

    GitHub Actions: a pull request (or a ``workflow_run`` of one) whose head repository is not
    the base repository. GitLab CI: a merge request from another project (a fork).
    """
    if environ.get("GITHUB_ACTIONS") == "true":
        return _github_refusal(environ)
    if environ.get("GITLAB_CI") == "true":
        source = environ.get("CI_MERGE_REQUEST_SOURCE_PROJECT_ID", "")
        target = environ.get("CI_MERGE_REQUEST_PROJECT_ID", "")
        if source and target and source != target:
            return "a merge request from a fork is not trusted with the spec cache"
    return None


def _github_refusal(environ: Mapping[str, str]) -> str | None:
    event = environ.get("GITHUB_EVENT_NAME", "")
    if event not in _PULL_REQUEST_EVENTS and event != "workflow_run":
        return None
    path = environ.get("GITHUB_EVENT_PATH", "")
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8")) if path else None
    except (OSError, ValueError):
        payload = None
    if not isinstance(payload, dict):
        return (
            f"a {event} event whose payload (GITHUB_EVENT_PATH) cannot be read may come from a "
            "fork, which is not trusted with the spec cache"
        )
    if event == "workflow_run":
        run = payload.get("workflow_run")
        head = run.get("head_repository") if isinstance(run, dict) else None
        base = payload.get("repository")
        if not isinstance(run, dict) or run.get("event") not in _PULL_REQUEST_EVENTS:
            return None  # a run of a push or a schedule: the repository's own code
    else:
        if not from_fork(payload):
            return None
        head = _dig(payload, "pull_request", "head", "repo")
        base = None
    if _same_repository(head, base):
        return None
    name = head.get("full_name") if isinstance(head, dict) else None
    who = f" ({name})" if isinstance(name, str) and name.isprintable() else ""
    return f"a pull request from a fork{who} is not trusted with the spec cache"


def from_fork(payload: object) -> bool:
    """Whether a ``pull_request`` event's payload comes from another repository than its base.

    The one test of "is this pull request a fork's": the spec cache refuses such runs, and the
    Action does not try to comment with their read-only token (``.github/action/run.sh`` asks
    this function). ``head.repo.fork`` would not do: it is also true for every pull request of
    a repository that is itself a fork.
    """
    pull = _dig(payload, "pull_request")
    return not _same_repository(_dig(pull, "head", "repo"), _dig(pull, "base", "repo"))


def _dig(value: object, *keys: str) -> object:
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _same_repository(head: object, base: object) -> bool:
    """By id when both have one (a renamed repository keeps it), else by full name. A missing
    head (a deleted fork) is not the base."""
    if not isinstance(head, dict) or not isinstance(base, dict):
        return False
    head_id, base_id = head.get("id"), base.get("id")
    if isinstance(head_id, int) and isinstance(base_id, int):
        return head_id == base_id
    name = head.get("full_name")
    return isinstance(name, str) and bool(name) and name == base.get("full_name")
