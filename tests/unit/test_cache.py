"""The content-hash cache, the stat index and the merged-load snapshot: hits on unchanged content,
misses on new content or new code, and never trusts a damaged or forged entry."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import SpecError
from reconciler.model import DesiredState
from reconciler.spec import load_specs
from reconciler.spec import loader as spec_loader
from reconciler.spec.cache import ContentCache, content_key
from reconciler.spec.parallel import check_all
from reconciler.spec.rules import merge_results
from reconciler.spec.statindex import file_stat

REPO = Path(__file__).resolve().parents[2]


def test_values_round_trip_and_persist(tmp_path: Path) -> None:
    cache = ContentCache(tmp_path, "specs", "v1")
    cache.put("k", {"a": [1, "é"]})
    cache.save()
    again = ContentCache(tmp_path, "specs", "v1")
    assert again.get("k") == {"a": [1, "é"]}
    assert again.get_many(["k", "absent"]) == [{"a": [1, "é"]}, None]
    assert again.get_json("k") == '{"a":[1,"é"]}'


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
    assert fresh.get_json("k") is None


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
    real = check_all

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
    from reconciler.spec.cache import _line_digest, user_secret

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
    stored = sorted(p.name.split("-")[0] for p in (tmp_path / "cache").glob("*.jsonl"))
    assert stored == ["specindex"]  # only where the file is and its hash: no results


def test_content_key_is_sha256() -> None:
    assert content_key(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_old_entries_are_kept_only_while_there_is_room(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("reconciler.spec.cache.MAX_ENTRIES", 3)
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
    from reconciler.spec.cache import _line_digest

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
    from reconciler.spec.cache import user_secret

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    first = user_secret()
    path = tmp_path / "xdg" / "reconciler" / "cache.key"
    assert first is not None and path.read_bytes() == first
    assert path.stat().st_mode & 0o777 == 0o600
    assert user_secret() == first


def test_a_line_breaks_only_at_newline(tmp_path: Path) -> None:
    """A note may hold U+2028 (a line break to splitlines()); JSON leaves it raw."""
    cache = ContentCache(tmp_path, "specs", "v1")
    cache.put("k", {"note": "a\u2028b\x85c"})
    cache.save()
    assert ContentCache(tmp_path, "specs", "v1").get("k") == {"note": "a\u2028b\x85c"}


# The stat index and the snapshot of the merged load.

LATER = 10**10  # ns: a run that starts 10 s after the files were written (none is racily clean)


class _Spy:
    """Counts which files a load reads and checks, and whether it merges."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.read: list[str] = []
        self.checked: list[str] = []
        self.merges = 0
        real_read, real_bytes = spec_loader._read, spec_loader._read_bytes
        real_check, real_merge = check_all, merge_results

        def read(absolute: str, *args: object) -> object:
            self.read.append(Path(absolute).name)
            return real_read(absolute, *args)  # type: ignore[arg-type]

        def read_bytes(absolute: str) -> bytes:
            self.read.append(Path(absolute).name)
            return real_bytes(absolute)

        def check(sources: list[tuple[str, bytes]], max_bytes: int) -> object:
            self.checked.extend(Path(display).name for display, _data in sources)
            return real_check(sources, max_bytes)

        def merge(*args: object) -> object:
            self.merges += 1
            return real_merge(*args)  # type: ignore[arg-type]

        monkeypatch.setattr(spec_loader, "_read", read)
        monkeypatch.setattr(spec_loader, "_read_bytes", read_bytes)
        monkeypatch.setattr(spec_loader, "_check_all", check)
        monkeypatch.setattr(spec_loader, "merge_results", merge)

    def reset(self) -> None:
        self.read, self.checked, self.merges = [], [], 0


def _later(monkeypatch: pytest.MonkeyPatch, offset: int = LATER) -> None:
    real = time.time_ns
    monkeypatch.setattr(spec_loader, "_clock", lambda: real() + offset)


def _cold_then_warm(specs: Path, root: Path, cache_dir: Path) -> DesiredState:
    """A cold load, then an unchanged re-run, which stores the snapshot (a small cold load does
    not: see test_a_snapshot_is_stored_by_an_unchanged_rerun_not_while_editing)."""
    cold = load_specs([specs], root=root, cache_dir=cache_dir)
    load_specs([specs], root=root, cache_dir=cache_dir)
    return cold


def _same(a: DesiredState, b: DesiredState) -> None:
    assert a.conversations == b.conversations
    assert a.catalog == b.catalog
    assert a.spec_digest == b.spec_digest
    assert a.files == b.files


def test_an_unchanged_rerun_reads_checks_and_merges_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs = _copy_specs(tmp_path)
    cache_dir = tmp_path / "cache"
    _later(monkeypatch)
    cold = _cold_then_warm(specs, tmp_path, cache_dir)
    spy = _Spy(monkeypatch)
    warm = load_specs([specs], root=tmp_path, cache_dir=cache_dir)
    _same(warm, cold)
    assert (spy.read, spy.checked, spy.merges) == ([], [], 0)
    # Warm records are whole models again (what plan serialises depends on their fields set).
    records = [d.record for declared in warm.conversations.values() for d in declared]
    expected = [d.record for declared in cold.conversations.values() for d in declared]
    assert [r.model_fields_set for r in records] == [r.model_fields_set for r in expected]


def test_a_touched_file_is_read_again_but_not_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs = _copy_specs(tmp_path)
    cache_dir = tmp_path / "cache"
    _later(monkeypatch)
    cold = _cold_then_warm(specs, tmp_path, cache_dir)
    touched = specs / "escalations.yaml"
    info = touched.stat()
    os.utime(touched, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))
    spy = _Spy(monkeypatch)
    _same(load_specs([specs], root=tmp_path, cache_dir=cache_dir), cold)
    assert spy.read == ["escalations.yaml"]
    assert spy.checked == [] and spy.merges == 0  # same content: same key, same snapshot
    spy.reset()
    load_specs([specs], root=tmp_path, cache_dir=cache_dir)
    assert spy.read == []  # the index learnt the new stat


def test_an_edit_is_seen_even_when_the_size_is_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs = _copy_specs(tmp_path)
    cache_dir = tmp_path / "cache"
    _later(monkeypatch)
    _cold_then_warm(specs, tmp_path, cache_dir)
    edited = specs / "escalations.yaml"
    info = edited.stat()
    edited.write_text(edited.read_text().replace("score: 40", "score: 41"))
    os.utime(edited, ns=(info.st_atime_ns, info.st_mtime_ns))  # mtime put back; ctime moves
    assert edited.stat().st_size == info.st_size
    spy = _Spy(monkeypatch)
    warm = load_specs([specs], root=tmp_path, cache_dir=cache_dir)
    assert spy.read == ["escalations.yaml"] and spy.checked == ["escalations.yaml"]
    assert 41 in [d.record.score for records in warm.conversations.values() for d in records]


@pytest.mark.parametrize("written_before_run_ns", [0, 10**10])
def test_a_racily_clean_file_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, written_before_run_ns: int
) -> None:
    """On a file system with one-second timestamps, an edit in the same second as the read, with
    the same size, leaves the whole stat unchanged. Such a stat is trusted only when it is older
    than the run that recorded it (by a margin); otherwise the file is read every time."""
    specs = _copy_specs(tmp_path)
    cache_dir = tmp_path / "cache"
    edited = specs / "escalations.yaml"
    second = (time.time_ns() // 10**9) * 10**9
    real_stat = file_stat

    def coarse(result: os.stat_result) -> tuple[int, int, int, int]:
        size, _mtime, _ctime, inode = real_stat(result)
        return size, second, second, inode  # an edit within the second changes nothing here

    monkeypatch.setattr(spec_loader, "file_stat", coarse)
    _later(monkeypatch, written_before_run_ns)
    load_specs([specs], root=tmp_path, cache_dir=cache_dir)
    edited.write_text(edited.read_text().replace("score: 40", "score: 41"))
    spy = _Spy(monkeypatch)
    warm = load_specs([specs], root=tmp_path, cache_dir=cache_dir)
    scores = [d.record.score for records in warm.conversations.values() for d in records]
    if written_before_run_ns == 0:  # the file's second is the run's: never trusted
        assert sorted(spy.read) == ["escalations.yaml", "support-qa.yaml"]
        assert 41 in scores
    else:  # an old stat is trusted (and an edit that keeps it entirely is not seen, as in git)
        assert spy.read == []
        assert 41 not in scores


def test_renamed_and_deleted_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    specs = _copy_specs(tmp_path)
    cache_dir = tmp_path / "cache"
    _later(monkeypatch)
    _cold_then_warm(specs, tmp_path, cache_dir)
    (specs / "escalations.yaml").rename(specs / "renamed.yaml")
    spy = _Spy(monkeypatch)
    renamed = load_specs([specs], root=tmp_path, cache_dir=cache_dir)
    assert spy.read == ["renamed.yaml"] and spy.checked == []  # same content: cached result
    _same(renamed, load_specs([specs], root=tmp_path))
    assert "specs/renamed.yaml" in renamed.files
    places = {d.location.file for records in renamed.conversations.values() for d in records}
    assert "specs/escalations.yaml" not in places
    (specs / "renamed.yaml").unlink()
    spy.reset()
    remaining = load_specs([specs], root=tmp_path, cache_dir=cache_dir)
    assert remaining.files == ("specs/support-qa.yaml",) and spy.read == []
    _same(remaining, load_specs([specs], root=tmp_path))


def _forge(store: Path, secret: bytes, edit: Callable[[Any], Any]) -> None:
    from reconciler.spec.cache import _line_digest

    lines = []
    for line in store.read_text().splitlines():
        key, _digest, payload = line.split("\t", 2)
        payload = json.dumps(edit(json.loads(payload)), separators=(",", ":"))
        lines.append(f"{key}\t{_line_digest(secret, key, payload)}\t{payload}")
    store.write_text("\n".join(lines) + "\n")


def _point_escalations_at_support_qa(index: Any) -> Any:
    files = index["files"]
    (escalations,) = [path for path in files if path.endswith("escalations.yaml")]
    (support,) = [path for path in files if path.endswith("support-qa.yaml")]
    files[escalations][5] = files[support][5]
    return index


@pytest.mark.parametrize("whose", ["attacker", "mine"])
def test_a_forged_stat_index_entry_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, whose: str
) -> None:
    """A committed index could point a file's stat at the key of other, cached content. Signed
    with another secret it is a miss; signed with ours (the control) it would be believed."""
    from reconciler.spec.cache import user_secret

    specs = _copy_specs(tmp_path)
    cache_dir = tmp_path / "cache"
    _later(monkeypatch)
    cold = _cold_then_warm(specs, tmp_path, cache_dir)
    (index,) = cache_dir.glob("specindex-*.jsonl")
    secret = user_secret() if whose == "mine" else b"a" * 32
    assert secret is not None
    _forge(index, secret, _point_escalations_at_support_qa)
    if whose == "attacker":
        _same(load_specs([specs], root=tmp_path, cache_dir=cache_dir), cold)
    else:
        with pytest.raises(SpecError):  # support-qa's records twice: the forgery was used
            load_specs([specs], root=tmp_path, cache_dir=cache_dir)


def _score_85_to(value: int) -> Callable[[Any], Any]:
    """Every stored record row (externalId, label, verdict, score, ...) with score 85."""

    def edit(snapshot: Any) -> Any:
        _catalog, _files, conversations = snapshot
        rows = [row for records in conversations.values() for row in records if row[3] == 85]
        assert rows
        for row in rows:
            row[3] = value
        return snapshot

    return edit


@pytest.mark.parametrize(("whose", "score"), [("attacker", 99), ("mine", 500)])
def test_a_forged_or_invalid_snapshot_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, whose: str, score: int
) -> None:
    """Another secret's snapshot is a miss; one of ours with out-of-range data fails validation.
    Either way the load is done again from the files and the per-file cache."""
    from reconciler.spec.cache import user_secret

    specs = _copy_specs(tmp_path)
    cache_dir = tmp_path / "cache"
    _later(monkeypatch)
    cold = _cold_then_warm(specs, tmp_path, cache_dir)
    (snapshot,) = cache_dir.glob("specstate-*.jsonl")
    secret = user_secret() if whose == "mine" else b"a" * 32
    assert secret is not None
    _forge(snapshot, secret, _score_85_to(score))
    spy = _Spy(monkeypatch)
    _same(load_specs([specs], root=tmp_path, cache_dir=cache_dir), cold)
    assert spy.merges == 1


def test_a_sound_snapshot_is_what_a_warm_load_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control for the test above: a valid snapshot under our secret is used as is."""
    from reconciler.spec.cache import user_secret

    specs = _copy_specs(tmp_path)
    cache_dir = tmp_path / "cache"
    _later(monkeypatch)
    _cold_then_warm(specs, tmp_path, cache_dir)
    (snapshot,) = cache_dir.glob("specstate-*.jsonl")
    secret = user_secret()
    assert secret is not None
    _forge(snapshot, secret, _score_85_to(86))
    warm = load_specs([specs], root=tmp_path, cache_dir=cache_dir)
    assert 86 in [d.record.score for records in warm.conversations.values() for d in records]


def test_a_cross_file_error_is_located_in_a_file_known_only_by_its_stat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs = _copy_specs(tmp_path)
    cache_dir = tmp_path / "cache"
    _later(monkeypatch)
    _cold_then_warm(specs, tmp_path, cache_dir)
    copy = (specs / "escalations.yaml").read_text()
    (specs / "zz-copy.yaml").write_text(copy)  # every externalId of escalations.yaml again
    with pytest.raises(SpecError) as cached:
        load_specs([specs], root=tmp_path, cache_dir=cache_dir)
    with pytest.raises(SpecError) as uncached:
        load_specs([specs], root=tmp_path)
    assert [str(i) for i in cached.value.issues] == [str(i) for i in uncached.value.issues]
    assert any("escalations.yaml:" in str(i) for i in cached.value.issues)


def test_a_snapshot_is_stored_by_an_unchanged_rerun_not_while_editing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Storing the whole load has a cost: a run that parsed a file or two (someone editing) does
    not pay it; the next unchanged re-run does, once."""
    specs = _copy_specs(tmp_path)
    cache_dir = tmp_path / "cache"
    _later(monkeypatch)
    spy = _Spy(monkeypatch)
    load_specs([specs], root=tmp_path, cache_dir=cache_dir)  # small cold load: no snapshot
    assert not list(cache_dir.glob("specstate-*.jsonl"))
    load_specs([specs], root=tmp_path, cache_dir=cache_dir)  # unchanged: stores it
    assert len(list(cache_dir.glob("specstate-*.jsonl"))) == 1
    edited = specs / "escalations.yaml"
    edited.write_text(edited.read_text().replace("score: 40", "score: 41"))
    spy.reset()
    load_specs([specs], root=tmp_path, cache_dir=cache_dir)
    assert spy.checked == ["escalations.yaml"] and spy.merges == 1
    spy.reset()
    load_specs([specs], root=tmp_path, cache_dir=cache_dir)  # unchanged again: stores it
    spy.reset()
    warm = load_specs([specs], root=tmp_path, cache_dir=cache_dir)
    assert spy.merges == 0 and spy.read == []
    assert 41 in [d.record.score for records in warm.conversations.values() for d in records]


def test_a_large_cold_load_stores_the_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs = _copy_specs(tmp_path)
    cache_dir = tmp_path / "cache"
    monkeypatch.setattr(spec_loader, "SNAPSHOT_AFTER_BYTES", 1)
    _later(monkeypatch)
    cold = load_specs([specs], root=tmp_path, cache_dir=cache_dir)
    spy = _Spy(monkeypatch)
    _same(load_specs([specs], root=tmp_path, cache_dir=cache_dir), cold)
    assert spy.merges == 0
