"""The library engine (``reconciler.Workspace``) over real HTTP against the emulator on 127.0.0.1:
plan, check, apply and stop from Python, with nothing printed and nothing but callbacks."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import reconciler
from reconciler import (
    ApplyReport,
    ConfigError,
    Plan,
    RecordStatus,
    RefusedPlanError,
    StopSignal,
    UnsafePlanError,
    Workspace,
)
from reconciler.emulator import Faults, RunningEmulator

CONV = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
OTHER = "5d2f1a60-3b7e-4c1d-9a2b-6e8f0c4d7a19"


def _project(folder: Path, conversations: dict[str, list[dict[str, Any]]], **config: Any) -> Path:
    """reconciler.yaml and one spec file (JSON is YAML, so records are written as given)."""
    (folder / "specs").mkdir(parents=True, exist_ok=True)
    spec = json.dumps({"conversations": conversations}, indent=1)
    (folder / "specs" / "qa.yaml").write_text(spec, encoding="utf-8")
    (folder / "reconciler.yaml").write_text(json.dumps(config), encoding="utf-8")
    return folder


def _records(n: int, score: int = 70) -> list[dict[str, Any]]:
    return [{"externalId": f"qa-{i}", "label": f"L{i:03}", "score": score} for i in range(n)]


@pytest.fixture
def zelto(emulator: RunningEmulator) -> RunningEmulator:
    emulator.store.add_conversation(CONV)
    emulator.store.add_conversation(OTHER)
    return emulator


def _open(folder: Path, emulator: RunningEmulator, **kwargs: Any) -> Workspace:
    environ = {"ZELTO_API_KEY": emulator.zelto_api_key}
    return Workspace.load(folder, api_url=emulator.url, environ=environ, **kwargs)


def test_every_public_name_resolves() -> None:
    """The list itself is pinned by docs/library.md (tests/unit/test_library_docs.py)."""
    for name in reconciler.__all__:
        assert getattr(reconciler, name) is not None, name
    with pytest.raises(AttributeError):
        reconciler.NoSuchThing  # noqa: B018


def test_importing_the_package_does_not_load_the_http_stack() -> None:
    """``validate`` runs as a pre-commit hook through ``python -m reconciler``."""
    code = "import sys, reconciler; print(sorted(m for m in sys.modules if 'aiohttp' in m))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_plan_apply_and_plan_again_from_python_print_nothing(
    zelto: RunningEmulator, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    folder = _project(tmp_path, {CONV: _records(3), OTHER: _records(1)})
    seen: list[tuple[int, int]] = []
    with _open(folder, zelto) as workspace:
        plan = workspace.plan(progress=lambda done, total: seen.append((done, total)))
        assert isinstance(plan, Plan) and plan.summary.create == 4
        assert seen[0] == (0, 2) and seen[-1] == (2, 2)
        written: list[tuple[int, int]] = []
        report = workspace.apply(plan, progress=lambda done, total: written.append((done, total)))
        assert isinstance(report, ApplyReport) and report.ok
        assert report.summary.line() == "4 of 4 applied and verified"
        assert written[0] == (0, 4) and written[-1] == (4, 4)
        assert not workspace.plan().has_changes
    assert capfd.readouterr() == ("", "")


def test_check_is_the_preflight_and_apply_runs_it_too(
    zelto: RunningEmulator, tmp_path: Path
) -> None:
    for i in range(10):
        zelto.store.put_metric(CONV, label=f"L{i:03}", externalId=f"qa-{i}", score=10)
    folder = _project(tmp_path, {CONV: _records(10)}, apply={"maxUpdatePercent": 50})
    with _open(folder, zelto) as workspace:
        plan = workspace.plan()
        with pytest.raises(UnsafePlanError, match="10 of 10 existing managed records"):
            workspace.check(plan)
        with pytest.raises(UnsafePlanError):
            workspace.apply(plan)
        assert workspace.check(plan, force=True).summary.update == 10
        moved = plan.model_copy(update={"target": "production"})
        with pytest.raises(RefusedPlanError, match="made against target 'production'"):
            workspace.check(moved)
        assert workspace.apply(plan, force=True).ok


def test_a_stop_from_another_thread_ends_the_apply_with_its_reason(
    zelto: RunningEmulator, tmp_path: Path
) -> None:
    zelto.set_faults(Faults(latency_ms=30))
    folder = _project(tmp_path, {CONV: _records(40)})
    stop = StopSignal()

    def stop_after_a_few(done: int, total: int) -> None:
        if done == 4:
            threading.Thread(target=stop.request, args=("the deploy window closed",)).start()

    with _open(folder, zelto) as workspace:
        plan = workspace.plan()
        report = workspace.apply(plan, stop=stop, concurrency=2, progress=stop_after_a_few)
    assert report.stopped == "the deploy window closed"
    statuses = [r.status for r in report.records]
    assert 4 <= statuses.count(RecordStatus.NOT_VERIFIED) < 40
    assert RecordStatus.NOT_ATTEMPTED in statuses
    stored = len(zelto.store.list_metrics(CONV))
    assert stored == statuses.count(RecordStatus.NOT_VERIFIED)


def test_a_plain_event_already_set_writes_nothing(zelto: RunningEmulator, tmp_path: Path) -> None:
    folder = _project(tmp_path, {CONV: _records(2)})
    stop = threading.Event()
    stop.set()
    with _open(folder, zelto) as workspace:
        report = workspace.apply(workspace.plan(), stop=stop)
    assert report.stopped == "stopped by the caller"
    assert zelto.store.list_metrics(CONV) == []


def test_the_engine_runs_from_a_worker_thread(zelto: RunningEmulator, tmp_path: Path) -> None:
    folder = _project(tmp_path, {CONV: _records(2)})
    results: list[object] = []

    def work() -> None:
        with _open(folder, zelto) as workspace:
            results.append(workspace.apply(workspace.plan()).ok)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(timeout=60)
    assert results == [True]


def test_the_local_target_and_the_spec_cache_live_in_state_dir(tmp_path: Path) -> None:
    """A caller that plans a throw-away export of each commit keeps one emulator state."""
    state = tmp_path / "state"
    for commit in ("one", "two"):
        folder = _project(tmp_path / commit, {CONV: _records(1 if commit == "one" else 2)})
        with Workspace.load(folder, state_dir=state, environ={}) as workspace:
            assert workspace.target_name == "local"
            report = workspace.apply(workspace.plan())
            assert report.ok and report.summary.applied == 1  # "two" found commit one's record
        assert not (folder / ".reconciler").exists()
    assert (state / "local.sqlite").is_file() and (state / "cache").is_dir()


def test_errors_are_library_errors_not_exits(tmp_path: Path) -> None:
    folder = _project(tmp_path, {CONV: _records(1)})
    workspace = Workspace.load(folder, environ={})
    with pytest.raises(ConfigError, match="--offline needs --changed-since"):
        workspace.plan(offline=True)
    with pytest.raises(ConfigError, match="no token"):
        Workspace.load(folder, api_url="https://zelto.example", environ={}).plan()


def test_import_from_zelto_writes_specs_that_then_plan_clean(
    zelto: RunningEmulator, tmp_path: Path
) -> None:
    zelto.store.put_metric(CONV, label="Empathy", externalId="qa-e", score=80)
    folder = _project(tmp_path, {OTHER: _records(1)})
    with _open(folder, zelto) as workspace:
        with pytest.raises(ConfigError, match="'nope' is not a conversation id"):
            workspace.import_zelto(["nope"])
        report = workspace.import_zelto([CONV.upper()])
        assert report.asked == 1 and report.written and not report.errors
        assert (folder / "specs" / "imported" / "zelto" / f"{CONV}.yaml").is_file()
        plan = workspace.plan()
    assert plan.summary.noop == 1  # the imported record is already what Zelto holds


def test_the_engine_runs_where_an_event_loop_already_runs(
    zelto: RunningEmulator, tmp_path: Path
) -> None:
    """A notebook cell or an async service: asyncio.run cannot nest, the engine still works."""
    folder = _project(tmp_path, {CONV: _records(2)})

    async def inside_a_loop() -> bool:
        with _open(folder, zelto) as workspace:
            return workspace.apply(workspace.plan()).ok

    assert asyncio.run(inside_a_loop())
