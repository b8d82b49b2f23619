"""The applier: preflight checks offline (real planner output), then writes, read-back, stopping
and failures over real HTTP against the emulator."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest

from reconciler.applier import (
    Applier,
    ApplyReport,
    RecordResult,
    RecordStatus,
    RefusedPlanError,
    apply_report_json_schema,
    prepare,
)
from reconciler.config.sections import ApplySettings
from reconciler.emulator import Faults, RunningEmulator
from reconciler.errors import AuthError, Location, StalePlanError, UnsafePlanError
from reconciler.model import DeclaredRecord, DesiredState, MetricRecord, RemoteRecord
from reconciler.plan.model import Action, Plan
from reconciler.plan.planner import ConversationState, CurrentState, make_plan
from reconciler.remote.http import Endpoint, HttpSession, HttpSettings, Secret
from reconciler.remote.zelto import ZeltoClient

CONV_A = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
CONV_B = "5d2f1a60-3b7e-4c1d-9a2b-6e8f0c4d7a19"
AGENT = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


def _declared(conversation: str, label: str, ext: str, **fields: Any) -> DeclaredRecord:
    record = MetricRecord.model_validate({"label": label, "externalId": ext, **fields})
    return DeclaredRecord.of(conversation, record, Location("specs/qa.yaml", 3))


def _desired(*records: DeclaredRecord) -> DesiredState:
    by_conv: dict[str, list[DeclaredRecord]] = {}
    for item in records:
        by_conv.setdefault(item.conversation_id, []).append(item)
    return DesiredState(
        conversations={c: tuple(items) for c, items in by_conv.items()}, spec_digest="sha256:s"
    )


def _remote(conversation: str, label: str, ext: str | None, **fields: Any) -> RemoteRecord:
    return RemoteRecord.model_validate(
        {
            "id": f"r-{label}",
            "organizationId": "org",
            "conversationId": conversation,
            "agentId": AGENT,
            "label": label,
            "source": "api",
            "createdAt": "2026-01-01T00:00:00Z",
            "updatedAt": "2026-01-01T00:00:00Z",
            "externalId": ext,
            **fields,
        }
    )


def _current(*records: RemoteRecord, conversations: tuple[str, ...] = ()) -> CurrentState:
    states: dict[str, list[RemoteRecord]] = {c: [] for c in conversations}
    for record in records:
        states.setdefault(record.conversation_id, []).append(record)
    return CurrentState({c: ConversationState(records=tuple(rs)) for c, rs in states.items()})


def _plan(desired: DesiredState, current: CurrentState, **kwargs: Any) -> Plan:
    return make_plan(desired, current, target="local", **kwargs)


# --- preflight (offline) ---------------------------------------------------------------------


def test_a_plan_for_another_target_is_refused() -> None:
    plan = _plan(
        _desired(_declared(CONV_A, "Empathy", "qa-1", score=80)), _current(conversations=(CONV_A,))
    )
    with pytest.raises(
        RefusedPlanError, match="made against target 'local' but this apply goes to 'prod'"
    ):
        prepare(plan, target="prod", settings=ApplySettings())


def test_conflicts_block_unless_adopted() -> None:
    desired = _desired(_declared(CONV_A, "Empathy", "qa-1", score=80))
    plan = _plan(desired, _current(_remote(CONV_A, "Empathy", "someone-else", score=10)))
    assert plan.summary.conflict == 1
    with pytest.raises(RefusedPlanError, match=rf"1 conflict.*{CONV_A}.*'Empathy'.*--adopt"):
        prepare(plan, target="local", settings=ApplySettings())
    adopted = prepare(plan, target="local", settings=ApplySettings(), adopt=True)
    assert [c.action for _, c in adopted.writes()] == [Action.ADOPT]
    assert adopted.summary.adopt == 1 and adopted.summary.conflict == 0


def test_plan_errors_block_the_apply() -> None:
    desired = _desired(_declared(CONV_A, "Empathy", "qa-1", score=80))
    current = CurrentState({CONV_A: ConversationState(error="HTTP 404: unknown conversation")})
    plan = _plan(desired, current)
    refusal = rf"1 conversation\(s\) could not be read.*first: conversation {CONV_A}: HTTP 404"
    with pytest.raises(RefusedPlanError, match=refusal):
        prepare(plan, target="local", settings=ApplySettings())


def test_the_refusal_names_every_unread_conversation_and_how_to_retry() -> None:
    ids = [f"00000000-0000-4000-8000-{i:012}" for i in range(12)]
    desired = _desired(*(_declared(cid, "Empathy", "qa-1", score=80) for cid in ids))
    unreadable = ConversationState(error="HTTP 503 Service Unavailable (after 9 attempts)")
    plan = _plan(desired, CurrentState(dict.fromkeys(ids, unreadable)))
    with pytest.raises(RefusedPlanError) as refused:
        prepare(plan, target="local", settings=ApplySettings())
    message = str(refused.value)
    assert all(cid in message for cid in ids[:10]) and ids[10] not in message
    assert "12 conversation(s) could not be read" in message and "and 2 more" in message
    assert "run the same command again" in message and "plan.retrySeconds" in message


def _updates(total: int, changed: int) -> Plan:
    records = [
        _declared(CONV_A, f"L{i:02}", f"qa-{i}", score=90 if i < changed else 50)
        for i in range(total)
    ]
    remote = [_remote(CONV_A, f"L{i:02}", f"qa-{i}", score=50) for i in range(total)]
    return _plan(_desired(*records), _current(*remote))


def test_the_safety_threshold_says_by_how_much_and_force_passes() -> None:
    plan = _updates(total=20, changed=12)
    assert (plan.existing_managed, plan.summary.update) == (20, 12)
    with pytest.raises(UnsafePlanError) as caught:
        prepare(plan, target="local", settings=ApplySettings())
    message = str(caught.value)
    assert "12 of 20" in message and "60.0 %" in message
    assert "by 30.0 points (6 record(s) too many)" in message and "--force" in message
    assert prepare(plan, target="local", settings=ApplySettings(), force=True).summary.update == 12


def test_the_threshold_allows_its_limit_and_small_sets() -> None:
    prepare(_updates(total=20, changed=6), target="local", settings=ApplySettings())
    prepare(_updates(total=9, changed=9), target="local", settings=ApplySettings())


def test_creates_do_not_count_towards_the_threshold() -> None:
    records = [_declared(CONV_A, f"L{i:02}", f"qa-{i}", score=50) for i in range(40)]
    remote = [_remote(CONV_A, f"L{i:02}", f"qa-{i}", score=50) for i in range(10)]
    plan = _plan(_desired(*records), _current(*remote))
    assert plan.summary.create == 30
    prepare(plan, target="local", settings=ApplySettings())


def test_masked_values_are_restored_from_the_specs() -> None:
    desired = _desired(_declared(CONV_A, "Empathy", "qa-1", score=80, note="private"))
    saved = Plan.from_json_dict(
        json.loads(
            json.dumps(
                _plan(desired, _current(conversations=(CONV_A,)), sensitive=["note"]).to_json_dict()
            )
        )
    )
    assert "private" not in json.dumps(saved.to_json_dict())
    ready = prepare(saved, target="local", settings=ApplySettings(), desired=desired)
    ((_, change),) = ready.writes()
    assert change.after is not None
    assert change.after.post_body() == {
        "label": "Empathy",
        "externalId": "qa-1",
        "score": 80,
        "note": "private",
    }


def test_a_changed_secret_refuses_the_saved_plan() -> None:
    original = _desired(_declared(CONV_A, "Empathy", "qa-1", score=80, note="private"))
    saved = _plan(original, _current(conversations=(CONV_A,)), sensitive=["note"])
    edited = _desired(_declared(CONV_A, "Empathy", "qa-1", score=80, note="edited"))
    with pytest.raises(RefusedPlanError, match="sensitive field note no longer matches") as caught:
        prepare(saved, target="local", settings=ApplySettings(), desired=edited)
    assert "edited" not in str(caught.value) and "private" not in str(caught.value)
    with pytest.raises(RefusedPlanError, match="no longer declared"):
        prepare(saved, target="local", settings=ApplySettings(), desired=_desired())
    with pytest.raises(RefusedPlanError, match="needs the specs"):
        prepare(saved, target="local", settings=ApplySettings())


def test_offline_plans_are_never_applied() -> None:
    plan = _plan(
        _desired(_declared(CONV_A, "Empathy", "qa-1", score=80)), _current(conversations=(CONV_A,))
    )
    offline = Plan.build(
        target="local", spec_digest=plan.spec_digest, conversations=plan.conversations, offline=True
    )
    with pytest.raises(RefusedPlanError, match="offline"):
        prepare(offline, target="local", settings=ApplySettings())


def test_report_counts_sorts_and_matches_its_schema() -> None:
    def result(cid: str, label: str, status: RecordStatus) -> RecordResult:
        return RecordResult(conversation_id=cid, label=label, action=Action.CREATE, status=status)

    report = ApplyReport(
        target="local",
        spec_digest="sha256:s",
        records=(result("b", "X", RecordStatus.APPLIED), result("a", "Y", RecordStatus.FAILED)),
    )
    assert [r.conversation_id for r in report.records] == ["a", "b"]
    assert (report.summary.planned, report.summary.applied, report.summary.failed) == (2, 1, 1)
    assert not report.ok
    assert report.summary.line() == "1 of 2 applied and verified, 1 failed"
    jsonschema.validate(report.to_json_dict(), apply_report_json_schema())


# --- writes, read-back and stopping, over real HTTP against the emulator ---------------------

FAST = HttpSettings(concurrency=4, max_attempts=8, backoff_base_seconds=0.01, timeout_seconds=5)


def _client_run(
    emulator: RunningEmulator,
    plan: Plan,
    *,
    settings: HttpSettings = FAST,
    token: str | None = None,
    check_fresh: bool = True,
    on_result: Callable[[RecordResult, Applier], None] | None = None,
    rng: random.Random | None = None,
) -> ApplyReport:
    endpoint = Endpoint(emulator.url, Secret(token or emulator.zelto_api_key), name="local")

    async def go() -> ApplyReport:
        async with HttpSession(endpoint, settings, rng=rng) as session:
            applier = Applier(ZeltoClient(session), check_fresh=check_fresh)
            if on_result is not None:
                applier.on_result = lambda result: on_result(result, applier)
            return await applier.run(plan)

    return asyncio.run(go())


def _read_plan(emulator: RunningEmulator, desired: DesiredState) -> Plan:
    current = {
        cid: ConversationState(
            records=tuple(RemoteRecord.model_validate(r) for r in emulator.store.list_metrics(cid))
        )
        for cid in desired.conversations
    }
    return make_plan(desired, CurrentState(current), target="local")


def _posts(emulator: RunningEmulator) -> int:
    return sum(n for (method, _), n in emulator.request_counts().items() if method == "POST")


@pytest.fixture
def zelto(emulator: RunningEmulator) -> RunningEmulator:
    for cid in (CONV_A, CONV_B):
        emulator.store.add_conversation(cid)
    return emulator


def _many(n: int, conversation: str = CONV_A, score: int = 70) -> DesiredState:
    return _desired(
        *(_declared(conversation, f"L{i:03}", f"qa-{i}", score=score) for i in range(n))
    )


def test_writes_are_applied_verified_and_converge(zelto: RunningEmulator) -> None:
    zelto.store.put_metric(CONV_B, label="Empathy", externalId="qa-e", score=10, note="old")
    desired = _desired(
        _declared(CONV_A, "Compliance", "qa-c", verdict="pass", note="read at 00:41"),
        _declared(CONV_B, "Empathy", "qa-e", score=85),
    )
    plan = _read_plan(zelto, desired)
    assert (plan.summary.create, plan.summary.update) == (1, 1)
    report = _client_run(zelto, plan)
    assert report.ok, report.problems()
    assert [r.status for r in report.records] == [RecordStatus.APPLIED] * 2
    assert report.requests.posts == 2 and report.requests.reads == 4  # freshness + read-back
    (stored,) = zelto.store.list_metrics(CONV_B)
    assert stored["note"] is None and stored["score"] == 85  # full replace: the note is cleared
    assert not _read_plan(zelto, desired).has_changes
    jsonschema.validate(report.to_json_dict(), apply_report_json_schema())


def test_a_stale_plan_writes_nothing(zelto: RunningEmulator) -> None:
    desired = _desired(_declared(CONV_A, "Empathy", "qa-e", score=85))
    plan = _read_plan(zelto, desired)
    zelto.store.put_metric(CONV_A, label="Other", externalId=None, score=1)
    zelto.reset_request_counts()
    with pytest.raises(
        StalePlanError, match=rf"1 conversation changed.*{CONV_A}.*nothing was written"
    ):
        _client_run(zelto, plan)
    assert _posts(zelto) == 0


def test_a_refused_record_fails_with_the_server_message_and_others_apply(
    zelto: RunningEmulator,
) -> None:
    metric = "0b6a1c1e-5f7d-4c1a-9b1e-2f4d8c9e7a10"
    agent = zelto.store.add_agent(metric_ids=[metric])
    zelto.store.add_conversation(CONV_A, agent)
    desired = _desired(
        _declared(CONV_A, "Good", "qa-g", score=1, metricId=metric),
        _declared(CONV_A, "Bad", "qa-b", score=1, metricId="11111111-2222-4333-8444-555555555555"),
    )
    report = _client_run(zelto, _read_plan(zelto, desired))
    by_label = {r.label: r for r in report.records}
    assert by_label["Good"].status is RecordStatus.APPLIED
    bad = by_label["Bad"]
    assert bad.status is RecordStatus.FAILED and bad.attempts == 1
    assert bad.reason is not None and "HTTP 422" in bad.reason and "metric" in bad.reason.lower()
    assert not report.ok and report.stopped is None


def test_a_refused_credential_stops_everything(zelto: RunningEmulator) -> None:
    plan = _read_plan(zelto, _many(10))
    settings = HttpSettings(concurrency=1, max_attempts=3)
    report = _client_run(zelto, plan, settings=settings, token="wrong-key", check_fresh=False)
    assert report.stopped is not None and "credential was refused" in report.stopped
    assert "wrong-key" not in json.dumps(report.to_json_dict())
    # One slot, and a second worker queued for it: the 401 shuts the session before its slot
    # is freed, so the queued POST is never sent.
    assert (report.summary.failed, report.summary.not_attempted) == (1, 9)
    assert _posts(zelto) == 1
    with pytest.raises(AuthError, match="HTTP 401"):
        _client_run(zelto, plan, token="wrong-key")  # the freshness read is refused first


def test_stopping_lets_in_flight_writes_finish_and_a_rerun_completes(
    zelto: RunningEmulator,
) -> None:
    zelto.set_faults(Faults(latency_ms=20))
    desired = _many(40)
    done: list[RecordResult] = []

    def stop_after_ten(result: RecordResult, applier: Applier) -> None:
        done.append(result)
        if len(done) == 10:
            applier.stop("interrupted (SIGINT)")

    report = _client_run(zelto, _read_plan(zelto, desired), on_result=stop_after_ten)
    assert report.stopped == "interrupted (SIGINT)"
    written = [r for r in report.records if r.status is RecordStatus.NOT_VERIFIED]
    assert 10 <= len(written) <= 10 + FAST.concurrency  # in flight when stopped: finished
    assert report.summary.not_attempted == 40 - len(written)
    assert len(zelto.store.list_metrics(CONV_A)) == len(written)  # nothing lost, nothing extra
    rerun = _read_plan(zelto, desired)
    assert rerun.summary.create == 40 - len(written)
    assert _client_run(zelto, rerun).ok
    assert len(zelto.store.list_metrics(CONV_A)) == 40
    assert not _read_plan(zelto, desired).has_changes


def test_a_concurrent_writer_is_reported_as_not_converged(zelto: RunningEmulator) -> None:
    desired = _desired(_declared(CONV_A, "Empathy", "qa-e", score=85, note="secret words"))

    def overwrite(result: RecordResult, applier: Applier) -> None:
        zelto.store.put_metric(CONV_A, label="Empathy", externalId="qa-e", score=85, note="other")

    report = _client_run(zelto, _read_plan(zelto, desired), on_result=overwrite)
    (record,) = report.records
    assert record.status is RecordStatus.NOT_CONVERGED
    assert record.reason == "read back with different note"
    assert "secret words" not in json.dumps(report.to_json_dict())


def test_transient_faults_are_retried_until_converged(zelto: RunningEmulator) -> None:
    zelto.set_faults(Faults(error_rate=0.3, throttle_rate=0.1, retry_after_seconds=0.01, seed=3))
    desired = _many(60)
    report = _client_run(zelto, _read_plan(zelto, desired))
    assert report.ok, report.problems()
    assert report.requests.retries > 10
    assert report.requests.attempts == _posts(zelto)
    for key, bodies in zelto.store.accepted_writes().items():
        assert all(body == bodies[0] for body in bodies), key
    zelto.set_faults(Faults())
    assert not _read_plan(zelto, desired).has_changes


def test_writes_waiting_out_a_backoff_leave_the_pipe_to_the_others(zelto: RunningEmulator) -> None:
    """With one slot, the applier used to run two workers: two writes sleeping through a 503's
    backoff stalled every other write until one of them woke up (the tail of issue 15)."""
    # Under this seed the first two POSTs are answered 503 and the next twelve are served.
    zelto.set_faults(Faults(error_rate=0.2, seed=197, methods=("POST",)))
    plan = _read_plan(zelto, _many(14))
    # Seeded backoff: both failed writes wait at least 0.6 s before their second attempt.
    settings = HttpSettings(concurrency=1, max_attempts=3, backoff_base_seconds=1.0)
    order: list[str] = []
    report = _client_run(
        zelto,
        plan,
        settings=settings,
        on_result=lambda result, _: order.append(result.external_id),
        rng=random.Random(0),
    )
    assert report.ok, report.problems()
    assert report.requests.retries == 2
    assert sorted(order[-2:]) == ["qa-0", "qa-1"]  # the twelve others went while they waited
