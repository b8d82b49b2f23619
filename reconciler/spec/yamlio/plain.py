"""The fast path: plain values straight from the parser's events, for files with nothing wrong.

:func:`~reconciler.spec.yamlio.loader.load_yaml` composes a node tree (a Python object, a tag
object and a mark for every value) and then walks it; on a cold load of 100,000 records that tree
was most of the time, and more than validating the records (docs/performance.md, "Cold spec
loading"). Most files are valid and need only their values and a few places: where each record
and each catalog label starts. :func:`load_plain` builds exactly that from libyaml's events.

It never decides that a file is wrong. Anything :func:`load_yaml` would refuse or treat specially
(an anchor or alias, any explicit tag, a merge key, a non-scalar or null key, a key repeated or
equal to another, a refused character, nesting near the cap, too many values, a syntax error,
more than one document or none) makes it answer None, and the caller asks :func:`load_yaml`,
which reports the problem with its place. So the rules and their messages keep one home, and an
accepted file gives the same values as :func:`load_yaml` (tests/unit/test_yamlio_plain.py holds
both to that). The size, encoding and character checks run first, exactly as there.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ruamel.yaml.cyaml import CParser  # type: ignore[attr-defined]
from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import (
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)

from reconciler.display import first_unsafe
from reconciler.spec.yamlio.core_schema import STR_TAG, core_tag, core_value
from reconciler.spec.yamlio.loader import DEFAULT_MAX_BYTES, MAX_DEPTH, MAX_NODES, precheck

__all__ = ["Mark", "PlainDocument", "load_plain"]

#: 1-based (line, column).
Mark = tuple[int, int]
Path = tuple[Any, ...]


class PlainDocument(NamedTuple):
    """A valid file's value and the places of its shallow nodes.

    ``marks[path]`` is where the node at ``path`` starts and ``key_marks[path]`` where the key
    naming it is written, for every path of at most ``mark_depth`` elements (keys as resolved,
    list indices as ints).
    """

    data: Any
    marks: dict[Path, Mark]
    key_marks: dict[Path, Mark]


class _NotVouchedError(Exception):
    """Something load_yaml handles with care: it is asked instead."""


# A plain scalar starting with none of these can only be a string in the core schema.
_MAYBE_NOT_STRING = frozenset("~nNtTfF+-.0123456789")
_WANT_KEY = object()
_CLOSERS = (MappingEndEvent, SequenceEndEvent)


def load_plain(
    data: bytes, file: str, *, max_bytes: int = DEFAULT_MAX_BYTES, mark_depth: int = 3
) -> PlainDocument | None:
    """The document's value and shallow places, or None when :func:`load_yaml` must decide.

    Raises SpecError only where :func:`load_yaml` raises first (size, encoding, characters).
    """
    precheck(data, file, max_bytes)
    parser = CParser(data)
    try:
        return _build(parser, mark_depth)
    except (_NotVouchedError, YAMLError):
        return None
    finally:
        parser.dispose()


def _scalar(event: ScalarEvent) -> Any:
    """The value load_yaml gives an untagged scalar (core schema when plain)."""
    value: str = event.value
    if event.implicit[0] and (not value or value[0] in _MAYBE_NOT_STRING):
        tag = core_tag(value)
        if tag != STR_TAG:
            return core_value(tag, value)
    if first_unsafe(value) is not None:
        raise _NotVouchedError
    return value


def _build(parser: Any, mark_depth: int) -> PlainDocument:  # noqa: PLR0915
    """One pass over the events; any surprise raises _NotVouchedError."""
    get = parser.get_event
    if type(get()) is not StreamStartEvent or type(get()) is not DocumentStartEvent:
        raise _NotVouchedError
    marks: dict[Path, Mark] = {}
    key_marks: dict[Path, Mark] = {}
    frames: list[tuple[Any, Any, Path]] = []
    current: Any = None  # the open dict or list; None before the root
    key: Any = _WANT_KEY
    path: Path = ()
    nodes = 0
    root: Any = None
    while True:
        event = get()
        kind = type(event)
        if kind is ScalarEvent:
            if event.anchor is not None or event.ctag is not None:
                raise _NotVouchedError
            nodes += 1
            if key is _WANT_KEY and type(current) is dict:
                if event.implicit[0] and event.value == "<<":
                    raise _NotVouchedError  # a merge key
                key = _scalar(event)
                if key is None or key in current:  # a null key; or repeated, or equal to
                    raise _NotVouchedError  # another key (1, 1.0 and true are equal)
                if len(path) < mark_depth:
                    mark = event.start_mark
                    key_marks[(*path, key)] = (mark.line + 1, mark.column + 1)
                continue
            value = _scalar(event)
            if current is None:
                root = value
                break
            if len(path) < mark_depth:
                mark = event.start_mark
                child = (*path, key if key is not _WANT_KEY else len(current))
                marks[child] = (mark.line + 1, mark.column + 1)
            if type(current) is dict:
                current[key] = value
                key = _WANT_KEY
            else:
                current.append(value)
        elif kind is MappingStartEvent or kind is SequenceStartEvent:
            if event.anchor is not None or event.ctag is not None:
                raise _NotVouchedError
            nodes += 1
            if key is _WANT_KEY and type(current) is dict:
                raise _NotVouchedError  # a mapping or list as a key
            if len(frames) >= MAX_DEPTH - 1:
                raise _NotVouchedError
            new: Any = {} if kind is MappingStartEvent else []
            if current is None:
                child = ()
                root = new
            elif type(current) is dict:
                child = (*path, key)
                current[key] = new
            else:
                child = (*path, len(current))
                current.append(new)
            if len(child) <= mark_depth:
                mark = event.start_mark
                marks[child] = (mark.line + 1, mark.column + 1)
            frames.append((current, key, path))
            current, key, path = new, _WANT_KEY, child
        elif kind in _CLOSERS:
            current, key, path = frames.pop()
            key = _WANT_KEY
            if current is None:
                break
        else:  # an alias, or anything else a single plain document does not have
            raise _NotVouchedError
        if nodes > MAX_NODES:
            raise _NotVouchedError
    if type(get()) is not DocumentEndEvent or type(get()) is not StreamEndEvent:
        raise _NotVouchedError  # a second document
    return PlainDocument(root, marks, key_marks)
