"""Credentials (:class:`Secret`) and the one redaction function every client shows text through.

A server (or a proxy in the way) chooses what it echoes, so a credential is looked for in each
form it can take on the wire, not only verbatim:

- raw, and percent-encoded in any mix (``quote``, ``quote_plus``, either case of hex digit);
- base64 and base64url, of the token alone and inside ``user:token`` (HTTP Basic): for each of
  the three alignments a secret can have in a base64 stream, the characters that depend on the
  secret's bytes alone are the same whatever surrounds it, so they are found whatever the user
  name is;
- every URL's ``user:password@`` part (a proxy password) via
  :func:`~reconciler.remote.http.urls.without_userinfo`.

Callers redact the whole text BEFORE cutting it to a display length: a cut first would leave
the start of a token that straddles the cut (docs/security.md, "Redaction").
"""

from __future__ import annotations

import base64
import functools
import re
from typing import Any

from reconciler.remote.http.urls import without_userinfo

__all__ = ["REDACTED", "Secret", "redact", "redact_value"]

REDACTED = "***"
#: A base64 core shorter than this would also match unrelated text; the token is long anyway.
_MIN_CORE = 8


class Secret:
    """A credential. Its value is reachable only through :meth:`reveal`, so it cannot leak by
    accident into a message, a log line, a repr or a saved plan."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{REDACTED}')"

    def __str__(self) -> str:
        return REDACTED

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled")


def _base64_cores(raw: bytes) -> set[str]:
    """The base64/base64url substrings present whenever ``raw`` is encoded, at any alignment."""
    cores: set[str] = set()
    for align in range(3):
        skip = -(-align * 8 // 6)  # characters that also carry bits of what came before
        keep = (align + len(raw)) * 8 // 6  # characters fully determined up to the secret's end
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            core = encode(b"\0" * align + raw).decode()[skip:keep]
            if len(core) >= _MIN_CORE:
                cores.add(core)
    return cores


def _percent_pattern(value: str) -> str:
    """The token raw or percent-encoded in any mix (``quote`` keeps ``/``, ``quote_plus`` turns
    a space into ``+``, hex digits in either case): each character matches itself or its
    encoding."""
    parts = []
    for char in value:
        encoded = "".join(f"%(?i:{byte:02x})" for byte in char.encode())
        plus = "|\\+" if char == " " else ""
        parts.append(f"(?:{re.escape(char)}|{encoded}{plus})")
    return "".join(parts)


@functools.lru_cache(maxsize=16)
def _pattern(value: str) -> re.Pattern[str]:
    """One alternation of every form of ``value``, longest first so no form is half-replaced."""
    raw = value.encode()
    cores = sorted({*_base64_cores(raw), *_base64_cores(b":" + raw)}, key=len, reverse=True)
    return re.compile("|".join([_percent_pattern(value), *map(re.escape, cores)]))


def redact_value(text: str, value: str) -> str:
    """``text`` with every form of the plain string ``value`` replaced by ``***``."""
    return _pattern(value).sub(REDACTED, text) if value else text


def redact(text: str, *secrets: Secret | None) -> str:
    """``text`` without any form of any secret, and without userinfo in any URL."""
    for secret in secrets:
        if secret is not None and secret.reveal():
            text = redact_value(text, secret.reveal())
    return without_userinfo(text)
