"""reconciler: declarative GitOps for Zelto customer metrics.

The public API is what ``__all__`` lists; everything else is internal and may change.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

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

try:
    __version__ = version("reconciler")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "ApiError",
    "ApplyError",
    "AuthError",
    "CatalogEntry",
    "ConfigError",
    "DeclaredRecord",
    "DesiredState",
    "Issue",
    "Location",
    "MetricRecord",
    "ReconcilerError",
    "RemoteRecord",
    "SpecDocument",
    "SpecError",
    "StalePlanError",
    "UnsafePlanError",
    "__version__",
]
