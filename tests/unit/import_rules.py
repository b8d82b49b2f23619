"""The import rules of docs/architecture.md as forbidden pairs, and a checker for any source tree.

A rule names the modules it binds (``sources``), what they must never import (``forbidden``:
``reconciler.*`` modules or third-party/stdlib names), and why. Names match as dotted prefixes, so
``reconciler.remote`` covers every client and ``http`` covers ``http.client``. A ``transitive``
rule also follows the package's own imports: the planner importing a pure helper that imports
``subprocess`` breaks it just as a direct import would. Besides the pairs, the module graph must be
acyclic: that is what keeps the pipeline's one direction without numbering layers.

The checker takes the root of a tree, so tests/unit/test_architecture.py can run it on the real
package and on synthetic trees that break each rule on purpose (a rule that cannot fail is not
checked).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

PACKAGE_NAME = "reconciler"

#: What does I/O: the network and processes, and the package's layers built on them.
IO_LAYER: tuple[str, ...] = (
    "reconciler.remote",
    "reconciler.emulator",
    "reconciler.engine",
    "reconciler.agent",
    "reconciler.cli",
    "reconciler.spec.history",  # runs git
    "subprocess",
    "socket",
    "ssl",
    "select",
    "selectors",
    "asyncio",
    "http",
    "urllib.request",
    "aiohttp",
    "httpx",
    "httpx_aiohttp",
    "requests",
    "uvicorn",
    "starlette",
    "sqlite3",
)

#: The pure core: decided from values alone, so a plan can be tested, replayed and trusted.
PURE: tuple[str, ...] = (
    "reconciler.plan.planner",
    "reconciler.plan.model",
    "reconciler.plan.fields",
    "reconciler.plan.offline",
    "reconciler.plan.merge",
    "reconciler.plan.shard",
    "reconciler.render",
)


@dataclass(frozen=True)
class Rule:
    """``sources`` (minus ``exempt``) never import ``forbidden`` (minus ``allowed``)."""

    name: str
    why: str
    sources: tuple[str, ...]
    forbidden: tuple[str, ...]
    exempt: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()
    transitive: bool = False

    def binds(self, module: str) -> bool:
        return _matches(module, self.sources) and not _matches(module, self.exempt)

    def forbids(self, imported: str) -> bool:
        return _matches(imported, self.forbidden) and not _matches(imported, self.allowed)


FOUNDATIONS = (
    "reconciler.errors",
    "reconciler.model",
    "reconciler.contract",
    "reconciler.files",
    "reconciler.display",
)

RULES: tuple[Rule, ...] = (
    Rule(
        "pure-core",
        "the planner and renderers decide from values: no network, process or client",
        sources=PURE,
        forbidden=IO_LAYER,
        transitive=True,
    ),
    Rule(
        "emulator-independent",
        "the emulator is a second implementation of the API contract: sharing client code would "
        "let one misreading hide in both",
        sources=("reconciler.emulator",),
        forbidden=(PACKAGE_NAME,),
        allowed=("reconciler.emulator",),
    ),
    Rule(
        "only-targets-start-the-emulator",
        "only the local target and `emulator serve` start the emulator",
        sources=(PACKAGE_NAME,),
        forbidden=("reconciler.emulator",),
        exempt=("reconciler.emulator", "reconciler.remote.targets", "reconciler.cli"),
    ),
    Rule(
        "nothing-imports-the-cli",
        "the CLI is the outermost layer (printing, prompts, exit codes): the library never needs it"
        " and a library user cannot have it",
        sources=(PACKAGE_NAME,),
        forbidden=("reconciler.cli",),
        exempt=("reconciler.cli", "reconciler.__main__"),
    ),
    Rule(
        "agent-over-the-engine",
        "the agent is one more client of the engine, like the CLI: the library under it never "
        "depends on a long-running controller",
        sources=(PACKAGE_NAME,),
        forbidden=("reconciler.agent",),
        exempt=("reconciler.agent", "reconciler.cli", "reconciler.__main__"),
    ),
    Rule(
        "foundations",
        "errors, models, the vendor's contract and the filesystem rules are what every layer "
        "shares, so they import nothing above them",
        sources=FOUNDATIONS,
        forbidden=(PACKAGE_NAME,),
        allowed=FOUNDATIONS,
    ),
    Rule(
        "specs-before-network",
        "config and specs are read and validated offline, before any target or plan exists",
        sources=("reconciler.config", "reconciler.spec"),
        forbidden=(
            "reconciler.remote",
            "reconciler.plan",
            "reconciler.applier",
            "reconciler.render",
            "reconciler.importer",
            "reconciler.engine",
        ),
    ),
    Rule(
        "clients-do-not-decide",
        "the API clients move records; planning, applying and rendering sit above them",
        sources=("reconciler.remote",),
        forbidden=(
            "reconciler.plan.offline",
            "reconciler.plan.merge",
            "reconciler.applier",
            "reconciler.render",
            "reconciler.importer",
            "reconciler.engine",
        ),
    ),
    Rule(
        "decide-before-carrying-out",
        "a plan is made and shown without the code that carries it out",
        sources=("reconciler.plan", "reconciler.render"),
        forbidden=("reconciler.applier", "reconciler.importer", "reconciler.engine"),
    ),
)


def _matches(name: str, prefixes: Iterable[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def module_name(root: Path, path: Path) -> str:
    """``reconciler.plan.planner`` for ``<root>/plan/planner.py`` (root is the package folder)."""
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([PACKAGE_NAME, *parts])


def _imports_of(name: str, path: Path) -> set[str]:
    """Every module a file imports, absolute (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package[: len(package) - node.level + 1]
                base = ".".join([*parent, *([node.module] if node.module else [])])
            found.add(base)
            # ``from reconciler.remote import zelto`` imports the submodule.
            found.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return {f for f in found if f}


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module → the modules it imports, for every ``*.py`` under ``root``."""
    return {
        module_name(root, path): _imports_of(module_name(root, path), path)
        for path in sorted(root.rglob("*.py"))
    }


def _internal(graph: Mapping[str, set[str]], imported: str) -> str | None:
    """The module of the tree an import names (``a.b.Class`` → ``a.b``), if any."""
    parts = imported.split(".")
    for size in range(len(parts), 0, -1):
        candidate = ".".join(parts[:size])
        if candidate in graph:
            return candidate
    return None


def _chains(graph: Mapping[str, set[str]], start: str, rule: Rule) -> dict[str, list[str]]:
    """Every import reachable from ``start`` through the tree's own modules, with its path.

    A forbidden import is reported where it is first reached, not followed further.
    """
    reached: dict[str, list[str]] = {}
    todo = [(start, [start])]
    seen = {start}
    while todo:
        module, path = todo.pop()
        for imported in sorted(graph.get(module, ())):
            reached.setdefault(imported, [*path, imported])
            inner = _internal(graph, imported)
            if inner is None or inner in seen or rule.forbids(imported):
                continue
            # A package's __init__ only re-exports; following it would bind every sibling.
            if inner not in _packages_of(start):
                seen.add(inner)
                todo.append((inner, [*path, inner]))
    return reached


def _packages_of(module: str) -> set[str]:
    parts = module.split(".")
    return {".".join(parts[:size]) for size in range(1, len(parts))}


def violations(root: Path, rules: Iterable[Rule] = RULES) -> list[str]:
    """Every broken rule, one line each: ``rule: importer imports imported (via ...): why``."""
    graph = import_graph(root)
    found: list[str] = []
    for rule in rules:
        for module in sorted(m for m in graph if rule.binds(m)):
            reach = (
                _chains(graph, module, rule)
                if rule.transitive
                else {i: [module, i] for i in graph[module]}
            )
            bad = {i: chain for i, chain in reach.items() if rule.forbids(i)}
            for imported, chain in sorted(bad.items()):
                if not _packages_of(imported) & bad.keys():  # `a.b` and `a.b.Name`: once
                    via = " → ".join(chain)
                    found.append(f"{rule.name}: {module} imports {imported} ({via}): {rule.why}")
    return found + cycles(graph)


def cycles(graph: Mapping[str, set[str]]) -> list[str]:
    """Import cycles between the tree's modules (a package's own __init__ excluded)."""
    edges = {
        m: {
            inner
            for i in imports
            if (inner := _internal(graph, i)) is not None
            and inner != m
            and inner not in _packages_of(m)
        }
        for m, imports in graph.items()
    }
    found: list[str] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                loop = [*stack[stack.index(nxt) :], nxt]
                found.append("cycle: " + " → ".join(loop) + ": dependencies must point one way")
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    return found
