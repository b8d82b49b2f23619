"""The import docs' examples stay true: their reconciler.yaml snippets are valid config."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reconciler.config import Config
from reconciler.importer.siro_records import SiroValue, records_for_recording
from reconciler.spec.yamlio import load_yaml

ROOT = Path(__file__).resolve().parents[2]
_BLOCK = re.compile(r"```yaml\n(.*?)```", re.DOTALL)


def _import_docs() -> list[tuple[str, str]]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("<!-- section:import -->")[1].split("<!-- /section:import -->")[0]
    guide = (ROOT / "docs" / "import.md").read_text(encoding="utf-8")
    return [
        (f"{name} block {i}", block)
        for name, text in (("README", section), ("docs/import.md", guide))
        for i, block in enumerate(_BLOCK.findall(text))
    ]


BLOCKS = _import_docs()
CONVERSATION = "3c90c3cc-0d44-4b50-8888-8dd25736052a"


def test_the_docs_have_examples() -> None:
    assert sum("siro:" in b for _, b in BLOCKS) >= 2
    assert sum("schedule" in b for _, b in BLOCKS) >= 2


@pytest.mark.parametrize(("name", "block"), BLOCKS, ids=[n for n, _ in BLOCKS])
def test_every_yaml_block_parses_and_config_blocks_validate(name: str, block: str) -> None:
    data = load_yaml(block.encode(), name, what="examples").data
    assert isinstance(data, dict)
    if "siro" in data:
        config = Config.model_validate(data)
        assert config.siro is not None and config.siro.metrics


def test_the_flagship_mapping_makes_the_records_the_guide_describes_for_one_recording() -> None:
    """docs/import.md says what one recording of 540 s that passed becomes: keep it true."""
    block = next(b for n, b in BLOCKS if n.startswith("docs/import.md") and "siro:" in b)
    config = Config.model_validate(load_yaml(block.encode(), "docs", what="examples").data)
    assert config.siro is not None
    values = [
        SiroValue("CONVERSATION_TIME", "Conversation Time", "mv1", "seconds", "sec", value=540),
        SiroValue("INTERACTIVITY_SCORE", "Interactivity", "mv2", "score", "pts", pass_rate=100),
    ]
    out = records_for_recording(
        "rec_1", "3c90c3cc-0d44-4b50-8888-8dd25736052a", values, config.siro
    )
    assert out.ok
    call, inter = out.records
    assert (call.label, call.score, call.verdict) == ("Call length", 45, "pass")
    assert call.note == "Siro Conversation Time: 540 sec"
    assert (inter.label, inter.verdict) == ("Interactivity", "pass")
