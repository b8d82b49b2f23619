"""What pyproject.toml declares is what the code imports, pinned in constraints.txt, licensed.

A test importing an undeclared package (werkzeug did) passes on a developer's machine that happens
to have it and fails on a clean one; a declared package nothing imports is weight every user
installs. Both are read from the source's own imports (ast), not from a list kept by hand.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import metadata, packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]

#: Imported under another distribution's name: part of that distribution's public API.
IMPORTED_THROUGH = {"pydantic-core": "pydantic"}
#: Declared for what they do inside another package, never imported by name (reason beside each
#: in pyproject.toml): ruamel's C parser, httpcore's sniffio, uvicorn's HTTP parser and loop.
USED_WITHOUT_IMPORT = {"ruamel-yaml-clib", "sniffio", "httptools", "uvloop"}


def _names(requirements: list[str]) -> set[str]:
    return {canonicalize_name(Requirement(line).name) for line in requirements}


def _imported_distributions(folder: Path) -> set[str]:
    """The third-party distributions whose modules the .py files under ``folder`` import."""
    local = {path.stem for path in (REPO / "tests").rglob("*.py")} | {"reconciler", "tests"}
    top_level: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                top_level.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                top_level.add(node.module.split(".")[0])
    third_party = top_level - set(sys.stdlib_module_names) - local
    owners = packages_distributions()
    # A namespace (ruamel) may belong to several distributions: each counts as imported.
    found = {canonicalize_name(d) for name in third_party if name in owners for d in owners[name]}
    assert found, "no third-party imports found: the walk is broken"
    return {IMPORTED_THROUGH.get(name, name) for name in found}


def test_the_package_imports_only_its_runtime_dependencies() -> None:
    undeclared = _imported_distributions(REPO / "reconciler") - _names(PROJECT["dependencies"])
    assert not undeclared


def test_every_runtime_dependency_is_imported_or_named_for_its_side_effect() -> None:
    used = _imported_distributions(REPO / "reconciler") | USED_WITHOUT_IMPORT
    assert not _names(PROJECT["dependencies"]) - used


def test_the_tests_import_only_declared_dependencies() -> None:
    declared = _names(PROJECT["dependencies"]) | _names(PROJECT["optional-dependencies"]["test"])
    assert not _imported_distributions(REPO / "tests") - declared


def test_a_benchmark_only_dependency_is_in_the_bench_extra_not_installed_for_users() -> None:
    runtime = _names(PROJECT["dependencies"])
    assert "httpx-aiohttp" not in runtime
    assert "httpx-aiohttp" in _names(PROJECT["optional-dependencies"]["bench"])


def test_constraints_pin_every_declared_dependency_and_the_lint_tools_exactly() -> None:
    lines = (REPO / "constraints.txt").read_text(encoding="utf-8").splitlines()
    pins = [Requirement(line) for line in lines if line and not line.startswith("#")]
    assert all(str(pin.specifier).startswith("==") for pin in pins)
    pinned = {canonicalize_name(pin.name) for pin in pins}
    extras = PROJECT["optional-dependencies"]
    declared = _names(PROJECT["dependencies"]) | _names(extras["test"]) | _names(extras["bench"])
    assert not declared - pinned
    for tool in ("ruff", "mypy"):
        [line] = [
            line for line in extras["test"] if canonicalize_name(Requirement(line).name) == tool
        ]
        assert str(Requirement(line).specifier).startswith("=="), line


def test_the_license_is_an_spdx_expression_with_its_text_shipped() -> None:
    assert PROJECT["license"] == "Apache-2.0"
    assert "setuptools>=77" in PYPROJECT["build-system"]["requires"]
    assert metadata("reconciler")["License-Expression"] == "Apache-2.0"
    text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License\n                           Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
