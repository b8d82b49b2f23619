"""docs/contract.md is the two assumption registries (reconciler.contract), rendered for users.

The registries are where the code reads what Zelto and Siro promise and what we assume; the page
must say the same, so it is generated from them and this test fails when it is stale. Rewrite it
with ``RECONCILER_UPDATE_GOLDEN=1 pytest tests/unit/test_contract_doc.py``.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from reconciler.contract.registry import Entry, Registry
from reconciler.contract.siro import SIRO
from reconciler.contract.zelto import ZELTO
from reconciler.emulator.contract import SIRO_BEHAVIOUR, ZELTO_BEHAVIOUR

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


DECISIONS = """## Decisions

- **Lengths** (label 255, note 5000, externalId 255): the vendor page does not say what a character
  is. A JavaScript server counts UTF-16 code units, where a character beyond the Basic Multilingual
  Plane (an emoji) counts 2. Specs are checked in both units, so 128 emoji in a label (128 code
  points, 256 UTF-16 units) are refused here before Zelto can refuse them. The strict emulator
  counts UTF-16 units, the lenient one code points.
- **Unknown recording** (`unknown_recording`): assumed 404. Under that reading a batch answering 404
  is split until the unknown ids are found. If Siro answers 200 with a count of 0 instead, set the
  entry to `empty`: the importer then asks once more over all time up to `--end` for the
  recordings without values in the window, and one never evaluated is an error, not a warning.
  Both readings are tested against the emulator (`--siro-unknown-recording 404|empty`).
- **Paging** (`next_page_param`): the page names `cursor` and `hasNextPage` in the response only;
  the next page is asked for with `?cursor=`. A page that says `hasNextPage` without a new cursor
  is an error naming the recordings, never a quiet stop.
- **Units** (`metric_units`): `value` is in its own unit; only a percentage or score unit is a
  0-100 score as it is. Everything else needs a `range` or `scale` in the mapping
  ([import.md](import.md)).
- **Emulator strictness**: the emulator is lenient by default, as the vendors' pages allow, and
  `--strict` adds the assumed checks (unknown and null body fields, UTF-16 lengths, empty or
  repeated Siro filters, lower-case date-times, `endAt` before `startAt`); the project's tests run
  strict, schemathesis runs lenient ([emulator.md](emulator.md)).
- **Schemathesis** (`tests/contract/test_schemathesis.py`) generates requests from
  `contracts/zelto-openapi.yaml` and `contracts/siro-openapi.yaml` against the lenient emulator and
  checks every answer against them, in about 30 s. It passes with no exception: the one failure it
  found (a 405 whose `Allow` omitted `POST`) was fixed.
"""

EMULATOR = {"Zelto": ZELTO_BEHAVIOUR, "Siro": SIRO_BEHAVIOUR}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _value(value: object) -> str:
    """The value as code would write it; a set's elements sorted, so the page is the same
    whether the set came from source or from a cached .pyc."""
    if isinstance(value, frozenset | set):
        return f"{type(value).__name__}({{{', '.join(repr(v) for v in sorted(value))}}})"
    return repr(value)


def _entry(entry: Entry, emulator: str) -> list[str]:
    return [
        f"### `{entry.key}` ({entry.source})",
        "",
        "| | |",
        "|---|---|",
        f"| value | `{_value(entry.value)}` |",
        f"| the vendor says | {_cell(entry.vendor) if entry.vendor else '(nothing)'} |",
        f"| our reading | {_cell(entry.reading)} |",
        f"| what the client does | {_cell(entry.client)} |",
        f"| what the emulator does | {_cell(emulator)} |",
        f"| live probe | {_cell(entry.probe)} |",
        "",
    ]


def _section(registry: Registry) -> list[str]:
    assumed = sum(1 for e in registry if e.assumed)
    lines = [f"## {registry.api}", "", f"{len(registry.entries)} entries, {assumed} assumed.", ""]
    for entry in registry:
        lines += _entry(entry, EMULATOR[registry.api][entry.key][1])
    return lines


def render() -> str:
    lines = [INTRO, DECISIONS]
    for registry in (ZELTO, SIRO):
        lines += _section(registry)
    return "\n".join(lines).rstrip("\n") + "\n"


def test_the_contract_page_is_the_registries_rendered() -> None:
    if os.environ.get("RECONCILER_UPDATE_GOLDEN") == "1":
        PAGE.write_text(render(), encoding="utf-8")
    stale = "docs/contract.md is stale: RECONCILER_UPDATE_GOLDEN=1 pytest " + __file__
    assert PAGE.read_text(encoding="utf-8") == render(), stale


def test_a_set_value_reads_the_same_whatever_its_iteration_order() -> None:
    """A frozenset's order depends on how it was built: compiled from source, or read back from
    a cached .pyc (marshal re-inserts the elements in its own order). The page must not."""
    entry = next(e for e in ZELTO if isinstance(e.value, frozenset))
    built = frozenset({408, 425, 429, 500, 502, 503, 504})
    reinserted = frozenset([504, 503, 502, 500, 429, 425, 408])
    assert list(built) != list(reinserted)  # else this test proves nothing on this Python
    emulator = EMULATOR["Zelto"][entry.key][1]
    assert _entry(replace(entry, value=built), emulator) == _entry(
        replace(entry, value=reinserted), emulator
    )
