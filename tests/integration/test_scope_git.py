"""``--changed-since`` on a scripted git history: real ``git`` in a temporary repository."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.errors import Location
from reconciler.plan.model import Action
from reconciler.plan.offline import offline_plan
from reconciler.spec import load_specs
from reconciler.spec.delta import RemovedRecord
from reconciler.spec.history import ChangeScope, GitError, changed_conversations

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

C1 = "11111111-1111-4111-8111-111111111111"
C2 = "22222222-2222-4222-8222-222222222222"
C3 = "33333333-3333-4333-8333-333333333333"
C4 = "44444444-4444-4444-8444-444444444444"
C5 = "55555555-5555-4555-8555-555555555555"
METRIC_A = "0b6a1c1e-5f7d-4c1a-9b1e-2f4d8c9e7a10"
METRIC_B = "9a6a1c1e-5f7d-4c1a-9b1e-2f4d8c9e7a11"

CATALOG = f"""labels:
  Compliance: {{metricId: {METRIC_A}, kind: verdict}}
  Empathy: {{kind: score}}
  Tone: {{kind: score}}
"""

TEAM_A = f"""conversations:
  {C1}:
    - {{externalId: qa-1, label: Compliance, verdict: pass}}
    - {{externalId: qa-2, label: Empathy, score: 80}}
  {C2}:
    - {{externalId: qa-3, label: Empathy, score: 60}}
"""

TEAM_B = f"""conversations:
  {C3}:
    - {{externalId: qa-4, label: Tone, score: 50}}
  {C4}:
    - {{externalId: qa-5, label: Compliance, verdict: fail}}
    - {{externalId: qa-6, label: Tone, score: 10}}
"""


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def _write(repo: Path, name: str, text: str) -> None:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _commit(repo: Path, message: str) -> str:
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message)
    return _git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "estate"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "ci@example.com")
    _git(repo, "config", "user.name", "CI")
    _git(repo, "config", "commit.gpgsign", "false")
    _write(repo, "specs/catalog.yaml", CATALOG)
    _write(repo, "specs/team-a.yaml", TEAM_A)
    _write(repo, "specs/team-b.yaml", TEAM_B)
    _write(repo, "README.md", "not a spec\n")
    _commit(repo, "base")
    _git(repo, "tag", "base")
    return repo


def _scope(repo: Path, ref: str = "base", paths: tuple[str, ...] = ("specs",)) -> ChangeScope:
    return changed_conversations(repo, ref, [repo / p for p in paths])


def test_nothing_changed_means_nothing_to_plan(repo: Path) -> None:
    _write(repo, "README.md", "docs changed, specs did not\n")
    _commit(repo, "docs")
    scope = _scope(repo)
    assert scope.conversations == frozenset()
    assert scope.removed == ()
    assert scope.changed_files == ()
    assert len(scope.commit) == 40


def test_selects_exactly_the_touched_conversations(repo: Path) -> None:
    # Committed on the branch: C2's score changes.
    _write(repo, "specs/team-a.yaml", TEAM_A.replace("score: 60", "score: 65"))
    _commit(repo, "tune C2")
    # Uncommitted: C3 loses its record, C4 loses one of two; a new untracked file adds C5.
    _write(
        repo,
        "specs/team-b.yaml",
        TEAM_B.replace(
            f"  {C3}:\n    - {{externalId: qa-4, label: Tone, score: 50}}\n", ""
        ).replace("    - {externalId: qa-6, label: Tone, score: 10}\n", ""),
    )
    c5 = f"conversations:\n  {C5}:\n    - {{externalId: qa-7, label: Tone, score: 99}}\n"
    _write(repo, "specs/new/c5.yaml", c5)
    scope = _scope(repo)
    assert scope.conversations == {C2, C4, C5}
    assert scope.changed_files == (
        "specs/new/c5.yaml",
        "specs/team-a.yaml",
        "specs/team-b.yaml",
    )
    assert scope.removed == (
        RemovedRecord(C3, "qa-4", "Tone", Location("base:specs/team-b.yaml", 3, 7)),
        RemovedRecord(C4, "qa-6", "Tone", Location("base:specs/team-b.yaml", 6, 7)),
    )
    assert scope.label == "changed since base"


def test_moving_records_between_files_is_not_a_change(repo: Path) -> None:
    _write(repo, "specs/team-a.yaml", "")
    _write(repo, "specs/moved/team-a.yaml", TEAM_A)
    _commit(repo, "reorganise")
    scope = _scope(repo)
    assert scope.changed_files == ("specs/moved/team-a.yaml", "specs/team-a.yaml")
    assert scope.conversations == frozenset()
    assert scope.removed == ()


def test_a_catalog_edit_touches_every_conversation_with_the_label(repo: Path) -> None:
    _write(repo, "specs/catalog.yaml", CATALOG.replace(METRIC_A, METRIC_B))
    scope = _scope(repo)
    assert scope.changed_files == ("specs/catalog.yaml",)
    assert scope.conversations == {C1, C4}  # the two conversations with a Compliance record


def test_files_outside_the_spec_paths_and_hidden_folders_are_ignored(repo: Path) -> None:
    _write(repo, "other/team-x.yaml", "not: [a, spec")
    _write(repo, "specs/.drafts/wip.yaml", "conversations: {broken")
    scope = _scope(repo)
    assert scope.changed_files == ()
    assert scope.conversations == frozenset()


def test_a_range_of_commits_is_compared_as_a_whole(repo: Path) -> None:
    _write(repo, "specs/team-a.yaml", TEAM_A.replace("score: 80", "score: 81"))
    _commit(repo, "step 1")
    _write(repo, "specs/team-a.yaml", TEAM_A)
    _commit(repo, "step 2: back to where it was")
    assert _scope(repo).conversations == frozenset()
    assert _scope(repo, "HEAD~1").conversations == {C1}


def test_broken_specs_at_ref_plan_everything_and_say_so(repo: Path) -> None:
    _write(repo, "specs/team-a.yaml", TEAM_A.replace("score: 80", "score: 800"))
    _commit(repo, "broken on main")
    _git(repo, "tag", "broken")
    _write(repo, "specs/team-a.yaml", TEAM_A)
    scope = _scope(repo, "broken")
    assert scope.conversations == {C1, C2, C3, C4}
    assert "do not load" in scope.note


@pytest.mark.parametrize(
    ("ref", "message"),
    [("no-such-branch", "unknown git ref 'no-such-branch'"), ("--output=x", "is not a git ref")],
)
def test_unknown_ref_is_a_clear_error(repo: Path, ref: str, message: str) -> None:
    with pytest.raises(GitError, match=message):
        _scope(repo, ref)


def test_not_a_repository_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "specs").mkdir()
    with pytest.raises(GitError, match="needs a git repository"):
        changed_conversations(tmp_path, "main", [tmp_path / "specs"])


def test_spec_path_outside_the_repository(repo: Path, tmp_path: Path) -> None:
    with pytest.raises(GitError, match="outside the git repository"):
        changed_conversations(repo, "base", [tmp_path])


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("offline mode opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    yield


def test_offline_plan_from_git_needs_no_network(repo: Path, no_network: None) -> None:
    _write(repo, "specs/team-a.yaml", TEAM_A.replace("score: 80", "score: 90"))
    _write(
        repo,
        "specs/team-b.yaml",
        TEAM_B.replace(f"  {C3}:\n    - {{externalId: qa-4, label: Tone, score: 50}}\n", ""),
    )
    current = load_specs([repo / "specs"], root=repo)
    scope = changed_conversations(repo, "base", [repo / "specs"], current=current)
    assert scope.before is not None
    plan = offline_plan(scope.before, current, ref=scope.ref)
    assert plan.offline
    changes = {(c.id, ch.external_id): ch.action for c in plan.conversations for ch in c.changes}
    assert changes == {(C1, "qa-2"): Action.UPDATE, (C3, "qa-4"): Action.ORPHAN}
    assert plan.summary.noop == 1  # C1's untouched Compliance record


def test_specs_in_a_subfolder_of_the_repository(repo: Path) -> None:
    sub = repo / "teams" / "qa"
    (sub / "specs").mkdir(parents=True)
    (repo / "specs" / "team-a.yaml").rename(sub / "specs" / "team-a.yaml")
    _commit(repo, "move team A under teams/qa")
    _write(sub, "specs/team-a.yaml", TEAM_A.replace("score: 60", "score: 61"))
    scope = changed_conversations(sub, "HEAD", [sub / "specs"])
    assert scope.changed_files == ("teams/qa/specs/team-a.yaml",)
    assert scope.conversations == {C2}


def test_many_changed_files_with_unusual_names_are_read_at_ref(repo: Path) -> None:
    names = [f"specs/équipe {i}.yaml" for i in range(30)]
    for i, name in enumerate(names):
        cid = f"{i:08x}-0000-4000-8000-000000000000"
        _write(
            repo,
            name,
            f"conversations:\n  {cid}:\n    - {{externalId: x-{i}, label: Tone, score: 1}}\n",
        )
    _commit(repo, "thirty files")
    for name in names[::3]:
        _write(
            repo, name, (repo / name).read_text(encoding="utf-8").replace("score: 1", "score: 2")
        )
    scope = _scope(repo, "HEAD")
    assert scope.changed_files == tuple(sorted(names[::3]))
    assert scope.conversations == {f"{i:08x}-0000-4000-8000-000000000000" for i in range(0, 30, 3)}
