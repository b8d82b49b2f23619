"""reconciler: declarative GitOps for Zelto customer metrics.

The public API is what ``__all__`` lists (docs/library.md shows it at work); everything else is
internal and may change. The engine's names (``Workspace``, ``Plan``, ``ApplyReport`` …) are
imported on first use: ``python -m reconciler validate`` runs as a pre-commit hook and must not
pay for the HTTP stack it never uses.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from reconciler.errors import (
    ApiError,
    ApplyError,
    AuthError,
    ConfigError,
    Issue,
    Location,
    ReconcilerError,
    SpecError,
    StalePlanError,
    UnsafePlanError,
)
from reconciler.model import (
    CatalogEntry,
    DeclaredRecord,
    DesiredState,
    MetricRecord,
    RemoteRecord,
    SpecDocument,
)

if TYPE_CHECKING:
    from reconciler.applier import ApplyReport, RecordResult, RecordStatus, RefusedPlanError
    from reconciler.engine.steps import ProgressCallback, StopSignal
    from reconciler.engine.workspace import Workspace
    from reconciler.importer.writing import ImportReport
    from reconciler.plan.model import Action, Change, ConversationPlan, Plan
    from reconciler.plan.shard import Shard

try:
    __version__ = version("reconciler")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

#: Public name -> the module that defines it, imported when the name is first used.
_LAZY = {
    "Action": "reconciler.plan.model",
    "ApplyReport": "reconciler.applier",
    "Change": "reconciler.plan.model",
    "ConversationPlan": "reconciler.plan.model",
    "ImportReport": "reconciler.importer.writing",
    "Plan": "reconciler.plan.model",
    "ProgressCallback": "reconciler.engine.steps",
    "RecordResult": "reconciler.applier",
    "RecordStatus": "reconciler.applier",
    "RefusedPlanError": "reconciler.applier",
    "Shard": "reconciler.plan.shard",
    "StopSignal": "reconciler.engine.steps",
    "Workspace": "reconciler.engine.workspace",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'reconciler' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "Action",
    "ApiError",
    "ApplyError",
    "ApplyReport",
    "AuthError",
    "CatalogEntry",
    "Change",
    "ConfigError",
    "ConversationPlan",
    "DeclaredRecord",
    "DesiredState",
    "ImportReport",
    "Issue",
    "Location",
    "MetricRecord",
    "Plan",
    "ProgressCallback",
    "ReconcilerError",
    "RecordResult",
    "RecordStatus",
    "RefusedPlanError",
    "RemoteRecord",
    "Shard",
    "SpecDocument",
    "SpecError",
    "StalePlanError",
    "StopSignal",
    "UnsafePlanError",
    "Workspace",
    "__version__",
]
