"""Untrusted text made safe to show: one definition of the characters that control a terminal.

Labels, notes and externalIds come from pull requests; remote values and error bodies come from
servers. Printed raw, an ESC sequence can erase the plan line above it or retitle the terminal,
a BEL rings, a C1 control acts like ESC on some terminals, and a bidi override makes
``evil<U+202E>lmth.exe`` read as ``evilexe.html``. Specs refuse these characters (the YAML
loader calls :func:`first_unsafe`); everything shown to a person goes through
:func:`escape_controls`, so text from a server or an old cache cannot do it either
(docs/security.md).
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["UNSAFE_CHARACTERS", "escape_controls", "first_unsafe", "lookalike_key"]

# DEL, C1 controls, and the bidi embedding, override, isolate and mark characters (Unicode's
# Bidi_Control property).
_BEYOND_C0 = "\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
#: What output escapes: all of the above and every C0 control but tab and newline.
UNSAFE_CHARACTERS = re.compile(f"[\x00-\x08\x0b-\x1f{_BEYOND_C0}]")
# What specs refuse: the same except carriage return, which notes typed in a browser carry
# (``\r\n``) and which a spec must be able to declare to match Zelto's copy. Output shows it.
_REFUSED_IN_SPECS = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f{_BEYOND_C0}]")
#: Characters that change nothing visible: zero-width space, joiners, word joiner, BOM.
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")


def first_unsafe(text: str) -> re.Match[str] | None:
    """The first character of ``text`` that a spec may not hold (see ``_REFUSED_IN_SPECS``)."""
    return _REFUSED_IN_SPECS.search(text)


def escape_controls(text: str) -> str:
    """``text`` with every unsafe character written as an escape (``\\x1b``, ``\\u202e``).

    Tab and newline are kept: messages have several lines, and the plan renderers make their
    own whitespace visible first.
    """
    if UNSAFE_CHARACTERS.search(text) is None:
        return text
    return UNSAFE_CHARACTERS.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def lookalike_key(label: str) -> str:
    """What a reader sees of a label: NFC form, without invisible characters or outer spaces.

    Two labels that differ only there look identical in a review but are different labels to
    Zelto, so the spec loader warns about them (docs/specs.md, "Look-alike labels").
    """
    return _INVISIBLE.sub("", unicodedata.normalize("NFC", label)).strip()
