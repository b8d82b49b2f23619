"""docs/contract.md is the two assumption registries (reconciler.contract), rendered for users.

The registries are where the code reads what Zelto and Siro promise and what we assume; the page
must say the same, so it is generated from them and this test fails when it is stale. Rewrite it
with ``RECONCILER_UPDATE_GOLDEN=1 pytest tests/unit/test_contract_doc.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

from reconciler.contract.registry import Entry, Registry
from reconciler.contract.siro import SIRO
from reconciler.contract.zelto import ZELTO

PAGE = Path(__file__).resolve().parents[2] / "docs" / "contract.md"

INTRO = """# What Zelto and Siro promise, and what we assume

Generated from the registries in `reconciler/contract/` (`zelto.py`, `siro.py`) by
`tests/unit/test_contract_doc.py`, which fails when this page is stale; do not edit it by hand.
Each entry is one behaviour the product depends on: the vendor's own words when its page says
something (**vendor**), else **assumed**, our reading, what the client does about it, and how the
live suite checks it. The emulator keeps the same values on its side, and a test checks both
agree. [zelto-api.md](zelto-api.md) and [siro-api.md](siro-api.md) describe the two APIs as the
code reads them.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _entry(entry: Entry) -> list[str]:
    return [
        f"### `{entry.key}` ({entry.source})",
        "",
        "| | |",
        "|---|---|",
        f"| value | `{entry.value!r}` |",
        f"| the vendor says | {_cell(entry.vendor) if entry.vendor else '(nothing)'} |",
        f"| our reading | {_cell(entry.reading)} |",
        f"| what the client does | {_cell(entry.client)} |",
        f"| live probe | {_cell(entry.probe)} |",
        "",
    ]


def _section(registry: Registry) -> list[str]:
    assumed = sum(1 for e in registry if e.assumed)
    lines = [f"## {registry.api}", "", f"{len(registry.entries)} entries, {assumed} assumed.", ""]
    for entry in registry:
        lines += _entry(entry)
    return lines


def render() -> str:
    lines = [INTRO]
    for registry in (ZELTO, SIRO):
        lines += _section(registry)
    return "\n".join(lines).rstrip("\n") + "\n"


def test_the_contract_page_is_the_registries_rendered() -> None:
    if os.environ.get("RECONCILER_UPDATE_GOLDEN") == "1":
        PAGE.write_text(render(), encoding="utf-8")
    stale = "docs/contract.md is stale: RECONCILER_UPDATE_GOLDEN=1 pytest " + __file__
    assert PAGE.read_text(encoding="utf-8") == render(), stale
