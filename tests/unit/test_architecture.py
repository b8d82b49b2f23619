"""The dependency direction of architecture.md, enforced: lower layers never import higher ones.

errors ← model ← {config, spec, plan} ← http ← {zelto, siro} ← planner ← {render, applier,
importer} ← engine ← cli. The emulator is an independent implementation of the API contract and
imports nothing from the client side.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "reconciler"

# Lower number = lower layer. A module may import only modules of a lower or equal layer
# (equal only within the same package, e.g. render/* among themselves).
LAYERS: dict[str, int] = {
    "errors": 0,
    "contract": 1,
    "model": 1,
    "spec.yamlio": 2,
    "spec.cache": 2,
    "config": 3,
    "spec": 3,
    "plan.model": 3,
    "plan.shard": 3,
    "plan.saved": 4,
    "remote.http": 4,
    "remote.targets": 5,
    "remote.zelto": 5,
    "remote.siro": 5,
    "plan.planner": 6,
    "render": 7,
    "remote.current": 7,
    "remote.github": 7,
    "applier": 7,
    "importer": 7,
    "spec.history": 6,
    "plan.merge": 7,
    "plan.offline": 7,
    "engine": 8,
    "cli": 9,
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("")
    return ".".join(rel.parts)


def _top(module: str) -> str:
    """The LAYERS key a module belongs to: its longest dotted prefix that LAYERS names."""
    parts = module.split(".")
    for size in range(len(parts), 0, -1):
        if ".".join(parts[:size]) in LAYERS:
            return ".".join(parts[:size])
    return parts[0]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    package_parts = _module_name(path).split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("reconciler."):
                    found.add(alias.name.removeprefix("reconciler."))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
                found.add(module)
            elif node.module and node.module.startswith("reconciler."):
                found.add(node.module.removeprefix("reconciler."))
    return {m for m in found if m}


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)


@pytest.mark.parametrize("path", MODULES, ids=_module_name)
def test_imports_point_down(path: Path) -> None:
    me = _top(_module_name(path))
    if me in {"__main__"}:
        return
    for imported in _imports(path):
        other = _top(imported)
        if me == "emulator":
            assert other == "emulator", f"the emulator must not import reconciler.{imported}"
            continue
        if other == me:
            continue
        assert other != "emulator" or me in {"remote.targets", "cli"}, (
            f"{_module_name(path)} imports the emulator; only targets and cli may start it"
        )
        if other == "emulator":
            continue
        assert me in LAYERS, f"add reconciler.{me} to LAYERS in this test"
        assert other in LAYERS, f"add reconciler.{other} to LAYERS in this test"
        assert LAYERS[other] < LAYERS[me], (
            f"reconciler.{_module_name(path)} (layer {LAYERS[me]}) imports reconciler.{imported} "
            f"(layer {LAYERS[other]}): dependencies must point down"
        )
