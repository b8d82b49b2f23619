"""Zelto records → spec records: equal field by field, or a named error; never a wrong record."""

from __future__ import annotations

from typing import Any

from reconciler.errors import Location
from reconciler.importer.zelto_import import adopted_external_id, conversation_import
from reconciler.model import DeclaredRecord, MetricRecord, RemoteRecord

CONV = "3c90c3cc-0d44-4b50-8888-8dd25736052a"


def remote(label: str, **fields: Any) -> RemoteRecord:
    base: dict[str, Any] = {
        "id": f"id-{label}",
        "organizationId": "org",
        "conversationId": CONV,
        "agentId": "agent",
        "label": label,
        "source": "app",
        "createdAt": "2026-01-01T00:00:00Z",
        "updatedAt": "2026-01-01T00:00:00Z",
    }
    base.update(fields)
    return RemoteRecord.model_validate(base)


def test_records_keep_every_compared_field() -> None:
    metric = "0B6A1C1E-5F7D-4C1A-9B1E-2F4D8C9E7A10"
    out = conversation_import(
        CONV,
        [
            remote("B", externalId="qa-b", score=92.0, note=" spaced \n", metricId=metric),
            remote("A", verdict="fail"),
        ],
    )
    assert not out.errors and not out.notes
    a, b = out.records
    assert a.external_id == "zelto:id-A" and a.verdict == "fail" and a.score is None
    assert b.external_id == "qa-b" and b.score == 92 and isinstance(b.score, int)
    assert b.note == " spaced \n" and str(b.metric_id) == metric.lower()
    assert list(out.comments) == ["zelto:id-A"]
    assert "apply --adopt" in out.comments["zelto:id-A"]
    assert adopted_external_id(remote("A")) == "zelto:id-A"


def test_records_that_cannot_be_specs_are_errors() -> None:
    out = conversation_import(
        CONV,
        [
            remote("Neither"),
            remote("Maybe", verdict="maybe"),
            remote("Big", score=150.0),
            remote("Fine", verdict="pass"),
        ],
    )
    assert [r.label for r in out.records] == ["Fine"]
    assert len(out.errors) == 3
    joined = "\n".join(out.errors)
    assert (
        f"conversation {CONV}, record id-Big (label 'Big'): cannot be written as a spec" in joined
    )
    assert "less than or equal to 100" in joined
    assert "'pass' or 'fail'" in joined
    assert "at least one of verdict and score" in joined


def test_declared_elsewhere_is_left_alone() -> None:
    declared = [
        DeclaredRecord.of(
            CONV,
            MetricRecord(external_id="qa-1", label="Empathy", score=1),
            Location("specs/team.yaml", 3, 7),
        )
    ]
    out = conversation_import(
        CONV,
        [remote("Empathy", score=1.0), remote("Other", externalId="qa-1", verdict="pass")],
        declared,
    )
    assert out.records == ()
    assert out.notes == (
        f"conversation {CONV}: 2 records already declared in other spec files, left to them: "
        "'Empathy' (specs/team.yaml:3:7), 'Other' (specs/team.yaml:3:7)",
    )
