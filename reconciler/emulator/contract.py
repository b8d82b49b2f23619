"""Every rule and constant the emulator takes from the contract documents, in one place.

Each name says where it comes from: DOC = stated in the vendor's public docs (as summarised in
``docs/zelto-api.md`` / ``docs/siro-api.md``); ASSUMED = our reading of what the docs leave open,
which the client must treat defensively and the emulator implements exactly one way (here);
EMULATOR = a choice that only the emulator makes (there is no real behaviour to copy).
"""

from __future__ import annotations

import re
import uuid
from typing import Final

# --- Zelto: customer-metric request body (DOC, docs/zelto-api.md "POST .../customer-metrics") -----
LABEL_MIN_LENGTH: Final = 1  # DOC
LABEL_MAX_LENGTH: Final = 255  # DOC
SCORE_MIN: Final = 0.0  # DOC
SCORE_MAX: Final = 100.0  # DOC
NOTE_MAX_LENGTH: Final = 5000  # DOC
EXTERNAL_ID_MAX_LENGTH: Final = 255  # DOC
VERDICTS: Final = ("pass", "fail")  # DOC
METRIC_INPUT_FIELDS: Final = ("label", "verdict", "score", "note", "metricId", "externalId")  # DOC
# DOC: "Provide at least one of verdict or score".
AT_LEAST_ONE_OF: Final = ("verdict", "score")

# ASSUMED (docs/zelto-api.md): a resubmit is a FULL replace; fields left out of the body are cleared
# (store.py, Store._upsert_metric).
# STRICT (--strict, an assumption; the default follows the vendor's page, which is silent): fields
# the documented schema does not know are rejected (422) rather than ignored, so a client that sends
# extra keys (e.g. the spec-only `adopt`) is caught in tests; `null` values are rejected (422)
# rather than read as absent, since the documented request schema has no nullable field; string
# lengths count UTF-16 code units (what a JavaScript server counts) rather than code points. The
# project's own tests run strict (tests/conftest.py); `reconciler emulator serve` runs lenient.
# ASSUMED (docs/zelto-api.md): a metricId that is not a metric on the call's agent is rejected
# with a 4xx.
# EMULATOR: an agent with no declared metrics (none in the seed) accepts any well-formed metricId,
# because the real list of an org's metrics is not readable through the API.
AGENT_WITHOUT_METRICS_ACCEPTS_ANY_METRIC_ID: Final = True
# ASSUMED (docs/zelto-api.md): externalId is not unique server-side; only label is the upsert key
# (the UNIQUE (conversation_id, label) constraint in store.py).
# ASSUMED: the upsert key compares labels exactly (case and whitespace matter).
# ASSUMED: GET .../customer-metrics lists records in creation order (a replace keeps the place).
# EMULATOR: conversation ids match case-insensitively and come back lower-case; metricId and every
# other stored string come back exactly as sent.
# DOC: provenance of records created through the API.
SOURCE_API: Final = "api"

# --- Zelto: statuses (ASSUMED unless marked) -----------------------------------------------------
# ASSUMED: the single documented success response has no visible code; the emulator answers 200
# for both create and replace (clients must accept any 2xx).
STATUS_METRIC_SUBMITTED: Final = 200
STATUS_UNAUTHORIZED: Final = 401  # ASSUMED: missing, invalid or revoked key
STATUS_METRICS_DISABLED: Final = 403  # ASSUMED: metrics not enabled for the key's organization
STATUS_NOT_FOUND: Final = 404  # ASSUMED: unknown conversation, or one of another organization
STATUS_VALIDATION: Final = 422  # ASSUMED (zelto-openapi.yaml): 422, not 400, for a bad body
# ASSUMED (zelto-openapi.yaml "Error"): error bodies are {"error": {"code", "message"}}.
ERROR_CODE_UNAUTHORIZED: Final = "unauthorized"
ERROR_CODE_FORBIDDEN: Final = "metrics_disabled"
ERROR_CODE_NOT_FOUND: Final = "not_found"
ERROR_CODE_VALIDATION: Final = "validation_error"
ERROR_CODE_UNAVAILABLE: Final = "service_unavailable"
ERROR_CODE_RATE_LIMITED: Final = "rate_limited"
# EMULATOR: the order of checks. Auth first, then the organization's metrics switch (a property
# of the key, not of the conversation), then the conversation, then the body.

# --- Zelto: agents listing (DOC, docs/zelto-api.md "Agents") --------------------------------------
AGENTS_LIMIT_MIN: Final = 1  # DOC
AGENTS_LIMIT_MAX: Final = 200  # DOC
AGENTS_LIMIT_DEFAULT: Final = 50  # DOC

# --- Zelto: webhook (DOC, docs/zelto-api.md "Conversations") --------------------------------------
WEBHOOK_PROVIDER_HEADER: Final = "x-zelto-provider"  # DOC
WEBHOOK_PROVIDERS: Final = ("zelto", "vapi", "retell", "livekit")  # DOC
WEBHOOK_DEFAULT_PROVIDER: Final = "zelto"  # DOC
# ASSUMED: a call uploaded with the default provider shows as source "upload" on the conversation.
WEBHOOK_SOURCE_BY_PROVIDER: Final = {
    "zelto": "upload",
    "vapi": "vapi",
    "retell": "retell",
    "livekit": "livekit",
}
# EMULATOR: the real service processes uploads asynchronously; the emulator does it before it
# answers, so a test can read the conversation at once.
STATUS_WEBHOOK_RECEIVED: Final = 200  # ASSUMED

# --- Zelto: auth (DOC) ---------------------------------------------------------------------------
ZELTO_AUTH_HEADER: Final = "authorization"  # DOC: "Authorization: Bearer <API key>"
ZELTO_AUTH_SCHEME: Final = "bearer"  # DOC

# --- Siro (DOC, docs/siro-api.md) -----------------------------------------------------------------
SIRO_AUTH_HEADER: Final = "x-siro-auth-token"  # DOC
SIRO_REQUESTS_PER_MINUTE: Final = 1000  # DOC: 1000 requests per token per minute
SIRO_RATE_WINDOW_SECONDS: Final = 60.0  # DOC ("per minute")
# ASSUMED (siro-openapi.yaml): Siro's 429 carries no Retry-After (siro_api.py sends none).
SIRO_ENTITY_TYPES: Final = ("RECORDING", "USER", "TEAM", "ORGANIZATION")  # DOC
SIRO_REQUIRED_PARAMS: Final = (  # DOC
    "requestedOrganizationId",
    "conversationTypeId",
    "startAt",
    "endAt",
    "filterByIds",
    "filterBy",
)
SIRO_METRIC_TYPES: Final = (  # DOC (25 values)
    "RECORDING_COUNT",
    "BOOKMARK",
    "CONVERSATION_TIME",
    "REP_SPEAKING_TIME",
    "CUSTOMER_SPEAKING_TIME",
    "CUSTOMER_QUESTIONS_COUNT",
    "REP_QUESTIONS_COUNT",
    "EXCHANGES_COUNT",
    "REP_EXCHANGES_COUNT",
    "TOTAL_REP_EXCHANGES_WITH_A_QUESTION",
    "REP_WORD_COUNT",
    "REP_UNIQUE_WORDS_USED_COUNT",
    "REP_FILLER_WORDS_COUNT",
    "TOTAL_REP_VOCABULARY_SCORE",
    "TOTAL_REP_WORD_OBSCURITY_SCORE",
    "LONGEST_MONOLOGUE_SECONDS",
    "LONGEST_CUSTOMER_STORY_SECONDS",
    "REP_WORDS_PER_MINUTE",
    "REP_FILLER_WORDS_PER_MIN",
    "REP_SPEAKER_SHARE",
    "INTERACTIVITY_SCORE",
    "REP_CONTROL",
    "REP_VOCABULARY_LEVEL",
    "REP_WORD_OBSCURITY_SCORE",
    "AI_METRIC",
)
# ASSUMED: a recording counts when conversationTypeId matches and startAt <= startedAt <= endAt.
# ASSUMED: filterBy=RECORDING with an id Siro does not know (or of another organization) is 404.
# ASSUMED: a requestedOrganizationId the token cannot see is 403.
# EMULATOR: with no recording in the window the metrics of the named recordings are still listed,
# with value and passRate null (DOC: "absent or null when nothing qualified").
# EMULATOR: several recordings aggregate as the mean of the non-null values (DOC only says values
# "aggregate over all of filterByIds").
# ASSUMED: the endpoint is not paginated in practice: cursor null, hasNextPage false.
# DOC (docs/siro-api.md response example): pageSize 0, limit 0, total null.
SIRO_ENVELOPE_PAGE_SIZE: Final = 0
SIRO_ENVELOPE_LIMIT: Final = 0
# EMULATOR: the order of checks: auth (401), rate limit (429), parameters (422), organization
# (403), recordings (404).
# STRICT (--strict; lenient by default, as the vendor's page allows it): filterByIds="" is a 422
# (lenient: an id that matches nothing); a repeated filterBy is a 422 (lenient: the page says
# "Minimum array length: 1", so several entity types select the union); a lower-case t or z in a
# date-time is a 422 (lenient: ISO 8601 allows it); endAt before startAt is a 422 (lenient: an
# empty window, count 0).

# --- Emulator defaults ---------------------------------------------------------------------------
DEFAULT_ZELTO_API_KEY: Final = "emulator-zelto-key"  # EMULATOR: a local, non-secret key
DEFAULT_SIRO_TOKEN: Final = "emulator-siro-token"  # EMULATOR: a local, non-secret token
DEFAULT_ORGANIZATION_ID: Final = "00000000-0000-4000-8000-00000000e001"  # EMULATOR
# EMULATOR: auto-created conversations (the `local` target's quickstart) belong to this agent.
AUTO_AGENT_ID: Final = "00000000-0000-4000-8000-00000000a001"
AUTO_AGENT_NAME: Final = "Emulator agent"
# EMULATOR: conversations created by the webhook get a UUID derived from (org, call.externalId),
# so tests can predict it; the real service's ids are opaque.
WEBHOOK_CONVERSATION_NAMESPACE: Final = uuid.UUID("6f1d6a58-8d8e-4c53-9a0e-7a0c6f1c0b51")
DEFAULT_RETRY_AFTER_SECONDS: Final = 1.0

# --- Routes (DOC), as counted by RunningEmulator.request_counts() --------------------------------
ROUTE_CONVERSATION: Final = "/v1/conversations/{id}"
ROUTE_CUSTOMER_METRICS: Final = "/v1/conversations/{id}/customer-metrics"
ROUTE_AGENTS: Final = "/v1/agents"
ROUTE_WEBHOOK_CALLS: Final = "/webhooks/calls"
ROUTE_SIRO_VALUES: Final = "/v1/core/scorecards/scorecard-metrics/values"
ADMIN_PREFIX: Final = "/_emulator/"  # EMULATOR: control endpoints, never faulted or counted

# DOC: conversation ids and metricIds are UUIDs. Accept any case; hyphenated 8-4-4-4-12 form only.
UUID_PATTERN: Final = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)


def is_uuid(value: object) -> bool:
    """True for a hyphenated UUID string, as the documented ``format: uuid`` fields carry."""
    return isinstance(value, str) and UUID_PATTERN.match(value) is not None


# --- The emulator's side of the client's registries (reconciler/contract/zelto.py, siro.py) ------
# The emulator may import only emulator code, so it keeps its own copy: entry key -> (the value it
# implements, what it does). tests/contract/test_registries.py checks that both sides name the same
# entries with the same values, so a change to an assumption changes both or fails a test.
TRANSIENT_STATUSES: Final = frozenset({408, 425, 429, 500, 502, 503, 504})
ERROR_MESSAGE_PATH: Final = ("error", "message")
LENGTH_UNITS: Final = ("code points", "UTF-16 code units")
SIRO_NEXT_PAGE_PARAM: Final = "cursor"
SIRO_UNKNOWN_RECORDING_DEFAULT: Final = "404"
SIRO_UNKNOWN_RECORDING_MODES: Final = ("404", "empty")
SIRO_PASS_RATE_RANGE: Final = (0.0, 100.0)

ZELTO_BEHAVIOUR: Final[dict[str, tuple[object, str]]] = {
    "upsert_key": ("label", "UNIQUE (conversation_id, label): a POST with a stored label wins"),
    "submit_full_replace": (True, "a replace stores exactly the body; absent fields become null"),
    "submit_success": ("2xx", "answers 200 with the record for create and replace"),
    "transient_statuses": (TRANSIENT_STATUSES, "injected faults answer 429 and 503 only"),
    "error_message": (ERROR_MESSAGE_PATH, 'error bodies are {"error": {"code", "message"}}'),
    "unknown_conversation": (STATUS_NOT_FOUND, "an unknown conversation id answers 404"),
    "length_units": (LENGTH_UNITS, "--strict counts UTF-16 code units; lenient, code points"),
    "list_cursor": ("nextCursor", "the record listing is one page, without nextCursor"),
    "null_in_body": ("omit", "null is read as absent; --strict answers 422"),
}
SIRO_BEHAVIOUR: Final[dict[str, tuple[object, str]]] = {
    "next_page_param": (SIRO_NEXT_PAGE_PARAM, "--siro-page-size N pages metricValues by cursor"),
    "list_encoding": ("repeat", "reads repeated filterByIds (and one comma-free value) as a list"),
    "aggregate": (
        "one aggregate over the ids sent",
        "counts the ids' recordings in the window and averages their values",
    ),
    "count_additive": (True, "recordingsEvaluatedCount is the number of recordings in the window"),
    "unknown_recording": (
        SIRO_UNKNOWN_RECORDING_DEFAULT,
        "404 naming the unknown ids; --siro-unknown-recording empty answers 200 with count 0",
    ),
    "pass_rate_range": (SIRO_PASS_RATE_RANGE, "serves seeded passRates as they are, even 123"),
    "metric_value_fields": (("metricType", "name"), "serves seeded metric values as they are"),
    "metric_units": (
        ("percent", "percentage", "%", "score"),
        "serves seeded units as they are",
    ),
    "group_by": ("not sent", "accepts groupBy and ignores it"),
    "date_time": ("UTC with Z", "accepts any ISO 8601 date-time with a zone, any letter case"),
}
