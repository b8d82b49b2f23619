"""Property: the emulator accepts exactly the bodies the contract's request schema accepts.

Hypothesis builds bodies from valid and invalid values of every documented field (plus unknown
keys and nulls); the OpenAPI ``CustomerMetricInput`` schema decides whether each should pass. A
lenient emulator (the default) ignores unknown fields and reads a null as absent, as the vendor's
page allows; a strict one (``--strict``) refuses both and counts lengths in UTF-16 code units.
Every response is also checked against the contract.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from contract_check import TLS, ZELTO_SPEC, CheckedClient, spec_document
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.emulator import EmulatorConfig, RunningEmulator, start_in_thread

TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=8)
UUIDS = st.uuids().map(str)
VALID: dict[str, st.SearchStrategy[Any]] = {
    "label": st.one_of(TEXT.filter(bool), st.text(min_size=254, max_size=255)),
    "verdict": st.sampled_from(["pass", "fail"]),
    "score": st.one_of(st.integers(0, 100), st.floats(0, 100), st.sampled_from([0, 100, 99.99])),
    "note": st.one_of(TEXT, st.text(min_size=4999, max_size=5000)),
    "metricId": st.one_of(UUIDS, UUIDS.map(str.upper)),
    "externalId": st.one_of(TEXT, st.text(min_size=254, max_size=255)),
}
INVALID: dict[str, st.SearchStrategy[Any]] = {
    "label": st.one_of(st.just(""), st.text(min_size=256, max_size=260), st.integers()),
    "verdict": st.sampled_from(["PASS", "yes", "", 1]),
    "score": st.one_of(
        st.sampled_from([-1, -0.001, 100.001, 101, True, "50"]),
        st.floats(100, 102, exclude_min=True),
        st.floats(-2, 0, exclude_max=True),
    ),
    "note": st.one_of(st.text(min_size=5001, max_size=5003), st.integers()),
    "metricId": st.one_of(UUIDS.map(lambda u: u.replace("-", "")), st.just("abc")),
    "externalId": st.one_of(st.text(min_size=256, max_size=258), st.integers()),
}
FIELDS = tuple(VALID)
# Invalid values weigh most: they are where emulator and contract could disagree.
CHANGES = ("none", "invalid", "invalid", "invalid", "null", "drop", "extra")


@st.composite
def bodies(draw: st.DrawFn) -> dict[str, Any]:
    """A valid body, then at most one change: a bad value, a null, a missing or an extra key."""
    body: dict[str, Any] = draw(
        st.fixed_dictionaries(
            {"label": VALID["label"]}, optional={k: v for k, v in VALID.items() if k != "label"}
        )
    )
    change = draw(st.sampled_from(CHANGES))
    field = draw(st.sampled_from(FIELDS))
    if change == "invalid":
        body[field] = draw(INVALID[field])
    elif change == "null":
        body[field] = None
    elif change == "drop":
        body.pop(field, None)
    elif change == "extra":
        body[draw(st.sampled_from(["adopt", "id", "Label", "source"]))] = True
    return body


def _input_schema() -> dict[str, Any]:
    spec = spec_document(ZELTO_SPEC)
    schema = dict(spec["components"]["schemas"]["CustomerMetricInput"])
    schema["additionalProperties"] = False  # unknown fields: refused (strict) or dropped first
    return {**schema, "components": spec["components"]}


VALIDATOR = jsonschema.Draft202012Validator(
    _input_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)


def _utf16_fits(body: dict[str, Any]) -> bool:
    limits = {"label": 255, "note": 5000, "externalId": 255}
    return all(
        len(body[k].encode("utf-16-le")) // 2 <= n
        for k, n in limits.items()
        if isinstance(body.get(k), str)
    )


def _expected(body: dict[str, Any], strict: bool) -> tuple[bool, dict[str, Any]]:
    """Whether the body should be accepted, and what should then be stored."""
    if strict:
        return VALIDATOR.is_valid(body) and _utf16_fits(body), body
    kept = {k: v for k, v in body.items() if k in FIELDS and v is not None}
    return VALIDATOR.is_valid(kept), kept


@pytest.fixture(scope="module", params=[True, False], ids=["strict", "lenient"])
def shared(
    request: pytest.FixtureRequest,
) -> Iterator[tuple[RunningEmulator, CheckedClient, str, bool]]:
    running = start_in_thread(EmulatorConfig(strict=request.param))
    client = CheckedClient(
        base_url=running.url,
        headers={"Authorization": f"Bearer {running.zelto_api_key}"},
        verify=TLS,
    )
    conversation = running.store.add_conversation()
    yield running, client, f"/v1/conversations/{conversation}/customer-metrics", request.param
    client.close()
    running.stop()


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=bodies())
def test_accepts_exactly_what_the_request_schema_allows(
    shared: tuple[RunningEmulator, CheckedClient, str, bool], body: dict[str, Any]
) -> None:
    _, client, path, strict = shared
    response = client.post(path, json=body)
    expected_ok, kept = _expected(body, strict)
    assert (response.status_code == 200) == expected_ok, (body, response.json())
    if expected_ok:
        stored = response.json()
        assert {k: stored[k] for k in kept} == kept
        assert all(stored[k] is None for k in FIELDS if k not in kept)
