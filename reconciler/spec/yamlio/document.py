"""A loaded YAML file and the places in it: its plain value beside its node tree, so that any
problem found later (a validation error's path) is pointed back at ``file:line:column``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.errors import Location

__all__ = ["YamlDocument", "key_node", "location_at", "node_parent"]


@dataclass(frozen=True)
class YamlDocument:
    """A loaded file: its plain value, and its node tree to point errors at places in it."""

    file: str
    data: Any
    root: Node | None

    def locate(self, loc: tuple[str | int, ...]) -> tuple[Location, tuple[str | int, ...]]:
        """The place of the deepest node along ``loc``, and the part of ``loc`` that exists.

        ``loc`` is a validation error's path. A ``"[key]"`` element points at the key node of the
        element before it. Elements that are not in the document (a missing key, a union member's
        name) stop the walk, so the answer is the closest real place.
        """
        node = self.root
        found: list[str | int] = []
        mark_node: Node | None = node
        for element in loc:
            if element == "[key]" and found:
                mark_node = key_node(node_parent(self.root, tuple(found[:-1])), found[-1])
                break
            child = _child(node, element)
            if child is None:
                break
            found.append(element)
            node, mark_node = child, child
        return location_at(self.file, mark_node), tuple(found)

    def key_location(self, loc: tuple[str | int, ...]) -> Location:
        """Where the key that ends ``loc`` is written (for unknown or duplicate keys)."""
        parent = node_parent(self.root, loc[:-1])
        key = key_node(parent, loc[-1]) if loc else None
        return location_at(self.file, key or parent)


def node_parent(root: Node | None, loc: tuple[str | int, ...]) -> Node | None:
    """The node at ``loc`` (None when ``loc`` leaves the document)."""
    node = root
    for element in loc:
        node = _child(node, element)
        if node is None:
            return None
    return node


def _child(node: Node | None, element: str | int) -> Node | None:
    if isinstance(node, MappingNode):
        pair = _pair(node, element)
        return pair[1] if pair else None
    if isinstance(node, SequenceNode) and isinstance(element, int):
        items: list[Node] = node.value
        return items[element] if 0 <= element < len(items) else None
    return None


def key_node(node: Node | None, element: str | int) -> Node | None:
    """The key node that ``element`` names in a mapping node (None when it is not there)."""
    if isinstance(node, MappingNode):
        pair = _pair(node, element)
        return pair[0] if pair else None
    return None


def _pair(node: MappingNode, element: str | int) -> tuple[Node, Node] | None:
    pairs: list[tuple[Node, Node]] = node.value
    scalars = [(k, v) for k, v in pairs if isinstance(k, ScalarNode)]
    for key, value in scalars:
        if key.value == element or (not isinstance(element, str) and key.value == str(element)):
            return key, value
    # Validation paths carry keys as the validator saw them: a UUID key lower-cased. Only when
    # nothing matches exactly, so "Empathy" never lands on a sibling key "empathy".
    wanted = str(element).lower()
    for key, value in scalars:
        if str(key.value).lower() == wanted:
            return key, value
    return None


def location_at(file: str, node: Node | None) -> Location:
    """A node's 1-based place; the file alone when there is no node (an empty document)."""
    if node is None or node.start_mark is None:
        return Location(file, 1, 1)
    return Location(file, node.start_mark.line + 1, node.start_mark.column + 1)
