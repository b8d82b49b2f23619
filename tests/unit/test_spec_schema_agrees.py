"""The editor's view of a spec (the JSON Schema, as check-jsonschema applies it) and the CLI's.

A file the editor marks red must fail ``validate``, and a file ``validate`` accepts must not be
red. Both are run for real: ``check-jsonschema`` (what CI and pre-commit users run with the
committed schema) and ``reconciler validate``. docs/specs.md ("Editors and validate") says what
a per-file schema cannot check.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "schemas" / "spec.schema.json"
CID = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
RECORD = f"conversations:\n  {CID}:\n    - externalId: qa-1\n      label: Empathy\n      score: 5\n"

#: name -> (file text, whether the CLI accepts it)
CASES = {
    "empty": ("", True),
    "only-comments": ("# nothing declared yet\n", True),
    "document-marker": ("---\n", True),
    "empty-mapping": ("{}\n", True),
    "null-conversations": ("conversations:\n", False),
    "record": (RECORD, True),
    "quoted-date": (RECORD + '      note: "2024-05-01"\n', True),
    # YAML 1.2's core schema, which editors and validate both read: the string "2024-05-01".
    "unquoted-date": (RECORD + "      note: 2024-05-01\n", True),
    "number-as-note": (RECORD + "      note: 12\n", False),
}


def _cli_accepts(tmp_path: Path, text: str) -> bool:
    (tmp_path / "specs").mkdir()
    (tmp_path / "reconciler.yaml").write_text("specs: [specs]\n", encoding="utf-8")
    (tmp_path / "specs" / "a.yaml").write_text(text, encoding="utf-8")
    # A process of its own, as a user runs it (in-process, other tests' state could leak in).
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "validate", "--no-cache"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode in {0, 1}, result.stdout + result.stderr
    return result.returncode == 0


def _schema_accepts(tmp_path: Path, text: str) -> bool:
    tool = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    assert tool is not None, "check-jsonschema is a test dependency"
    spec = tmp_path / "editor.yaml"
    spec.write_text(text, encoding="utf-8")
    result = subprocess.run(
        [tool, "--schemafile", str(SCHEMA), str(spec)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode in {0, 1}, result.stdout + result.stderr
    return result.returncode == 0


@pytest.mark.parametrize("name", CASES)
def test_the_schema_and_the_cli_agree(tmp_path: Path, name: str) -> None:
    text, accepted = CASES[name]
    assert _cli_accepts(tmp_path, text) is accepted
    assert _schema_accepts(tmp_path, text) is accepted
