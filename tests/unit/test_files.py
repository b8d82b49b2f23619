"""reconciler.files: what may be read as input and where the tool may write (issue 12, items 5-8).

Each test plants what a hostile repository or another local user could plant: symlinks out of
the project, FIFOs, devices, a cache key file of another owner.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from reconciler.files import (
    FileRefusedError,
    UnsafePathError,
    ensure_state_dir,
    read_regular,
    writable_target,
    write_atomically,
)
from reconciler.spec.cache import ContentCache, user_secret

AS_ROOT = os.geteuid() == 0


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "x.yaml"
    os.mkfifo(fifo)
    done: list[BaseException] = []

    def read() -> None:
        try:
            read_regular(fifo, 1000)
        except BaseException as exc:  # handed to the main thread to assert on
            done.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(5)
    assert not reader.is_alive(), "opening a FIFO blocked"
    assert isinstance(done[0], FileRefusedError)
    assert "named pipe" in str(done[0])


def test_a_symlink_to_a_device_is_refused_before_reading(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").symlink_to("/dev/zero")
    with pytest.raises(FileRefusedError, match="character device"):
        read_regular(tmp_path / "x.yaml", 1000)


def test_the_size_cap_holds_while_reading(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes(b"a" * 1001)
    with pytest.raises(FileRefusedError, match="the limit is 1,000 bytes"):
        read_regular(path, 1000)
    path.write_bytes(b"a" * 1000)
    data, found = read_regular(path, 1000)
    assert data == b"a" * 1000 and found.st_size == 1000


@pytest.mark.parametrize("link", ["out", "out/sub"])
def test_a_symlink_anywhere_below_the_project_is_refused(tmp_path: Path, link: str) -> None:
    project, outside = tmp_path / "project", tmp_path / "outside"
    project.mkdir()
    outside.mkdir()
    (project / link).parent.mkdir(parents=True, exist_ok=True)
    (project / link).symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePathError, match="is a symbolic link"):
        write_atomically(project / "out" / "sub" / "a.yaml", "x", root=project)
    assert list(outside.iterdir()) == []


def test_a_target_outside_the_project_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsafePathError, match="outside the project folder"):
        writable_target(tmp_path / "project" / ".." / "a.yaml", tmp_path / "project")


def test_a_symlinked_target_is_refused_even_without_a_project(tmp_path: Path) -> None:
    (tmp_path / "real").write_text("keep")
    (tmp_path / "plan.json").symlink_to(tmp_path / "real")
    with pytest.raises(UnsafePathError, match="symbolic link"):
        write_atomically(tmp_path / "plan.json", "new")
    assert (tmp_path / "real").read_text() == "keep"


def test_the_atomic_write_keeps_the_mode_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b.yaml"
    write_atomically(path, "one", root=tmp_path)
    assert path.read_text() == "one" and path.stat().st_mode & 0o777 == 0o644
    path.chmod(0o640)
    write_atomically(path, b"two", root=tmp_path)
    assert path.read_text() == "two" and path.stat().st_mode & 0o777 == 0o640
    write_atomically(path, "three", private=True)
    assert path.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["b.yaml"]


def test_the_state_folder_is_created_and_checked(tmp_path: Path) -> None:
    state = tmp_path / ".reconciler"
    assert ensure_state_dir(state, "cache") == state / "cache"
    assert (state / "cache").is_dir()
    (state / "cache").chmod(0o777)
    with pytest.raises(UnsafePathError, match="writable by every user"):
        ensure_state_dir(state, "cache")


@pytest.mark.parametrize("level", [".reconciler", ".reconciler/cache"])
def test_a_symlinked_state_folder_is_refused(tmp_path: Path, level: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    project = tmp_path / "project"
    (project / level).parent.mkdir(parents=True, exist_ok=True)
    (project / level).symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePathError, match=r"is a symbolic link .*rm -r"):
        ensure_state_dir(project / ".reconciler", "cache")


@pytest.mark.skipif(not AS_ROOT, reason="chown to another user needs root")
def test_a_state_folder_of_another_owner_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / ".reconciler"
    folder.mkdir()
    os.chown(folder, 12345, 12345)
    with pytest.raises(UnsafePathError, match="owned by user id 12345, not you"):
        ensure_state_dir(folder)


def _key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert user_secret() is not None  # made, 0600, ours
    return tmp_path / "xdg" / "reconciler" / "cache.key"


def test_a_world_writable_key_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 12 item 7: a key another user could have written authenticates their forgeries."""
    key = _key(tmp_path, monkeypatch)
    key.chmod(0o666)
    with pytest.raises(UnsafePathError, match="mode 0666; it must be 0600"):
        ContentCache(tmp_path / "cache", "specs", "v1")
    key.chmod(0o600)
    assert user_secret() == key.read_bytes()


@pytest.mark.skipif(not AS_ROOT, reason="chown to another user needs root")
def test_a_key_file_of_another_owner_is_refused_even_for_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = _key(tmp_path, monkeypatch)
    os.chown(key, 12345, 12345)
    with pytest.raises(UnsafePathError, match="owned by user id 12345, not you"):
        user_secret()


def test_a_symlinked_key_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = _key(tmp_path, monkeypatch)
    (tmp_path / "planted").write_bytes(key.read_bytes())
    key.unlink()
    key.symlink_to(tmp_path / "planted")
    with pytest.raises(UnsafePathError, match="symbolic link"):
        user_secret()
