"""``reconciler plan-merge`` end to end: shard plan files in, one plan (and exit code) out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import main
from reconciler.plan.fields import RecordFields
from reconciler.plan.merge import scope_label
from reconciler.plan.model import Action, Change, ConversationPlan, Plan
from reconciler.plan.shard import Shard, select_shard
from reconciler.render import PLAN_MARKER, render_json

IDS = [f"{n:08x}-0000-4000-8000-000000000000" for n in range(40)]


def _conversation(conversation_id: str, n: int, *, conflict: bool = False) -> ConversationPlan:
    after = RecordFields(label="Empathy", external_id=f"qa-{n}", score=n)
    action = Action.CONFLICT if conflict else Action.CREATE
    change = Change(action=action, label="Empathy", external_id=f"qa-{n}", after=after)
    return ConversationPlan(id=conversation_id, changes=(change,))


def _plan(ids: list[str], scope: str | None, *, conflict_on: str = "") -> Plan:
    conversations = [_conversation(i, n, conflict=i == conflict_on) for n, i in enumerate(ids)]
    return Plan.build(
        target="production", spec_digest="sha256:d", conversations=conversations, scope=scope
    )


def _write_shards(tmp_path: Path, count: int, *, conflict_on: str = "") -> list[str]:
    files = []
    for index in range(1, count + 1):
        ids = select_shard(IDS, index, count)
        plan = _plan(ids, scope_label("origin/main", Shard(index, count)), conflict_on=conflict_on)
        path = tmp_path / f"plan-{index}.json"
        path.write_text(render_json(plan), encoding="utf-8")
        files.append(str(path))
    return files


def _run(args: list[str]) -> Result:
    result = CliRunner().invoke(main, ["plan-merge", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


def test_merges_shards_into_one_saved_plan(tmp_path: Path) -> None:
    out = tmp_path / "merged.json"
    result = _run([*_write_shards(tmp_path, 3), "--format", "json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    merged = Plan.from_json_dict(json.loads(out.read_text(encoding="utf-8")))
    assert [c.id for c in merged.conversations] == sorted(IDS)
    assert merged.scope == "changed since origin/main"
    assert json.loads(result.stdout) == merged.to_json_dict()
    assert "saved the plan to" in result.stderr


def test_markdown_for_the_pull_request_comment(tmp_path: Path) -> None:
    result = _run([*_write_shards(tmp_path, 2), "--format", "markdown"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(PLAN_MARKER)
    assert "40" in result.output


def test_detailed_exitcode(tmp_path: Path) -> None:
    assert _run([*_write_shards(tmp_path, 2), "--detailed-exitcode"]).exit_code == 2
    empty = tmp_path / "empty.json"
    empty.write_text(render_json(_plan([], None)), encoding="utf-8")
    assert _run([str(empty), "--detailed-exitcode"]).exit_code == 0


def test_a_conflict_in_any_shard_fails_the_merged_plan(tmp_path: Path) -> None:
    result = _run(_write_shards(tmp_path, 4, conflict_on=IDS[7]))
    assert result.exit_code == 1
    assert "conflict" in result.output


def test_a_missing_shard_is_an_error(tmp_path: Path) -> None:
    files = _write_shards(tmp_path, 4)
    result = _run(files[:2] + files[3:])
    assert result.exit_code == 1
    assert "missing shard plans: 3/4" in result.output


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "no such plan file"),
        (b"{not json", "not JSON"),
        (b'{"formatVersion": 99}', "formatVersion 99 is not supported"),
        (b"[1, 2]", "not a reconciler plan"),
    ],
    ids=["missing", "not-json", "version", "not-object"],
)
def test_bad_plan_files_are_clear_errors(
    tmp_path: Path, content: bytes | None, expected: str
) -> None:
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_bytes(content)
    result = _run([str(path)])
    assert result.exit_code == 1
    assert expected in result.output
    assert str(path) in result.output


def test_needs_at_least_one_file() -> None:
    result = _run([])
    # 1, not click's usual 2: with --detailed-exitcode, 2 means "changes to apply".
    assert result.exit_code == 1
    assert "PLAN_FILES" in result.output
