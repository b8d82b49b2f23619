"""The YAML 1.2 core schema (§10.3.2), exactly: which plain scalars are null, booleans, integers or
floats, and their values. Everything else is a string (docs/specs.md lists the traps this avoids).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "BOOL_TAG",
    "CORE_TAGS",
    "FLOAT_TAG",
    "INT_TAG",
    "MAP_TAG",
    "MERGE_TAG",
    "NULL_TAG",
    "SEQ_TAG",
    "STR_TAG",
    "TAG_PREFIX",
    "core_tag",
    "core_value",
]

TAG_PREFIX = "tag:yaml.org,2002:"
STR_TAG, MAP_TAG, SEQ_TAG, MERGE_TAG = (
    TAG_PREFIX + "str",
    TAG_PREFIX + "map",
    TAG_PREFIX + "seq",
    TAG_PREFIX + "merge",
)
NULL_TAG, BOOL_TAG, INT_TAG, FLOAT_TAG = (
    TAG_PREFIX + "null",
    TAG_PREFIX + "bool",
    TAG_PREFIX + "int",
    TAG_PREFIX + "float",
)
# The YAML 1.2 core schema (§10.3.2), exactly: plain scalars that match become null, booleans,
# integers or floats; everything else is a string. No ``1_0``, ``0b101``, ``1:20`` or dates:
# ruamel's "1.2" resolver also reads those (YAML 1.1 leftovers), and its constructor crashes on
# ``0x_`` or ``._`` with a bare ValueError.
_CORE_SCHEMA = (
    (NULL_TAG, re.compile(r"~|null|Null|NULL|")),
    (BOOL_TAG, re.compile(r"true|True|TRUE|false|False|FALSE")),
    (INT_TAG, re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")),
    (
        FLOAT_TAG,
        re.compile(
            r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
        ),
    ),
)
_CORE_PATTERNS = dict(_CORE_SCHEMA)
#: The tags a plain scalar can resolve to (``!!str`` aside).
CORE_TAGS = frozenset(_CORE_PATTERNS)


def core_tag(plain: str) -> str:
    """The YAML 1.2 core schema's tag for a plain (unquoted) scalar."""
    for tag, pattern in _CORE_SCHEMA:
        if pattern.fullmatch(plain):
            return tag
    return STR_TAG


def core_value(tag: str, text: str) -> Any:
    """The value of a scalar with a core tag; ValueError when ``text`` is not of that tag."""
    if not _CORE_PATTERNS[tag].fullmatch(text):
        raise ValueError(text)
    if tag == NULL_TAG:
        return None
    if tag == BOOL_TAG:
        return text.lower() == "true"
    if tag == INT_TAG:
        base = {"0o": 8, "0x": 16}.get(text[:2], 10)
        return int(text[2:] if base != 10 else text, base)
    lowered = text.lower()
    if lowered.endswith(("inf", "nan")):
        return float(lowered.replace(".", ""))
    return float(text)
