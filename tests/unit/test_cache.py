"""The content-hash cache: hits on unchanged content, misses on new content or new code, and never
trusts a damaged entry."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reconciler.cache import ContentCache, content_key
from reconciler.errors import SpecError
from reconciler.spec import load_specs
from reconciler.spec import loader as spec_loader

REPO = Path(__file__).resolve().parents[2]


def test_values_round_trip_and_persist(tmp_path: Path) -> None:
    cache = ContentCache(tmp_path, "specs", "v1")
    cache.put("k", {"a": [1, "é"]})
    cache.save()
    again = ContentCache(tmp_path, "specs", "v1")
    assert again.get("k") == {"a": [1, "é"]}
    assert again.get_many(["k", "absent"]) == [{"a": [1, "é"]}, None]


def test_another_version_misses_and_replaces_old_files(tmp_path: Path) -> None:
    old = ContentCache(tmp_path, "specs", "v1")
    old.put("k", 1)
    old.save()
    other_family = ContentCache(tmp_path, "plans", "v1")
    other_family.put("k", 2)
    other_family.save()
    new = ContentCache(tmp_path, "specs", "v2")
    assert new.get("k") is None
    new.put("k", 3)
    new.save()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plans-v1.jsonl", "specs-v2.jsonl"]


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text.replace('"a"', '"b"'),  # edited payload: digest no longer matches
        lambda text: text[: len(text) // 2],  # truncated write
        lambda text: "garbage\n" + text.replace("\t", " "),  # no longer three fields
    ],
)
def test_damaged_entries_are_ignored(tmp_path: Path, damage: object) -> None:
    cache = ContentCache(tmp_path, "specs", "v1")
    cache.put("k", {"a": 1})
    cache.save()
    path = tmp_path / "specs-v1.jsonl"
    path.write_text(damage(path.read_text()))  # type: ignore[operator]
    fresh = ContentCache(tmp_path, "specs", "v1")
    assert fresh.get("k") is None
    assert fresh.get_many(["k"]) == [None]


def test_unwritable_cache_is_only_slower(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cache = ContentCache(blocker / "cache", "specs", "v1")
    cache.put("k", 1)
    cache.save()  # swallowed on purpose: the run must not fail because of its cache
    assert not (blocker / "cache").exists()


def _copy_specs(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "specs", tmp_path / "specs")
    return tmp_path / "specs"


def test_warm_load_equals_cold_load_and_skips_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs = _copy_specs(tmp_path)
    cache_dir = tmp_path / ".reconciler" / "cache"
    cold = load_specs([specs], root=tmp_path, cache_dir=cache_dir)
    checked: list[str] = []
    real = spec_loader._check_all

    def counting(sources: list[tuple[str, bytes]], max_bytes: int) -> object:
        checked.extend(display for display, _data in sources)
        return real(sources, max_bytes)

    monkeypatch.setattr(spec_loader, "_check_all", counting)
    warm = load_specs([specs], root=tmp_path, cache_dir=cache_dir)
    assert checked == []
    assert warm.conversations == cold.conversations
    assert warm.catalog == cold.catalog
    assert warm.spec_digest == cold.spec_digest
    # Editing one file re-checks exactly that file.
    edited = specs / "escalations.yaml"
    edited.write_text(edited.read_text().replace("score: 40", "score: 41"))
    load_specs([specs], root=tmp_path, cache_dir=cache_dir)
    assert checked == ["specs/escalations.yaml"]


def test_a_corrupt_cache_never_changes_the_result(tmp_path: Path) -> None:
    specs = _copy_specs(tmp_path)
    cache_dir = tmp_path / "cache"
    cold = load_specs([specs], root=tmp_path, cache_dir=cache_dir)
    (store,) = cache_dir.glob("specs-*.jsonl")
    text = store.read_text()
    assert '"score":85' in text
    store.write_text(text.replace('"score":85', '"score":99'))
    again = load_specs([specs], root=tmp_path, cache_dir=cache_dir)
    assert again.conversations == cold.conversations


def test_a_forged_but_well_formed_entry_is_validated_again(tmp_path: Path) -> None:
    """Even an entry whose digest matches goes through the models: out-of-range data is refused
    and the file is parsed again."""
    from reconciler.cache import _line_digest, user_secret

    secret = user_secret()
    assert secret is not None
    specs = _copy_specs(tmp_path)
    cache_dir = tmp_path / "cache"
    cold = load_specs([specs], root=tmp_path, cache_dir=cache_dir)
    (store,) = cache_dir.glob("specs-*.jsonl")
    assert '"score":85' in store.read_text()
    lines = []
    for line in store.read_text().splitlines():
        key, _digest, payload = line.split("\t", 2)
        payload = payload.replace('"score":85', '"score":500')
        lines.append(f"{key}\t{_line_digest(secret, key, payload)}\t{payload}")
    store.write_text("\n".join(lines) + "\n")
    again = load_specs([specs], root=tmp_path, cache_dir=cache_dir)
    assert again.conversations == cold.conversations


def test_invalid_files_are_not_cached(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("labels: {A: {kind: nope}}\n")
    for _ in range(2):
        with pytest.raises(SpecError):
            load_specs([bad], root=tmp_path, cache_dir=tmp_path / "cache")
    assert not list((tmp_path / "cache").glob("*.jsonl"))


def test_content_key_is_sha256() -> None:
    assert content_key(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_old_entries_are_kept_only_while_there_is_room(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("reconciler.cache.MAX_ENTRIES", 3)
    first = ContentCache(tmp_path, "specs", "v1")
    for key in ["a", "b", "c", "d"]:
        first.put(key, key)
    first.save()  # one run's own entries always stay, even beyond the cap
    assert ContentCache(tmp_path, "specs", "v1").get_many(["a", "b", "c", "d"]) == list("abcd")
    second = ContentCache(tmp_path, "specs", "v1")
    assert second.get("a") == "a"
    second.put("e", "e")
    second.save()  # keeps a (used) and e (new), then the most recent old entry that fits
    third = ContentCache(tmp_path, "specs", "v1")
    assert third.get_many(["a", "b", "c", "d", "e"]) == ["a", None, None, "d", "e"]


def test_a_cache_planted_in_the_repository_is_ignored(tmp_path: Path) -> None:
    """A pull request could commit .reconciler/cache with entries that map a reviewed file's hash
    to other (valid) records; without this user's secret they are misses, so plan and apply see
    exactly what the YAML says."""
    from reconciler.cache import _line_digest

    specs = _copy_specs(tmp_path)
    cache_dir = tmp_path / "cache"
    cold = load_specs([specs], root=tmp_path, cache_dir=cache_dir)
    (store,) = cache_dir.glob("specs-*.jsonl")
    attacker = b"a" * 32  # the attacker's own key: they can compute any digest but ours
    lines = []
    for line in store.read_text().splitlines():
        key, _digest, payload = line.split("\t", 2)
        payload = payload.replace('"score":85', '"score":99')  # still a valid record
        lines.append(f"{key}\t{_line_digest(attacker, key, payload)}\t{payload}")
    store.write_text("\n".join(lines) + "\n")
    again = load_specs([specs], root=tmp_path, cache_dir=cache_dir)
    assert again.conversations == cold.conversations
    scores = [d.record.score for records in again.conversations.values() for d in records]
    assert 85 in scores and 99 not in scores


def test_entries_of_another_secret_miss(tmp_path: Path) -> None:
    mine = ContentCache(tmp_path, "specs", "v1", secret=b"m" * 32)
    mine.put("k", {"v": 1})
    mine.save()
    assert ContentCache(tmp_path, "specs", "v1", secret=b"m" * 32).get("k") == {"v": 1}
    assert ContentCache(tmp_path, "specs", "v1", secret=b"o" * 32).get("k") is None


def test_the_user_secret_is_private_and_stable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reconciler.cache import user_secret

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    first = user_secret()
    path = tmp_path / "xdg" / "reconciler" / "cache.key"
    assert first is not None and path.read_bytes() == first
    assert path.stat().st_mode & 0o777 == 0o600
    assert user_secret() == first
