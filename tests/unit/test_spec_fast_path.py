"""The fast path of spec checking (yamlio.plain) agrees with the located path on every input.

``check_file`` first builds values straight from the parser's events and, when in doubt, asks the
located path (``load_yaml`` and its node tree), whose answers are the reference. These tests hold
the two to the same answer: the same result for a valid file (values, marks, positions, which keys
were set), the same issues for an invalid one. Inputs are the fuzz corpus's tricky scalars and
keys (test_spec_fuzz), both in valid specs and in random spec-like documents, seeded.
"""

from __future__ import annotations

import random
import threading

import pytest
from test_spec_fuzz import KEYS, TRICKY, spec_like  # tests/unit is on sys.path

from reconciler.errors import SpecError
from reconciler.spec import document
from reconciler.spec.document import FileResult, check_file, result_json, result_to_json
from reconciler.spec.parallel import PARALLEL_MIN_BYTES, check_all, fork_context
from reconciler.spec.yamlio import DEFAULT_MAX_BYTES, load_yaml
from reconciler.spec.yamlio.plain import load_plain

FILE = "specs/a.yaml"
CID = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
CID2 = "9a1f6f2e-3a4b-4c5d-8e9f-0a1b2c3d4e5f"
AGENT = "5b7a1c9e-2d3f-4a6b-8c0d-1e2f3a4b5c6d"

VALID = f"""\
# a comment
labels:
  Empathy: {{metricId: {CID2}, kind: score}}
  "Compliance Check":
    metricId:
      {AGENT}: {CID}
      {CID2}: {CID2}
  Hold: {{}}
conversations:
  {CID}:
    - externalId: qa-1
      label: Empathy
      score: 85
    - {{externalId: "qa-2", label: 'Compliance Check', verdict: pass, score: 92.5, adopt: true}}
    - externalId: qa-3
      label: Hold
      verdict: fail
      metricId: {CID2}
      note: |
        two lines,
        kept as written
  "{CID2}":
  - externalId: qa-4
    label: Empathy
    score: 0
    note: "tab\\there, \\r\\n kept"
"""


def _outcome(data: bytes, check: object = check_file) -> object:
    """A valid file's result in every detail, or the issues of an invalid one."""
    try:
        result = check(FILE, data)  # type: ignore[operator]
    except SpecError as exc:
        return ("issues", [(str(i.location), i.message, i.path) for i in exc.issues])
    assert isinstance(result, FileResult)
    fields_set = [sorted(decl.record.model_fields_set) for decl in result.records]
    return ("result", result, result_to_json(result), fields_set)


def _located(file: str, data: bytes) -> FileResult:
    return document._check_located(file, data, DEFAULT_MAX_BYTES)


def _agree(data: bytes) -> None:
    assert _outcome(data) == _outcome(data, _located), data
    plain = load_plain(data, FILE) if len(data) <= DEFAULT_MAX_BYTES else None
    if plain is not None:  # whatever it accepts, load_yaml reads the same
        assert _types(plain.data) == _types(load_yaml(data, FILE).data), data


def _types(value: object) -> object:
    """The value with every type named (1, 1.0 and True are equal but not the same; nan is not
    equal to itself)."""
    if isinstance(value, dict):
        return [(_types(k), _types(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [_types(v) for v in value]
    return (type(value).__name__, repr(value))


def test_a_valid_spec_takes_the_fast_path_and_gives_the_located_result() -> None:
    data = VALID.encode()
    plain = load_plain(data, FILE)
    assert plain is not None
    assert document._plain_result(plain) is not None
    _agree(data)
    result = check_file(FILE, data)
    assert [decl.mark for decl in result.records] == [(11, 7), (14, 7), (15, 7), (23, 5)]
    assert [label.mark for label in result.labels] == [(3, 3), (4, 3), (8, 3)]


def test_crlf_and_a_byte_order_mark_keep_the_fast_path() -> None:
    data = ("\ufeff" + VALID.replace("\n", "\r\n")).encode()
    assert load_plain(data, FILE) is not None
    _agree(data)


@pytest.mark.parametrize(
    "text",
    [
        "a: &x 1\nb: *x\n",  # anchors and aliases
        "a: !!str 1\n",  # an explicit tag
        "a: ! 1\n",  # the non-specific tag
        "<<: {a: 1}\n",  # a merge key
        "a: 1\na: 2\n",  # a repeated key
        "1: a\n1.0: b\n",  # equal keys of different types
        "? [a]\n: 1\n",  # a list as a key
        ": 1\n",  # a null key
        'a: "\\e[2K"\n',  # an escaped control character
        "a: b\u202ec\n",  # a bidi override
        "a: 1\n---\nb: 2\n",  # two documents
        "",  # no document
        "# only a comment\n",
        "a: [" * 40 + "]" * 40 + "\n",  # nesting near the cap
        "a: b: c\n",  # a syntax error
    ],
)
def test_the_fast_path_leaves_anything_unusual_to_the_located_path(text: str) -> None:
    data = text.encode()
    assert load_plain(data, FILE) is None
    _agree(data)


def test_a_valid_document_that_is_not_a_spec_is_worded_by_the_located_path() -> None:
    data = b"- a\n- b\n"
    assert load_plain(data, FILE) is not None
    _agree(data)


def test_bytes_refused_before_parsing_are_refused_the_same_way() -> None:
    for data in (b"a: \xff\n", b"a: \x01\n", "a: b".encode("utf-16"), b"a: " + b"x" * 200):
        with pytest.raises(SpecError) as fast:
            load_plain(data, FILE, max_bytes=100)
        with pytest.raises(SpecError) as located:
            load_yaml(data, FILE, max_bytes=100)
        assert fast.value.issues == located.value.issues


def _mutated(rng: random.Random) -> bytes:
    """The valid spec with a few values or keys swapped for tricky ones."""
    lines = VALID.splitlines()
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(lines))
        head, colon, _tail = lines[i].partition(": ")
        if colon and rng.random() < 0.7:
            lines[i] = f"{head}: {rng.choice(TRICKY)}"
        elif colon:
            indent = head[: len(head) - len(head.lstrip(" -"))]
            lines[i] = f"{indent}{rng.choice(KEYS)}: {rng.choice(TRICKY)}"
        else:
            lines[i] = lines[i].replace(CID, rng.choice([CID.upper(), "{" + CID + "}", CID2]))
    return ("\n".join(lines) + "\n").encode("utf-8", errors="surrogatepass")


@pytest.mark.parametrize("kind", ["mutated valid specs", "spec-like documents"])
def test_the_fast_path_agrees_with_the_located_path_on_fuzzed_inputs(kind: str) -> None:
    rng = random.Random(20261215)
    fast_taken = 0
    for _ in range(1500):
        if kind == "mutated valid specs":
            data = _mutated(rng)
        else:
            data = spec_like(rng, rng.choice(TRICKY))
        _agree(data)
        fast_taken += load_plain(data, FILE) is not None
    assert fast_taken > 100  # the comparison exercised the fast path, not only its refusals


def test_results_back_from_worker_processes_are_the_serial_results_in_every_detail() -> None:
    # Workers send results back as JSON text: which keys were set must survive (the cache
    # stores results with exclude_unset), not only the values.
    sources = [(f"team/{i:03d}.yaml", _worker_spec(i)) for i in range(300)]
    assert sum(len(data) for _file, data in sources) > PARALLEL_MIN_BYTES
    if fork_context() is None:  # a thread left running by another test: no fork here
        pytest.skip(f"threads alive: {[t.name for t in threading.enumerate()]}")
    checked = list(check_all(sources, DEFAULT_MAX_BYTES))
    parallel = [each.outcome for each in checked]
    serial = [
        _outcome(data, lambda _f, d, file=file: check_file(file, d)) for file, data in sources
    ]
    assert [_as_outcome(outcome) for outcome in parallel] == serial
    assert serial[123][0] == "issues" and serial[0][0] == "result"
    # The text a worker sent is what the cache stores: the serial result's, byte for byte.
    pairs = zip(sources, serial, strict=True)
    valid = [(file, data) for (file, data), kind in pairs if kind[0] == "result"]
    sent = [each.text for each in checked if isinstance(each.outcome, FileResult)]
    assert sent == [result_json(check_file(file, data)) for file, data in valid]


def _worker_spec(i: int) -> bytes:
    text = VALID.replace("qa-", f"qa-{i}-") + "    adopt: false\n" + "# padding\n" * 400
    if i == 123:
        text = text.replace("score: 85", "score: 185")
    return text.encode()


def _as_outcome(outcome: object) -> object:
    if isinstance(outcome, FileResult):
        return _outcome(b"", lambda _file, _data: outcome)
    assert isinstance(outcome, tuple)
    return ("issues", [(str(i.location), i.message, i.path) for i in outcome])
