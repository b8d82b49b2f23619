"""Apply: a checked plan in, POSTs out, and a report of what converged (docs/semantics.md §4).

``preflight`` holds the checks that refuse a whole apply before anything is written (target,
errors, conflicts, changed secrets, the safety threshold); ``run`` carries the writes out and reads
them back; ``report`` is the result, serialisable for ``apply --format json``.
"""

from __future__ import annotations

from reconciler.applier.preflight import (
    RefusedPlanError,
    adopt_conflicts,
    check_applicable,
    check_target,
    check_threshold,
    has_masked_values,
    prepare,
    unmask,
)
from reconciler.applier.report import (
    REPORT_FORMAT_VERSION,
    ApplyReport,
    ApplySummary,
    RecordResult,
    RecordStatus,
    RequestCounts,
    apply_report_json_schema,
)
from reconciler.applier.run import Applier, ResultCallback

__all__ = [
    "REPORT_FORMAT_VERSION",
    "Applier",
    "ApplyReport",
    "ApplySummary",
    "RecordResult",
    "RecordStatus",
    "RefusedPlanError",
    "RequestCounts",
    "ResultCallback",
    "adopt_conflicts",
    "apply_report_json_schema",
    "check_applicable",
    "check_target",
    "check_threshold",
    "has_masked_values",
    "prepare",
    "unmask",
]
