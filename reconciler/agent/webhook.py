"""``POST /hook``: GitHub's push webhook, trusted only with a valid ``X-Hub-Signature-256``.

GitHub signs the raw body with HMAC-SHA256 under the webhook's secret and sends
``sha256=<hex>``. The signature is compared in constant time (``hmac.compare_digest``), before
the body is parsed at all: an unsigned request cannot make the agent do anything, not even
parse JSON. A valid push to another branch is acknowledged and ignored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass

__all__ = ["SECRET_ENV", "SIGNATURE_HEADER", "HookVerdict", "judge_push", "sign", "valid_signature"]

SECRET_ENV = "RECONCILER_WEBHOOK_SECRET"
SIGNATURE_HEADER = "X-Hub-Signature-256"
_PREFIX = "sha256="


def sign(secret: bytes, body: bytes) -> str:
    """The header value GitHub sends for ``body``."""
    return _PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def valid_signature(secret: bytes, body: bytes, header: str | None) -> bool:
    if not secret or not header or not header.startswith(_PREFIX):
        return False
    return hmac.compare_digest(sign(secret, body).encode(), header.strip().encode())


@dataclass(frozen=True)
class HookVerdict:
    """What to answer, and whether to start a pass now."""

    status: int
    message: str
    trigger: bool = False


def judge_push(
    secret: bytes, body: bytes, signature: str | None, event: str | None, branch: str
) -> HookVerdict:
    """Decide on one delivery; only a signed push (or ping) to ``branch`` triggers a pass."""
    if not secret:
        return HookVerdict(404, f"webhook disabled: set {SECRET_ENV} to enable it")
    if not valid_signature(secret, body, signature):
        return HookVerdict(401, f"missing or wrong {SIGNATURE_HEADER}")
    if event == "ping":
        return HookVerdict(200, "pong")
    if event != "push":
        return HookVerdict(202, f"ignored: event '{event}' is not a push")
    try:
        ref = json.loads(body).get("ref")
    except (ValueError, AttributeError):
        return HookVerdict(400, "the body is not a JSON object")
    if ref != f"refs/heads/{branch}":
        return HookVerdict(202, f"ignored: the push is to {ref}, not refs/heads/{branch}")
    return HookVerdict(202, "reconcile triggered", trigger=True)
