"""YAML in, plain Python values out, with every node's place kept and hostile input refused.

Spec and config files are read with ruamel.yaml's C parser (``ruamel.yaml.clib``): it composes the
node tree, which keeps ``file:line:column`` for every node, at a fraction of the round-trip loader's
cost (docs/semantics.md §6). The tree is then turned into dicts, lists and scalars here rather than
by ruamel's constructor, so that the checks that keep a reconciler safe happen in the same walk:

* aliases are refused: ruamel keeps them as shared references, so an alias bomb loads instantly and
  explodes later in whatever walks it (a self-referencing alias recurses forever);
* duplicate keys, merge keys, non-scalar keys and unknown tags are refused with both places named;
* nesting is bounded. The C composer recurses in C and crashes the whole process at ~30,000 levels,
  so the depth is bounded *before* parsing (a cheap byte scan, and an event scan when that scan
  cannot vouch for the file), and exactly while walking;
* size is capped and the encoding checked first, so that invalid UTF-8 and control characters get
  a line and column instead of a bare byte offset.

Every problem becomes an :class:`~reconciler.errors.Issue`; a file with problems raises
:class:`~reconciler.errors.SpecError` carrying all of them. Nothing here prints.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ruamel.yaml.cyaml import CParser  # type: ignore[attr-defined]
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.display import first_unsafe
from reconciler.errors import Issue, Location, SpecError
from reconciler.spec.yamlio.core_schema import (
    CORE_TAGS,
    MAP_TAG,
    MERGE_TAG,
    NULL_TAG,
    SEQ_TAG,
    STR_TAG,
    TAG_PREFIX,
    core_tag,
    core_value,
)
from reconciler.spec.yamlio.document import YamlDocument, location_at

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "c_parser_in_use",
    "load_yaml",
    "precheck",
]

#: Files above this size are refused before parsing: a 50 MB file costs the C loader ~1 GB.
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
#: Specs need six levels; anything far deeper is a mistake or an attack.
MAX_DEPTH = 32
#: Values (scalars, lists, mappings) in one file. 10,000 records of six fields are ~130,000; an
#: 8 MB file of a million list items took 41-52 s and 2.8 GB to refuse before this cap.
MAX_NODES = 200_000
# Explicitly tagged nodes are not counted while composing (libyaml resolves no tag for them),
# so a file with this many '!' is counted by the event scan first.
_MANY_TAGS = 1_000

# YAML's printable set (1.2 §5.1), inverted: what the reader would refuse with a byte offset only.
_NOT_PRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ufffe\uffff]")
# The pre-scan's bound (see _depth_is_bounded): below these, nesting cannot reach ~1,000 levels.
_FLOW_OPENERS_MAX = 300
_LONG_SPACE_RUN = re.compile(rb" {300,}")
_LONG_INDICATOR_RUN = re.compile(rb"(?:[-?:][ \t\r\n]+){50,}")
# An anchor is '&' + a name where a node may start. Text like "Q&A" or "R & D" does not match;
# what does match is confirmed by the event scan, so a false alarm costs time, never an error.
_MAYBE_ANCHOR = re.compile(rb"(?:^|[\s\[{,])&[^\s\[\]{},]", re.MULTILINE)


class _Loader(CParser):  # type: ignore[misc]
    """The C parser, tagging plain scalars by the YAML 1.2 core schema (:func:`core_tag`)."""

    def __init__(self, stream: bytes) -> None:
        CParser.__init__(self, stream)
        self._parser = self._composer = self
        self._nodes = 0

    def descend_resolver(self, parent: Node | None, index: Any) -> None:
        """Path-based resolvers are not used: the tag depends on the scalar alone."""

    def ascend_resolver(self) -> None:
        """See :meth:`descend_resolver`."""

    def resolve(self, kind: type[Node], value: str | None, implicit: Any) -> str:
        """The tag of an untagged node (the C composer asks for every one, so the node cap is
        counted here and composing stops as soon as a file passes it)."""
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise _TooManyNodesError
        if kind is MappingNode:
            return MAP_TAG
        if kind is SequenceNode:
            return SEQ_TAG
        plain = bool(implicit[0]) if isinstance(implicit, tuple) else bool(implicit)
        if plain and value == "<<":
            return MERGE_TAG  # not core schema: tagged only so that the walk refuses merge keys
        return core_tag(value or "") if plain else STR_TAG


class _TooManyNodesError(Exception):
    """Raised out of the C composer to stop it; :func:`_scan_events` then says where."""


def c_parser_in_use() -> bool:
    """True when specs are parsed by the C extension (without it, loading is ~5x slower)."""
    return "_ruamel_yaml" in str(getattr(CParser, "__module__", ""))


def load_yaml(
    data: bytes, file: str, *, max_bytes: int = DEFAULT_MAX_BYTES, what: str = "spec files"
) -> YamlDocument:
    """Parse one YAML document safely. Raises SpecError with every located problem found."""
    text = precheck(data, file, max_bytes)
    if not _depth_is_bounded(data) or _MAYBE_ANCHOR.search(data) or data.count(b"!") > _MANY_TAGS:
        _scan_events(data, file, what)
    loader = _Loader(data)
    try:
        root = loader.get_single_node()
    except _TooManyNodesError:
        _scan_events(data, file, what)  # raises, at the first node past the cap
        raise AssertionError("the event scan counts nodes as the composer does") from None
    except MarkedYAMLError as exc:
        raise SpecError([_syntax_issue(exc, text, file)]) from exc
    except YAMLError as exc:  # reader errors carry a byte offset, not a mark
        raise SpecError([Issue(Location(file), f"not valid YAML: {exc}")]) from exc
    finally:
        loader.dispose()
    walker = _Walker(file, what)
    value = walker.build(root)
    if walker.issues:
        raise SpecError(walker.issues)
    return YamlDocument(file=file, data=value, root=root)


def precheck(data: bytes, file: str, max_bytes: int) -> str:
    """The checks before any parsing (size, UTF-8, YAML's printable set); the decoded text.

    Shared with the fast path (:mod:`.plain`), so both refuse the same bytes the same way.
    """
    if len(data) > max_bytes:
        raise SpecError([_size_issue(file, len(data), max_bytes)])
    text = _decode(data, file)
    _check_printable(text, file)
    return text


def _size_issue(file: str, size: int, limit: int) -> Issue:
    return Issue(
        Location(file),
        f"file is {size:,} bytes; the limit is {limit:,} bytes (split it into several files)",
    )


def _decode(data: bytes, file: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _line_column(data[: exc.start].decode("utf-8", errors="replace"))
        bad = data[exc.start : exc.start + 1].hex()
        raise SpecError(
            [Issue(Location(file, line, column), f"invalid UTF-8 (byte 0x{bad}); save as UTF-8")]
        ) from None


def _check_printable(text: str, file: str) -> None:
    bad = _NOT_PRINTABLE.search(text)
    if bad is None:
        return
    line, column = _line_column(text[: bad.start()])
    code = f"U+{ord(bad.group()):04X}"
    name = "NUL byte" if bad.group() == "\x00" else f"control character {code}"
    raise SpecError(
        [Issue(Location(file, line, column), f"{name} is not allowed in YAML; remove it")]
    )


def _line_column(before: str) -> tuple[int, int]:
    """1-based line and column of the character that follows ``before``."""
    line = before.count("\n") + 1
    return line, len(before) - (before.rfind("\n") + 1) + 1


def _depth_is_bounded(data: bytes) -> bool:
    """A cheap upper bound on nesting that real files always pass.

    Flow nesting needs one ``[`` or ``{`` per level. Block nesting needs either more indentation
    or another inline indicator (``- - -``) per level, so long space or indicator runs are the
    only way to go deep. When none of these is large, the file nests < ~1,000 levels, far from the
    C composer's crash; otherwise :func:`_scan_events` measures exactly.
    """
    if data.count(b"[") + data.count(b"{") > _FLOW_OPENERS_MAX:
        return False
    return _LONG_SPACE_RUN.search(data) is None and _LONG_INDICATOR_RUN.search(data) is None


def _scan_events(data: bytes, file: str, what: str) -> None:
    """Check nesting and anchors with libyaml's event parser, which keeps its own stack and
    cannot crash. Slower than composing, so it runs only when the byte scans call for it."""
    loader = _Loader(data)
    depth = nodes = 0
    issues: list[Issue] = []
    anchors: set[str] = set()
    try:
        for event in _events(loader):
            name = type(event).__name__
            anchor = getattr(event, "anchor", None)
            if anchor is not None and anchor not in anchors:
                # Once per name: an alias bomb repeats each anchor many times.
                anchors.add(anchor)
                issues.append(Issue(_event_location(file, event), _anchor_message(what)))
            if name in ("MappingStartEvent", "SequenceStartEvent", "ScalarEvent"):
                nodes += 1
                if nodes > MAX_NODES:
                    issues.append(Issue(_event_location(file, event), _nodes_message(what)))
                    break
            if name in ("MappingStartEvent", "SequenceStartEvent"):
                depth += 1
                if depth > MAX_DEPTH:
                    issues.append(Issue(_event_location(file, event), _depth_message()))
                    break
            elif name in ("MappingEndEvent", "SequenceEndEvent"):
                depth -= 1
    except MarkedYAMLError:
        pass  # a syntax error: the real parse reports it with its place
    finally:
        loader.dispose()
    if issues:
        raise SpecError(issues)


def _event_location(file: str, event: Any) -> Location:
    mark = event.start_mark
    return Location(file, mark.line + 1, mark.column + 1)


def _anchor_message(what: str) -> str:
    return f"anchors and aliases are not allowed in {what}"


def _events(loader: _Loader) -> Iterator[Any]:
    while loader.check_event():
        event = loader.get_event()
        yield event
        if type(event).__name__ == "StreamEndEvent":
            return


def _nodes_message(what: str) -> str:
    return (
        f"more than {MAX_NODES:,} values in one file; the rest was not read. Split it into "
        f"several {what}"
    )


def _depth_message() -> str:
    return f"nesting deeper than {MAX_DEPTH} levels is not allowed (a spec needs at most 6)"


def _syntax_issue(exc: MarkedYAMLError, text: str, file: str) -> Issue:
    mark = exc.problem_mark or exc.context_mark
    if mark is None:
        return Issue(Location(file), f"not valid YAML: {exc.problem or exc}")
    line, column = mark.line + 1, mark.column + 1
    lines = text.splitlines()
    row = lines[mark.line] if 0 <= mark.line < len(lines) else ""
    if "\t" in row[: mark.column + 1] and row[: mark.column + 1].strip(" \t") == "":
        message = "tab character in indentation; YAML indentation must use spaces"
    else:
        problem = exc.problem or "invalid syntax"
        context = f" ({exc.context})" if exc.context else ""
        message = f"not valid YAML: {problem}{context}"
    return Issue(Location(file, line, column), message)


def _short(tag: str) -> str:
    return "!!" + tag.removeprefix(TAG_PREFIX) if tag.startswith(TAG_PREFIX) else tag


class _Walker:
    """Turns a node tree into plain values, collecting every problem instead of stopping."""

    def __init__(self, file: str, what: str) -> None:
        self.file = file
        self.what = what
        self.issues: list[Issue] = []
        self.seen: set[int] = set()
        self.aliased: set[int] = set()

    def build(self, root: Node | None) -> Any:
        if root is None:
            return None
        return self._node(root, 0, root)

    def _issue(self, node: Node, message: str) -> None:
        self.issues.append(Issue(location_at(self.file, node), message))

    def _alias(self, target: Node, referrer: Node) -> None:
        """One issue per anchored node, however often it is repeated (an alias bomb repeats
        each anchor many times)."""
        if id(target) in self.aliased:
            return
        self.aliased.add(id(target))
        self._issue(referrer, _anchor_message(self.what))

    def _node(self, node: Node, depth: int, referrer: Node) -> Any:
        if id(node) in self.seen:
            self._alias(node, referrer)
            return None
        self.seen.add(id(node))
        if depth > MAX_DEPTH:
            self._issue(node, _depth_message())
            return None
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        if node.tag not in (MAP_TAG, SEQ_TAG):
            message = f"tag {_short(str(node.tag))} is not allowed; use plain mappings and lists"
            self._issue(node, message)
            return None
        if isinstance(node, MappingNode):
            return self._mapping(node, depth)
        return [self._node(item, depth + 1, item) for item in node.value]

    def _scalar(self, node: ScalarNode) -> Any:
        tag = node.tag
        if tag in (STR_TAG, MERGE_TAG):  # a `<<` value is a string; only a `<<` key is a merge
            return self._string(node)
        if tag not in CORE_TAGS:
            message = f"tag {_short(str(tag))} is not allowed; use plain strings and numbers"
            self._issue(node, message)
            return None
        try:
            return core_value(tag, node.value)
        except ValueError:  # only an explicit tag can disagree with the value: `!!int abc`
            self._issue(node, f"{node.value!r} is not a valid {_short(tag)} (YAML 1.2)")
            return None

    def _string(self, node: ScalarNode) -> str:
        """A string; terminal control characters (after escapes like ``"\\e"``) are refused."""
        text: str = node.value
        bad = first_unsafe(text)
        if bad is not None:
            code = ord(bad.group())
            self._issue(
                node,
                f"character U+{code:04X} (position {bad.start() + 1}) is a terminal control or "
                "bidi character and is not allowed: it would change what a reviewer sees; "
                "remove it",
            )
        return text

    def _mapping(self, node: MappingNode, depth: int) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        # Keyed by type too: 1, 1.0 and true are equal in Python but different YAML keys.
        first_seen: dict[tuple[type, Any], Node] = {}
        for key_node, value_node in node.value:
            key = self._key(key_node)
            value = self._node(value_node, depth + 1, key_node)
            if key is None:
                continue
            typed = (type(key), key)
            if typed in first_seen:
                where = location_at(self.file, first_seen[typed])
                self._issue(key_node, f"duplicate key '{key}' (first defined at {where})")
                continue
            first_seen[typed] = key_node
            result[key] = value
        return result

    def _key(self, node: Node) -> Any:
        if node.tag == MERGE_TAG:
            self._issue(node, f"merge keys (<<) are not allowed in {self.what}")
            return None
        if not isinstance(node, ScalarNode):
            self._issue(node, "mapping keys must be plain strings, not lists or mappings")
            return None
        if id(node) in self.seen:
            self._alias(node, node)
            return None
        self.seen.add(id(node))
        if node.tag == NULL_TAG:
            self._issue(node, "empty (null) mapping key is not allowed")
            return None
        return self._scalar(node)
