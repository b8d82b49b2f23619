"""What the Zelto and Siro clients share: one HTTP policy, applied the same way to every request.

``policy`` holds the values (Secret, Endpoint, HttpSettings, retry arithmetic), ``session`` the
async :class:`HttpSession` that applies them, ``messages`` how failures become one readable line.
"""

from __future__ import annotations

from reconciler.remote.http.policy import (
    BEARER,
    REDACTED,
    TRANSIENT_STATUSES,
    Attempt,
    AuthScheme,
    Deadline,
    Endpoint,
    HttpSettings,
    RequestContext,
    RequestStoppedError,
    Secret,
    SessionStats,
    TransportName,
    backoff_delay,
    parse_retry_after,
    redact,
    response_json,
)
from reconciler.remote.http.session import HttpSession

__all__ = [
    "BEARER",
    "REDACTED",
    "TRANSIENT_STATUSES",
    "Attempt",
    "AuthScheme",
    "Deadline",
    "Endpoint",
    "HttpSession",
    "HttpSettings",
    "RequestContext",
    "RequestStoppedError",
    "Secret",
    "SessionStats",
    "TransportName",
    "backoff_delay",
    "parse_retry_after",
    "redact",
    "response_json",
]
