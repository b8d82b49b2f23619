"""The spec cache in CI: a key from a CI secret makes a fresh runner warm, and a pull request from
a fork neither reads nor writes the cache (docs/security.md, "The spec cache in CI").

A *runner* here is what a fresh CI machine has: a new checkout (new inodes and times, so the
stat index does not match), an empty ``XDG_CACHE_HOME`` (no per-user key) and the cache folder
that ``actions/cache`` restored (a copy of the previous runner's). Warm means no spec file is
checked: the loader's ``_check_all`` is counted, as in test_cache.py.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import main
from reconciler.emulator import RunningEmulator
from reconciler.errors import ConfigError
from reconciler.spec import load_specs
from reconciler.spec import loader as spec_loader
from reconciler.spec.cache import ContentCache, cache_secret
from reconciler.spec.cachekey import (
    CACHE_KEY_ENV,
    ci_refusal,
    derive_key,
    hkdf_sha256,
    parse_cache_key,
)
from reconciler.spec.parallel import check_all

REPO = Path(__file__).resolve().parents[2]
KEY = secrets.token_hex(32)
OTHER_KEY = secrets.token_hex(32)
BASE = {"id": 1, "full_name": "acme/specs"}
FORK = {"id": 2, "full_name": "mallory/specs"}
#: Every spec file of the repository's example specs, as the loader names them.
ALL = ["specs/escalations.yaml", "specs/support-qa.yaml"]


class _Runner:
    """A fresh CI runner: its own checkout, its own empty XDG_CACHE_HOME, a restored cache."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch, restored: Path | None) -> None:
        self.root = root
        self.monkeypatch = monkeypatch
        shutil.copytree(REPO / "specs", root / "specs")
        shutil.copy(REPO / "reconciler.yaml", root / "reconciler.yaml")
        self.cache = root / ".reconciler" / "cache"
        if restored is not None:  # what actions/cache restores: the previous runner's folder
            shutil.copytree(restored, self.cache)
        (root / "xdg").mkdir()
        self.env = {"XDG_CACHE_HOME": str(root / "xdg")}

    def load(self, **env: str) -> list[str]:
        """Load the specs in this runner with ``env``; the files that were checked (parsed)."""
        for name in (CACHE_KEY_ENV, "GITHUB_ACTIONS", "GITHUB_EVENT_NAME", "GITHUB_EVENT_PATH"):
            self.monkeypatch.delenv(name, raising=False)
        for name, value in {**self.env, **env}.items():
            self.monkeypatch.setenv(name, value)
        checked: list[str] = []

        def counting(sources: list[tuple[str, bytes]], max_bytes: int) -> object:
            checked.extend(display for display, _data in sources)
            return check_all(sources, max_bytes)

        self.monkeypatch.setattr(spec_loader, "_check_all", counting)
        load_specs([self.root / "specs"], root=self.root, cache_dir=self.cache)
        return checked

    def stores(self) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in sorted(self.cache.glob("*.jsonl"))}


def _event(tmp_path: Path, head: object, name: str = "pull_request") -> dict[str, str]:
    """The environment GitHub Actions gives a step of a ``name`` event from ``head``."""
    path = tmp_path / f"event-{secrets.token_hex(4)}.json"
    pull = {"number": 7, "head": {"repo": head}, "base": {"repo": BASE}}
    path.write_text(json.dumps({"pull_request": pull}), encoding="utf-8")
    return {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": name, "GITHUB_EVENT_PATH": str(path)}


@pytest.fixture
def first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> _Runner:
    """The main branch's run: cold, with the CI key; its cache folder is what the next restores."""
    runner = _Runner(tmp_path / "main", monkeypatch, None)
    assert runner.load(**{CACHE_KEY_ENV: KEY}) != []
    assert runner.stores()
    return runner


def test_the_ci_key_makes_a_fresh_runner_warm(
    first: _Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warm = _Runner(tmp_path / "next", monkeypatch, first.cache)
    assert warm.load(**{CACHE_KEY_ENV: KEY}) == []
    # The same, with the secret as pasted from `openssl rand -base64 32` (and its newline).
    again = _Runner(tmp_path / "again", monkeypatch, first.cache)
    as_base64 = base64.b64encode(bytes.fromhex(KEY)).decode() + "\n"
    assert again.load(**{CACHE_KEY_ENV: as_base64}) == []


def test_without_the_key_a_fresh_runner_is_cold(
    first: _Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control, and the reason for the CI key: the per-user key of a new machine is new."""
    cold = _Runner(tmp_path / "next", monkeypatch, first.cache)
    assert sorted(cold.load()) == ALL
    assert cold.load() == []  # its own key file now exists: warm on the same machine


def test_another_key_misses_every_line(
    first: _Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rotated key (or lines forged without it) is a miss, then the cache is filled again."""
    rotated = _Runner(tmp_path / "next", monkeypatch, first.cache)
    checked = rotated.load(**{CACHE_KEY_ENV: OTHER_KEY})
    assert sorted(checked) == ALL
    assert rotated.load(**{CACHE_KEY_ENV: OTHER_KEY}) == []


def test_the_raw_secret_is_not_the_hmac_key(tmp_path: Path) -> None:
    """Lines written under the raw bytes do not pass under the derived key, nor the reverse."""
    raw = parse_cache_key(KEY)
    store = ContentCache(tmp_path, "specs", "v1", secret=raw)
    store.put("k", 1)
    store.save()
    assert ContentCache(tmp_path, "specs", "v1", secret=derive_key(raw)).get("k") is None
    assert derive_key(raw) != raw and len(derive_key(raw)) == 32


def test_hkdf_matches_rfc_5869() -> None:
    """Test case 1 of RFC 5869 (the first 32 bytes of its OKM are the first block)."""
    okm = hkdf_sha256(bytes(range(13)), b"\x0b" * 22, bytes(range(0xF0, 0xFA)))
    assert okm.hex() == "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("abc123", "it holds 3 bytes"),
        (bytes(range(31)).hex(), "it holds 31 bytes"),
        ("correct horse battery staple" * 3, "neither hex nor base64"),
        ("ab" * 40, "repeat a pattern"),
        ("a" * 2000, "longer than 1024 characters"),
    ],
)
def test_a_malformed_key_is_refused_without_showing_it(value: str, why: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_cache_key(value)
    message = str(caught.value)
    assert message.startswith(f"{CACHE_KEY_ENV} is not a usable cache key: ") and why in message
    assert "openssl rand -hex 32" in message
    assert value not in message and value[:8] not in message


def _cli(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The installed command in a real process, as a CI step runs it."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RECONCILER_"))}
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        cwd=project,
        env={**clean, "XDG_CACHE_HOME": str(project / "xdg"), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copy(REPO / "reconciler.yaml", tmp_path / "reconciler.yaml")
    shutil.copytree(REPO / "specs", tmp_path / "specs")
    return tmp_path


def test_validate_with_a_malformed_key_exits_1_naming_the_variable(project: Path) -> None:
    secret_ish = "hunter2hunter2"
    done = _cli(project, "validate", **{CACHE_KEY_ENV: secret_ish})
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: {CACHE_KEY_ENV} is not a usable cache key")
    assert secret_ish not in done.stdout + done.stderr
    assert _cli(project, "validate", **{CACHE_KEY_ENV: KEY}).returncode == 0


def test_plan_with_a_malformed_key_exits_1_naming_the_variable(
    project: Path, monkeypatch: pytest.MonkeyPatch, emulator: RunningEmulator
) -> None:
    monkeypatch.chdir(project)
    monkeypatch.setenv(CACHE_KEY_ENV, "0123456789abcdef")
    monkeypatch.setenv("ZELTO_API_KEY", emulator.zelto_api_key)
    result = CliRunner().invoke(main, ["plan", "--api-url", emulator.url])
    assert result.exit_code == 1
    assert f"error: {CACHE_KEY_ENV} is not a usable cache key: it holds 8 bytes" in result.stderr
    assert "0123456789abcdef" not in result.output + result.stderr


def test_a_fork_pull_request_neither_reads_nor_writes_the_cache(
    first: _Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fork = _Runner(tmp_path / "fork", monkeypatch, first.cache)
    restored = fork.stores()
    checked = fork.load(**{CACHE_KEY_ENV: KEY}, **_event(tmp_path, FORK))
    assert sorted(checked) == ALL  # not read
    assert fork.stores() == restored  # not written
    empty = _Runner(tmp_path / "fork-cold", monkeypatch, None)
    empty.load(**{CACHE_KEY_ENV: KEY}, **_event(tmp_path, FORK, "pull_request_target"))
    assert empty.stores() == {}


def test_a_same_repository_pull_request_reads_the_cache(
    first: _Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What main wrote is trusted by a pull request of the same repository: its lines need the
    key, which only the repository's own workflows have (see docs/security.md)."""
    branch = _Runner(tmp_path / "branch", monkeypatch, first.cache)
    assert branch.load(**{CACHE_KEY_ENV: KEY}, **_event(tmp_path, BASE)) == []


def _pull(head: object) -> dict[str, object]:
    return {"pull_request": {"head": {"repo": head}, "base": {"repo": BASE}}}


def _run_of(event: str, head: object) -> dict[str, object]:
    return {"workflow_run": {"event": event, "head_repository": head}, "repository": BASE}


@pytest.mark.parametrize(
    ("event", "payload", "refused"),
    [
        ("pull_request", _pull(FORK), True),
        ("pull_request", _pull(BASE), False),
        ("pull_request_target", _pull(FORK), True),
        ("pull_request_review", _pull(FORK), True),
        ("pull_request", _pull(None), True),  # the fork was deleted
        ("pull_request", _pull({**BASE, "full_name": "acme/old"}), False),  # renamed: same id
        ("pull_request", _pull({"full_name": "acme/specs"}), False),  # no ids: by name
        ("workflow_run", _run_of("pull_request", FORK), True),
        ("workflow_run", _run_of("push", BASE), False),
        ("pull_request", [], True),  # not a payload at all: cannot tell, so refused
        ("push", {}, False),
    ],
)
def test_which_github_events_are_refused(
    tmp_path: Path, event: str, payload: object, refused: bool
) -> None:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    env = {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": event, "GITHUB_EVENT_PATH": str(path)}
    assert (ci_refusal(env) is not None) == refused


def test_an_unreadable_event_refuses_the_cache(tmp_path: Path) -> None:
    env = {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "pull_request"}
    missing = {**env, "GITHUB_EVENT_PATH": str(tmp_path / "missing.json")}
    assert "cannot be read" in (ci_refusal(env) or "")
    assert "cannot be read" in (ci_refusal(missing) or "")
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    assert ci_refusal({**env, "GITHUB_EVENT_PATH": str(tmp_path / "bad.json")}) is not None
    assert ci_refusal({"GITHUB_EVENT_NAME": "pull_request"}) is None  # not on GitHub Actions


def test_a_gitlab_merge_request_from_a_fork_is_refused() -> None:
    env = {"GITLAB_CI": "true", "CI_MERGE_REQUEST_PROJECT_ID": "10"}
    assert ci_refusal({**env, "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": "11"}) is not None
    assert ci_refusal({**env, "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": "10"}) is None


def test_the_fork_note_is_shown_once_and_the_run_succeeds(project: Path) -> None:
    head = {"id": 2, "full_name": "mallory/specs"}
    env = _event(project, head)
    done = _cli(project, "validate", **env, **{CACHE_KEY_ENV: KEY})
    assert done.returncode == 0, done.stderr
    note = (
        "note: the spec cache is off for this run: a pull request from a fork (mallory/specs) "
        "is not trusted with the spec cache; every spec file is parsed"
    )
    assert done.stderr.splitlines() == [note]
    assert not list((project / ".reconciler" / "cache").glob("*.jsonl"))


def test_cache_secret_is_the_one_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Env key wins over the key file; a fork wins over both."""
    monkeypatch.setenv(CACHE_KEY_ENV, KEY)
    assert cache_secret() == derive_key(bytes.fromhex(KEY))
    for name, value in _event(tmp_path, FORK).items():
        monkeypatch.setenv(name, value)
    assert cache_secret() is None
