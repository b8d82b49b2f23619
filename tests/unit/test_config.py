"""reconciler.yaml: found upwards like git's config, defaults without one, located errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.config import (
    CONFIG_FILENAME,
    Config,
    find_config,
    load_config,
    spec_cache_dir,
)
from reconciler.errors import ConfigError, SpecError

REPO = Path(__file__).resolve().parents[2]


def _write(folder: Path, text: str) -> Path:
    path = folder / CONFIG_FILENAME
    path.write_text(text)
    return path


def test_found_in_the_nearest_parent(tmp_path: Path) -> None:
    config = _write(tmp_path, "specs: [specs]\n")
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    assert find_config(nested) == config
    assert find_config(config) == config


def test_none_found_gives_defaults_rooted_at_cwd(tmp_path: Path) -> None:
    assert find_config(tmp_path) is None  # nothing above a pytest tmp folder has one
    loaded = load_config(cwd=tmp_path)
    assert loaded.config == Config()
    assert loaded.root == tmp_path
    assert loaded.path is None
    assert loaded.spec_paths() == [tmp_path / "specs"]


def test_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    _write(tmp_path, "specs: [qa, imported/x.yaml]\nownership: {externalIdPrefix: qa-}\n")
    nested = tmp_path / "sub"
    nested.mkdir()
    loaded = load_config(cwd=nested)
    assert loaded.root == tmp_path
    assert loaded.spec_paths() == [tmp_path / "qa", tmp_path / "imported/x.yaml"]
    assert loaded.config.ownership.external_id_prefix == "qa-"
    assert spec_cache_dir(loaded) == tmp_path / ".reconciler" / "cache"


def test_explicit_relative_path_is_taken_from_cwd(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    _write(
        tmp_path / "conf", "defaultTarget: production\ntargets:\n  production: {url: 'https://x'}\n"
    )
    loaded = load_config(Path("conf") / CONFIG_FILENAME, cwd=tmp_path)
    assert loaded.root == tmp_path / "conf"
    assert loaded.config.default_target == "production"


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    _write(tmp_path, "# all defaults\n")
    assert load_config(cwd=tmp_path).config == Config()


def test_missing_explicit_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "nope.yaml", cwd=tmp_path)


def _issues(tmp_path: Path, text: str) -> list[str]:
    _write(tmp_path, text)
    with pytest.raises(SpecError) as caught:
        load_config(cwd=tmp_path)
    return [str(i) for i in caught.value.issues]


def test_unknown_keys_are_located_with_did_you_mean(tmp_path: Path) -> None:
    assert _issues(tmp_path, "spec: [specs]\n") == [
        "reconciler.yaml:1:1: spec: unknown key 'spec'; did you mean 'specs'? Allowed keys: "
        "specs, ownership, defaultTarget, targets, plan, apply, siro, sensitive"
    ]
    issues = _issues(tmp_path, "targets:\n  prod:\n    url: https://x\n    tokenenv: KEY\n")
    assert issues[0].startswith("reconciler.yaml:4:5: targets.prod.tokenenv: unknown key")
    assert "did you mean 'tokenEnv'?" in issues[0]


def test_bad_values_are_located(tmp_path: Path) -> None:
    issues = _issues(tmp_path, "apply:\n  concurrency: 0\n  maxAttempts: many\n")
    assert issues[0].startswith("reconciler.yaml:2:16: apply.concurrency: got 0; ")
    assert issues[1].startswith("reconciler.yaml:3:16: apply.maxAttempts: got 'many'; ")


def test_model_rules_are_located_at_their_mapping(tmp_path: Path) -> None:
    issues = _issues(tmp_path, "targets:\n  both: {url: 'https://x', emulator: e.sqlite}\n")
    assert issues == [
        "reconciler.yaml:2:9: targets.both: a target sets exactly one of url and emulator"
    ]


def test_hostile_config_is_refused_like_a_spec(tmp_path: Path) -> None:
    assert (
        "anchors and aliases are not allowed in reconciler.yaml"
        in _issues(tmp_path, "specs: &s [a]\nplan: {concurrency: 1}\nx: *s\n")[0]
    )
    assert _issues(tmp_path, "- specs\n") == [
        "reconciler.yaml:1:1: the top level must be a mapping (specs, ownership, defaultTarget, "
        "targets, ...)"
    ]


def test_the_example_config_is_valid() -> None:
    loaded = load_config(REPO / CONFIG_FILENAME)
    assert loaded.config.ownership.external_id_prefix == "qa-"
    assert loaded.config.default_target == "local"
    assert loaded.config.target("local").emulator == ".reconciler/local.sqlite"
