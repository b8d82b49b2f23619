"""docs/library.md stays true: its Python blocks run, in order, in a copy of this repository's
example project, against the embedded emulator of the ``local`` target."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


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
