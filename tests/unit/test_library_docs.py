"""docs/library.md stays true: its Python blocks run, in order, in a copy of this repository's
example project, against the embedded emulator of the ``local`` target."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

import reconciler

ROOT = Path(__file__).resolve().parents[2]
_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)
_API_SECTION = re.compile(r"^## The public API\n(.*?)(?=^## |\Z)", re.DOTALL | re.MULTILINE)
_TABLE_NAMES = re.compile(r"^\| (.*?) \|", re.MULTILINE)


def _documented_public_names() -> list[str]:
    """The names in the first column of docs/library.md's public API table."""
    text = (ROOT / "docs" / "library.md").read_text(encoding="utf-8")
    section = _API_SECTION.search(text)
    assert section is not None, "docs/library.md has no '## The public API' section"
    cells = _TABLE_NAMES.findall(section.group(1))
    return [name for cell in cells for name in re.findall(r"`([^`]+)`", cell)]


def test_the_public_api_is_the_one_the_guide_lists() -> None:
    """Adding a name to ``reconciler.__all__`` is a decision: the guide must say so; removing one
    breaks users, and the guide must stop promising it."""
    assert sorted(_documented_public_names()) == sorted(reconciler.__all__)


def test_the_library_guide_plans_applies_and_stops_as_it_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocks = _BLOCK.findall((ROOT / "docs" / "library.md").read_text(encoding="utf-8"))
    assert len(blocks) == 2
    shutil.copy(ROOT / "reconciler.yaml", tmp_path / "reconciler.yaml")
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ZELTO_API_URL", raising=False)
    for number, block in enumerate(blocks):
        exec(compile(block, f"docs/library.md block {number}", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    writes = int(next(line for line in out if "planned" in line).split(": ")[1].split()[0])
    assert writes > 0 and out[0].startswith("read 0/")
    assert f"{writes} of {writes} applied and verified" in out
    assert "converged" in out
    assert out[-1].startswith("finished - ")
    assert (tmp_path / ".reconciler" / "local.sqlite").is_file()
