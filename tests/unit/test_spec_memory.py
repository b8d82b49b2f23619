"""Loading specs holds no file's validated models past its compact form (issue 15).

A cold load of 100,000 conversations (400,000 records) peaked at 759 MB, most of it the
validated :class:`~reconciler.model.MetricRecord` models of every file, about 1 KB a record,
held until the merge. Each file's result is now made compact (the desired state's own
``DeclaredRecord`` tuples) as soon as it is checked, and its models are dropped. This counts the
live models while real loads run: checked in this process, at most the file just checked and the
one before it; checked by worker processes, at most a batch of files; and when the merge starts
(also for a load answered by the per-file cache), none at all.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from reconciler.model import MetricRecord
from reconciler.spec import load_specs
from reconciler.spec import loader as spec_loader
from reconciler.spec.parallel import PARALLEL_MIN_BYTES, _worker_count, fork_context

PER_FILE = 3 * 4  # conversations x records


def _live_models() -> int:
    """Models are freed as their last reference goes (they hold no cycles): no collection."""
    return sum(1 for o in gc.get_objects() if isinstance(o, MetricRecord))


def _write_specs(folder: Path, files: int, padding: int = 0) -> None:
    folder.mkdir()
    for f in range(files):
        lines = ["conversations:"]
        for c in range(PER_FILE // 4):
            lines.append(f"  {f:08x}-{c:04x}-4000-8000-000000000000:")
            for r in range(4):
                lines += [f"    - externalId: qa-{r}", f"      label: Label {r}", "      score: 7"]
        lines += ["# padding"] * padding
        (folder / f"{f:03d}.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


class _Counter:
    """Live models seen while the loader takes each checked file, and when the merge starts."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.while_checking: list[int] = []
        self.at_merge: list[int] = []
        real_check, real_merge = spec_loader._check_all, spec_loader.merge_results

        def check(sources: list[tuple[str, bytes]], max_bytes: int) -> Iterator[object]:
            for outcome in real_check(sources, max_bytes):
                self.while_checking.append(_live_models())
                yield outcome

        def merge(*args: object) -> object:
            self.at_merge.append(_live_models())
            return real_merge(*args)  # type: ignore[arg-type]

        monkeypatch.setattr(spec_loader, "_check_all", check)
        monkeypatch.setattr(spec_loader, "merge_results", merge)

    def load(self, folder: Path, cache_dir: Path | None = None) -> int:
        state = load_specs([folder], root=folder.parent, cache_dir=cache_dir)
        return state.record_count


def _most(seen: Iterable[int]) -> int:
    return max(seen, default=0)


def test_a_file_checked_here_gives_up_its_models_before_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_specs(tmp_path / "specs", files=40)
    counter = _Counter(monkeypatch)
    assert counter.load(tmp_path / "specs") == 40 * PER_FILE
    assert len(counter.while_checking) == 40
    # The file just checked, and the one before until the loader moves on; never 40 files'.
    assert _most(counter.while_checking) <= 2 * PER_FILE, counter.while_checking
    assert counter.at_merge == [0]
    assert _live_models() == 0


def test_files_checked_by_workers_give_up_their_models_batch_by_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = 64
    _write_specs(tmp_path / "specs", files=files, padding=2_500)  # ~20 KB each
    size = sum(p.stat().st_size for p in (tmp_path / "specs").iterdir())
    assert size > PARALLEL_MIN_BYTES
    if fork_context() is None or _worker_count() < 2:  # another test's thread, or one core
        pytest.skip(f"no worker processes here: {[t.name for t in threading.enumerate()]}")
    counter = _Counter(monkeypatch)
    assert counter.load(tmp_path / "specs") == files * PER_FILE
    batch = files // (_worker_count() * 4) + 1  # parallel.check_all's batch size
    assert _most(counter.while_checking) <= (batch + 1) * PER_FILE, counter.while_checking
    assert counter.at_merge == [0]


def test_files_answered_by_the_cache_give_up_their_models_before_the_merge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs, cache_dir = tmp_path / "specs", tmp_path / ".reconciler" / "cache"
    _write_specs(specs, files=40)
    load_specs([specs], root=tmp_path, cache_dir=cache_dir)  # fills the per-file cache
    edited = specs / "000.yaml"  # the snapshot misses: 39 files come from the per-file cache
    edited.write_text(edited.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    counter = _Counter(monkeypatch)
    assert counter.load(specs, cache_dir) == 40 * PER_FILE
    assert len(counter.while_checking) == 1
    assert counter.at_merge == [0]
