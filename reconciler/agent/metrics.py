"""The agent's Prometheus metrics, in a registry of its own, exposed by ``GET /metrics``.

A registry per agent (not prometheus_client's global one) keeps tests and embedded uses
independent. Names follow Prometheus conventions: base units, ``_total`` for counters, the
revision as a label of an info-style gauge whose value is 1 (so a dashboard can join on it).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from reconciler.plan.model import Summary

__all__ = ["CONTENT_TYPE_LATEST", "AgentMetrics"]

_PREFIX = "reconciler_agent"
_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


class AgentMetrics:
    """Every metric of one agent; the loop and the server update them, /metrics renders them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.duration = Histogram(
            f"{_PREFIX}_reconcile_duration_seconds",
            "Time one reconcile pass took (fetch, verify, plan, apply), by result.",
            ["result"],
            buckets=_BUCKETS,
            registry=registry,
        )
        self.last_success = Gauge(
            f"{_PREFIX}_last_success_timestamp_seconds",
            "Unix time of the last pass that left the target matching the branch.",
            registry=registry,
        )
        self.applied_revision = Gauge(
            f"{_PREFIX}_last_applied_revision_info",
            "The revision the target is known to match (value 1; the revision is the label).",
            ["revision"],
            registry=registry,
        )
        self.plan_records = Gauge(
            f"{_PREFIX}_plan_records",
            "Records of the last plan, by action.",
            ["action"],
            registry=registry,
        )
        self.drift_corrected = Counter(
            f"{_PREFIX}_drift_corrected_records",
            "Records written back to the declared value after an out-of-band change.",
            registry=registry,
        )
        self.drift_detected = Gauge(
            f"{_PREFIX}_drift_records",
            "Records that differ from an already applied revision in the last plan.",
            registry=registry,
        )
        self.errors = Counter(
            f"{_PREFIX}_errors",
            "Failed passes, by kind (fetch, verify, spec, config, plan, refused, apply, internal).",
            ["kind"],
            registry=registry,
        )
        self.http_requests = Counter(
            f"{_PREFIX}_http_requests",
            "Requests the agent's own HTTP server answered, by route and status code.",
            ["route", "status"],
            registry=registry,
        )

    def set_applied_revision(self, revision: str) -> None:
        self.applied_revision.clear()
        self.applied_revision.labels(revision=revision).set(1)

    def set_plan(self, summary: Summary, drift: int) -> None:
        for action, count in summary.model_dump().items():
            self.plan_records.labels(action=action).set(count)
        self.drift_detected.set(drift)

    def render(self) -> bytes:
        return generate_latest(self.registry)
