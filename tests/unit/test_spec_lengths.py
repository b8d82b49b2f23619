"""Lengths are counted in both code points and UTF-16 code units (docs/contract.md).

A JavaScript server counts UTF-16 units, where an emoji counts 2: a label of 128 emoji is 128
characters here and 256 there, over Zelto's 255. Counting both is the safe choice: what validates
here is accepted there, whichever way Zelto counts.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import SpecError
from reconciler.spec import load_specs

CONV = "3c90c3cc-0d44-4b50-8888-8dd25736052a"


def _spec(tmp_path: Path, field: str, value: str) -> Path:
    record = {"externalId": "e1", "label": "L", "score": 1, field: value}
    lines = [f"conversations:\n  {CONV}:\n"]
    lines.append("    - " + "\n      ".join(f'{k}: "{v}"' for k, v in record.items()) + "\n")
    path = tmp_path / "s.yaml"
    path.write_text("".join(lines).replace('score: "1"', "score: 1"), encoding="utf-8")
    return path


@pytest.mark.parametrize(("field", "limit"), [("label", 255), ("externalId", 255), ("note", 5000)])
def test_astral_characters_count_twice(tmp_path: Path, field: str, limit: int) -> None:
    ok = _spec(tmp_path, field, "😀" * (limit // 2))
    load_specs([ok], root=tmp_path)
    too_long = _spec(tmp_path, field, "😀" * (limit // 2 + 1))  # within `limit` code points
    with pytest.raises(SpecError, match="UTF-16 code units"):
        load_specs([too_long], root=tmp_path)
