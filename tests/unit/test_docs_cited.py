"""Every document the code cites is in this repository (docs/semantics.md and the topic docs).

A docstring that says "see semantics.md" is a promise to the reader; a clone must be able to keep
it. Citations are paths from the repository root (``docs/plan.md``), so a bare name that happens
to exist somewhere else does not count.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CITED = re.compile(r"(?<![\w/.-])([\w./-]+\.md)\b")


def _citations() -> dict[str, list[str]]:
    """Each cited ``*.md`` → the ``file:line`` places that cite it."""
    found: dict[str, list[str]] = {}
    for path in sorted((REPO / "reconciler").rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            for match in CITED.finditer(line):
                place = f"{path.relative_to(REPO)}:{number}"
                found.setdefault(match.group(1), []).append(place)
    return found


def test_every_cited_document_exists() -> None:
    citations = _citations()
    missing = {doc: places for doc, places in citations.items() if not (REPO / doc).is_file()}
    assert missing == {}, f"cited but not in the repository: {missing}"


def test_the_decision_record_is_cited() -> None:
    # Guards the check itself: were the pattern to match nothing, the test above would pass idly.
    assert "docs/semantics.md" in _citations()


def test_a_bare_or_outside_name_is_reported() -> None:
    assert CITED.findall("see semantics.md §3 and docs/plan.md") == ["semantics.md", "docs/plan.md"]
    assert not (REPO / "semantics.md").is_file()  # a bare name is not a path in this repository
