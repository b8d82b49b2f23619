"""Validation errors pointed back at the YAML that caused them.

pydantic reports a path of keys and indices; users need ``file:line:column``, the path in their
own words (``conversations.<id>[2].score``) and what *is* allowed. This module does that for any
model, so spec files and ``reconciler.yaml`` read the same way. A caller supplies an ``explain``
function for field-specific wording; without it pydantic's message is used.

Errors are read with ``errors(include_input=False)``: rendering inputs walks them, and that hangs
on shared (aliased) structures (docs/semantics.md §6). Union members each report their own error;
they are collapsed into one issue per place.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.errors import Issue
from reconciler.spec.yamlio.document import YamlDocument, key_node, node_parent

__all__ = [
    "Explain",
    "Loc",
    "allowed_keys",
    "describe_node",
    "did_you_mean",
    "format_path",
    "validation_issues",
]

Loc = tuple[str | int, ...]
#: (path that exists in the document, pydantic error) -> the sentence saying what is allowed.
Explain = Callable[[Loc, ErrorDetails], str | None]

_STRING_HINT = (
    " (quote it: YAML reads unquoted values like 12, 4.5, 0x1F, true or null as numbers, "
    "booleans or nothing)"
)


def validation_issues(
    doc: YamlDocument,
    exc: ValidationError,
    model: type[BaseModel],
    explain: Explain | None = None,
) -> list[Issue]:
    """One located issue per problem place, in document order."""
    issues: dict[tuple[Loc, str], Issue] = {}
    for error in exc.errors(include_input=False, include_url=False):
        issue, key = _issue_for(doc, error, model, explain)
        issues.setdefault(key, issue)
    return sorted(issues.values())


def _issue_for(
    doc: YamlDocument, error: ErrorDetails, model: type[BaseModel], explain: Explain | None
) -> tuple[Issue, tuple[Loc, str]]:
    loc: Loc = tuple(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        message = _unknown_key(str(loc[-1]), allowed_keys(model, loc[:-1]))
        return Issue(doc.key_location(loc), message, format_path(loc)), (loc, "extra")
    if kind == "missing":
        location, _found = doc.locate(loc[:-1])
        message = f"missing required key '{loc[-1]}'"
        return Issue(location, message, format_path(loc[:-1])), (loc, "missing")
    location, found = doc.locate(loc)
    is_key = "[key]" in loc
    if is_key:
        found = (*found, "[key]")
        node = _key_of(doc, found[:-1])
    else:
        node = node_parent(doc.root, found)
    allowed = (explain(found, error) if explain else None) or _clean(error["msg"])
    # A model-level rule (value_error at a mapping) is about the whole record, not its type.
    got = "" if kind == "value_error" and not isinstance(node, ScalarNode) else describe_node(node)
    hint = _STRING_HINT if _wants_string(allowed, node) else ""
    message = f"got {got}; {allowed}{hint}" if got else f"{allowed}{hint}"
    # One issue per place: a union's members each fail, but the user made one mistake.
    return Issue(location, message, format_path(found)), (found, "value")


def _key_of(doc: YamlDocument, loc: Loc) -> Node | None:
    return key_node(node_parent(doc.root, loc[:-1]), loc[-1]) if loc else None


def _clean(message: str) -> str:
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _wants_string(allowed: str, node: Node | None) -> bool:
    plain = {"tag:yaml.org,2002:str", "tag:yaml.org,2002:null"}
    return "string" in allowed and isinstance(node, ScalarNode) and node.tag not in plain


def describe_node(node: Node | None) -> str:
    """A short, safe description of what the user wrote (never the whole of a long value)."""
    if node is None:
        return ""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    tag = str(node.tag).removeprefix("tag:yaml.org,2002:")
    value = str(node.value)
    if tag == "null":
        return "an empty value (null)"
    if tag == "str":
        if len(value) > 60:
            return f"a string of {len(value):,} characters"
        return repr(value)
    if tag == "bool":
        return f"the boolean {value}"
    return value if len(value) <= 60 else value[:57] + "..."


def format_path(loc: Loc) -> str:
    """``conversations.<id>[2].score``: keys dotted, list indices in brackets."""
    out = ""
    for element in loc:
        if isinstance(element, int):
            out += f"[{element}]"
        elif element == "[key]":
            continue
        elif any(c in str(element) for c in " .[]\"'") or element == "":
            out += f'["{element}"]' if out else f'"{element}"'
        else:
            out += f".{element}" if out else str(element)
    return out


def did_you_mean(word: str, candidates: Sequence[str]) -> str | None:
    """The closest candidate, if one is close enough to be a likely typo."""
    by_lower = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[close[0]] if close else None


def _unknown_key(key: str, allowed: list[str] | None) -> str:
    message = f"unknown key '{key}'"
    if not allowed:
        return message + " (not allowed here)"
    guess = did_you_mean(key, allowed)
    if guess:
        message += f"; did you mean '{guess}'?"
    return message + f" Allowed keys: {', '.join(allowed)}"


def allowed_keys(model: type[BaseModel], loc: Loc) -> list[str] | None:
    """The keys a mapping at ``loc`` may have, as written in YAML (aliases)."""
    current: Any = model
    for element in loc:
        current = _step(current, element)
        if current is None:
            return None
    found = _as_model(current)
    if found is None:
        return None
    return [field.alias or name for name, field in found.model_fields.items()]


def _step(annotation: Any, element: str | int) -> Any:
    for candidate in _members(annotation):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            for name, field in candidate.model_fields.items():
                if element in (field.alias, name):
                    return field.annotation
            continue
        origin = get_origin(candidate)
        if origin is dict and isinstance(element, str):
            return get_args(candidate)[1]
        if origin is list and isinstance(element, int):
            return get_args(candidate)[0]
    return None


def _members(annotation: Any) -> list[Any]:
    """The alternatives of an annotation: ``A | B | None`` gives A and B, Annotated unwrapped."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _members(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return [m for arg in get_args(annotation) for m in _members(arg)]
    return [annotation]


def _as_model(annotation: Any) -> type[BaseModel] | None:
    for candidate in _members(annotation):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None
