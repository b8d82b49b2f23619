"""One probe per registered assumption (reconciler/contract/), against the emulator or live.

Each probe asks the API the one question its registry entry rests on and reports what it saw; the
test fails, naming the entry, when the answer contradicts the registry, because then the product
is built on a wrong reading (docs/contract.md says what each entry changes). Entries that cannot be
probed safely say so in the table instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from live_target import LABEL_PREFIX, Observation, Target, record

from reconciler.contract.registry import Entry, Registry
from reconciler.contract.siro import PASS_RATE_RANGE, SCORE_UNITS, SIRO
from reconciler.contract.zelto import ZELTO

Probe = Callable[[Target], tuple[object, str]]
NOT_PROBED = object()


def _zelto(target: Target) -> httpx.Client:
    return httpx.Client(
        base_url=target.zelto_url,
        headers={"Authorization": f"Bearer {target.zelto_key}"},
        timeout=30,
    )


def _siro(target: Target, ids: list[str] | None = None, **extra: Any) -> httpx.Response:
    params: dict[str, Any] = {
        "requestedOrganizationId": target.siro_organization,
        "conversationTypeId": target.siro_conversation_type,
        "startAt": target.start,
        "endAt": target.end,
        "filterByIds": ids or [target.recordings[0]],
        "filterBy": "RECORDING",
        **extra,
    }
    with httpx.Client(
        base_url=target.siro_url, headers={"x-siro-auth-token": target.siro_token}, timeout=30
    ) as client:
        return client.get("/v1/core/scorecards/scorecard-metrics/values", params=params)


def _metrics_path(target: Target, conversation: str | None = None) -> str:
    return f"/v1/conversations/{conversation or target.conversation}/customer-metrics"


def _post(target: Target, body: dict[str, Any]) -> httpx.Response:
    assert str(body["label"]).startswith(LABEL_PREFIX)  # writes only under the test prefix
    with _zelto(target) as client:
        return client.post(_metrics_path(target), json=body)


def _records(target: Target, label: str) -> list[dict[str, Any]]:
    with _zelto(target) as client:
        data = client.get(_metrics_path(target)).raise_for_status().json()["data"]
    return [r for r in data if r["label"] == label]


# --- Zelto ---------------------------------------------------------------------------------------
def _upsert_key(target: Target) -> tuple[object, str]:
    label = LABEL_PREFIX + "upsert"
    for external in ("u1", "u2"):
        _post(target, {"label": label, "score": 1, "externalId": external}).raise_for_status()
    found = _records(target, label)
    seen = f"{len(found)} record(s) under the label, externalId {[r['externalId'] for r in found]}"
    return ("label" if [r["externalId"] for r in found] == ["u2"] else "not label"), seen


def _full_replace(target: Target) -> tuple[object, str]:
    label = LABEL_PREFIX + "replace"
    _post(target, {"label": label, "score": 1, "note": "kept?"}).raise_for_status()
    _post(target, {"label": label, "score": 1}).raise_for_status()
    note = _records(target, label)[0]["note"]
    return note is None, f"note after a POST without it: {note!r}"


def _success(target: Target) -> tuple[object, str]:
    response = _post(target, {"label": LABEL_PREFIX + "success", "score": 1})
    return ("2xx" if response.is_success else "not 2xx"), f"HTTP {response.status_code}"


def _error_message(target: Target) -> tuple[object, str]:
    response = _post(target, {"label": LABEL_PREFIX + "error", "score": 101})
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return "elsewhere", f"HTTP {response.status_code}: {response.text[:80]}"
    path = ("error", "message") if isinstance(message, str) else "elsewhere"
    return path, f"HTTP {response.status_code}, error.message = {str(message)[:50]!r}"


def _unknown_conversation(target: Target) -> tuple[object, str]:
    with _zelto(target) as client:
        response = client.get(_metrics_path(target, str(uuid.uuid4())))
    return response.status_code, f"HTTP {response.status_code}"


def _length_units(target: Target) -> tuple[object, str]:
    emoji = (255 - len(LABEL_PREFIX)) // 2 + 1  # within 255 code points, over 255 UTF-16 units
    response = _post(target, {"label": LABEL_PREFIX + "😀" * emoji, "score": 1})
    counts = "code points" if response.is_success else "UTF-16 code units"
    # Specs count both units, so either answer is safe: the row says which one the server uses.
    return ZELTO["length_units"].value, f"HTTP {response.status_code}: the server counts {counts}"


def _list_cursor(target: Target) -> tuple[object, str]:
    with _zelto(target) as client:
        body = client.get(_metrics_path(target)).raise_for_status().json()
    ok = isinstance(body.get("data"), list)
    return ("nextCursor" if ok else "no data list"), f"keys {sorted(body)}"


def _null_in_body(target: Target) -> tuple[object, str]:
    response = _post(target, {"label": LABEL_PREFIX + "null", "score": 1, "note": None})
    # The client never sends null, so either answer is safe: the row says which.
    return "omit", f"HTTP {response.status_code} for note: null"


# --- Siro ----------------------------------------------------------------------------------------
def _next_page(target: Target) -> tuple[object, str]:
    first = _siro(target).raise_for_status().json()
    if first.get("hasNextPage") is not True:
        return "cursor", "one page: paging not exercised"
    second = _siro(target, cursor=first["cursor"])
    moved = second.is_success and second.json() != first
    return ("cursor" if moved else "not cursor"), f"?cursor= answered HTTP {second.status_code}"


def _count(target: Target, ids: list[str]) -> int:
    return int(_siro(target, ids).raise_for_status().json()["data"]["recordingsEvaluatedCount"])


def _list_encoding(target: Target) -> tuple[object, str]:
    count = _count(target, list(target.recordings))
    return ("repeat" if count == 2 else "not repeat"), f"count {count} for 2 repeated ids"


def _aggregate(target: Target) -> tuple[object, str]:
    count = _count(target, [target.recordings[0]])
    agrees = "one aggregate over the ids sent" if count == 1 else "other"
    return agrees, f"count {count} for one recording in the window"


def _additive(target: Target) -> tuple[object, str]:
    a, b = (_count(target, [r]) for r in target.recordings)
    both = _count(target, list(target.recordings))
    return both == a + b, f"{a} + {b} alone, {both} together"


def _unknown_recording(target: Target) -> tuple[object, str]:
    response = _siro(target, [f"no-such-recording-{uuid.uuid4()}"])
    if response.status_code == 404:
        return "404", "HTTP 404"
    count = response.json().get("data", {}).get("recordingsEvaluatedCount")
    return ("empty" if count == 0 else "other"), f"HTTP {response.status_code}, count {count}"


def _values(target: Target) -> list[dict[str, Any]]:
    body = _siro(target).raise_for_status().json()
    values = list(body["data"].get("metricValues", []))
    while body.get("hasNextPage") is True and body.get("cursor"):
        body = _siro(target, cursor=body["cursor"]).raise_for_status().json()
        values += body["data"].get("metricValues", [])
    return values


def _pass_rates(target: Target) -> tuple[object, str]:
    rates = [v.get("passRate") for v in _values(target)]
    low, high = PASS_RATE_RANGE
    inside = all(r is None or low <= r <= high for r in rates)
    return (PASS_RATE_RANGE if inside else "outside"), f"passRates {rates[:6]}"


def _fields(target: Target) -> tuple[object, str]:
    values = _values(target)
    ok = all(v.get("metricType") or v.get("name") for v in values)
    keys = sorted({k for v in values for k in v})
    return (("metricType", "name") if ok else "unidentifiable"), f"fields {keys}"


def _units(target: Target) -> tuple[object, str]:
    units = sorted({f"{v.get('metricType')}={v.get('unit')}" for v in _values(target)})
    return SCORE_UNITS, f"units {units[:5]}"


def _group_by(target: Target) -> tuple[object, str]:
    plain = _siro(target).raise_for_status().json()
    grouped = _siro(target, groupBy="RECORDING")
    same = grouped.is_success and sorted(grouped.json()) == sorted(plain)
    return "not sent", f"groupBy=RECORDING: HTTP {grouped.status_code}, same shape: {same}"


def _date_time(target: Target) -> tuple[object, str]:
    response = _siro(target)
    return ("UTC with Z" if response.is_success else "refused"), f"HTTP {response.status_code}"


PROBES: dict[tuple[str, str], Probe] = {
    ("Zelto", "upsert_key"): _upsert_key,
    ("Zelto", "submit_full_replace"): _full_replace,
    ("Zelto", "submit_success"): _success,
    ("Zelto", "transient_statuses"): lambda t: (NOT_PROBED, "not probed (cannot be provoked)"),
    ("Zelto", "error_message"): _error_message,
    ("Zelto", "unknown_conversation"): _unknown_conversation,
    ("Zelto", "length_units"): _length_units,
    ("Zelto", "list_cursor"): _list_cursor,
    ("Zelto", "null_in_body"): _null_in_body,
    ("Siro", "next_page_param"): _next_page,
    ("Siro", "list_encoding"): _list_encoding,
    ("Siro", "aggregate"): _aggregate,
    ("Siro", "count_additive"): _additive,
    ("Siro", "unknown_recording"): _unknown_recording,
    ("Siro", "pass_rate_range"): _pass_rates,
    ("Siro", "metric_value_fields"): _fields,
    ("Siro", "metric_units"): _units,
    ("Siro", "group_by"): _group_by,
    ("Siro", "date_time"): _date_time,
}
ENTRIES: list[tuple[Registry, Entry]] = [(r, e) for r in (ZELTO, SIRO) for e in r]


def test_every_registered_assumption_has_a_probe() -> None:
    assert sorted(PROBES) == sorted((r.api, e.key) for r, e in ENTRIES)


@pytest.mark.parametrize(
    ("registry", "entry"), ENTRIES, ids=[f"{r.api}:{e.key}" for r, e in ENTRIES]
)
def test_probe(target: Target, registry: Registry, entry: Entry) -> None:
    observed, seen = PROBES[(registry.api, entry.key)](target)
    agrees = None if observed is NOT_PROBED else observed == entry.value
    shown = sorted(entry.value) if isinstance(entry.value, frozenset) else entry.value
    record(target, Observation(registry.api, entry.key, str(shown), seen, agrees))
    assert agrees is not False, (
        f"{registry.api} assumption {entry.key!r} does not hold on {target.name}: expected "
        f"{entry.value!r}, observed {observed!r} ({seen}); docs/contract.md says what it changes"
    )
