"""One spec file: bytes in, validated records and catalog entries with their places out.

This is the unit of work that runs in worker processes and that the cache stores, so it depends
on nothing but the file's own bytes: the same content gives the same result wherever it lives.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple
from uuid import UUID

from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml.nodes import MappingNode, Node, SequenceNode

from reconciler.errors import Issue, Location, SpecError
from reconciler.model import CatalogEntry, DeclaredRecord, MetricRecord, SpecDocument
from reconciler.spec.yamlio import (
    DEFAULT_MAX_BYTES,
    Loc,
    YamlDocument,
    load_yaml,
    location_at,
    node_parent,
    validation_issues,
)
from reconciler.spec.yamlio.plain import PlainDocument, load_plain

__all__ = [
    "MAX_RECORDS_PER_FILE",
    "FileResult",
    "LabelDecl",
    "RecordDecl",
    "check_file",
    "explain_spec_error",
    "key_location",
    "location",
    "result_json",
    "result_to_json",
    "results_from_json",
    "results_from_json_text",
]

Mark = tuple[int, int]

#: Records declared in one file. Checked before validation: a file of a million list items
#: would otherwise make a million errors (and took 2.8 GB to print them).
MAX_RECORDS_PER_FILE = 10_000


# Named tuples rather than dataclasses: a warm run rebuilds 20,000 of them from the cache, and
# pydantic validates and builds named tuples in one native pass.
class LabelDecl(NamedTuple):
    """A catalog entry and where its label is written."""

    label: str
    entry: CatalogEntry
    mark: Mark


class RecordDecl(NamedTuple):
    """A validated record, where it starts, and its index in its conversation's list.

    Places of single keys are not kept: they are needed only for cross-file errors, which are
    rare, and :func:`key_location` finds them again from the file's bytes.
    """

    conversation_id: str
    record: MetricRecord
    mark: Mark
    position: int = 0


class FileResult(NamedTuple):
    """Everything one valid file declares, in file order."""

    labels: tuple[LabelDecl, ...] = ()
    records: tuple[RecordDecl, ...] = ()


_RECORD_FIELDS = (
    "externalId (1-255 characters), label (1-255 characters), verdict (pass or fail) and/or "
    "score (0-100), and optionally note, metricId, adopt"
)
#: Zelto's limits are also counted in UTF-16 code units (model.py, docs/contract.md).
_UNITS = " (also counted in UTF-16 code units, where an emoji counts 2)"
_FIELD_RULES: dict[str, str] = {
    "externalId": "externalId must be a string of 1 to 255 characters" + _UNITS,
    "label": "label must be a string of 1 to 255 characters" + _UNITS,
    "verdict": "verdict must be pass or fail",
    "score": "score must be a number from 0 to 100",
    "note": "note must be a string of at most 5000 characters" + _UNITS,
    "metricId": "metricId must be a UUID",
    "adopt": "adopt must be true or false",
}


def explain_spec_error(loc: Loc, error: ErrorDetails) -> str | None:
    """What is allowed at a place in a spec file, in the spec's own terms."""
    if not loc:
        return "a spec file must be a mapping with the keys labels and/or conversations"
    if loc[0] == "labels":
        return _explain_catalog(loc)
    if loc[0] == "conversations":
        return _explain_conversations(loc, error)
    return None


def _explain_catalog(loc: Loc) -> str:
    if loc[-1] == "[key]":
        return "a label must be a string of 1 to 255 characters" + _UNITS
    if len(loc) == 1:
        return "labels must be a mapping from label to {metricId, kind}"
    if len(loc) == 2:
        return "a catalog entry must be a mapping with metricId and/or kind (write {} for neither)"
    if loc[2] == "kind":
        return "kind must be verdict, score or both"
    return "metricId must be a UUID, or a mapping from agent UUID to metric UUID"


def _explain_conversations(loc: Loc, error: ErrorDetails) -> str | None:
    if loc[-1] == "[key]":
        return "a conversation id must be a UUID"
    if len(loc) == 1:
        return "conversations must be a mapping from conversation UUID to a list of records"
    if len(loc) == 2:
        return "the records of a conversation must be a list"
    if len(loc) == 3:
        if error["type"] == "value_error":
            return None  # the model's own sentence (at least one of verdict and score)
        return f"a record must be a mapping with {_RECORD_FIELDS}"
    return _FIELD_RULES.get(str(loc[3]))


def check_file(file: str, data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> FileResult:
    """Parse and validate one spec file. Raises SpecError with every problem in it.

    A valid file takes the fast path (:func:`load_plain`: values and record places straight from
    the parser, no node tree), ~4x cheaper on a cold load. Any doubt on the way, a problem or
    anything unusual, and the file is checked again by the located path, whose findings and
    messages are the only ones a user sees.
    """
    plain = load_plain(data, file, max_bytes=max_bytes)
    if plain is not None:
        result = _plain_result(plain)
        if result is not None:
            return result
    return _check_located(file, data, max_bytes)


def _plain_result(plain: PlainDocument) -> FileResult | None:
    """The result of a file that passes every per-file rule; None to let the located path say
    what is wrong (each test below is the same rule as in :func:`_check_located`)."""
    data = plain.data
    if not isinstance(data, dict):
        return None
    conversations = data.get("conversations")
    if isinstance(conversations, dict):
        lists = [records for records in conversations.values() if isinstance(records, list)]
        if sum(map(len, lists)) > MAX_RECORDS_PER_FILE:
            return None
    try:
        spec = SpecDocument.model_validate(data)
    except ValidationError:
        return None
    if len(spec.conversations) != len(conversations or ()):
        return None  # two spellings of one conversation UUID
    labels: dict[str, Any] = data.get("labels") or {}
    for label, entry in spec.labels.items():
        if isinstance(entry.metric_id, dict):
            written = labels[label].get("metricId")
            if not isinstance(written, dict) or len(written) != len(entry.metric_id):
                return None
    label_decls = tuple(
        LabelDecl(label, spec.labels[label], plain.key_marks[("labels", label)]) for label in labels
    )
    records: list[RecordDecl] = []
    marks = plain.marks
    for (conversation, declared), written_id in zip(
        spec.conversations.items(), conversations or (), strict=True
    ):
        conversation_id = str(conversation)
        for index, record in enumerate(declared):
            mark = marks[("conversations", written_id, index)]
            records.append(RecordDecl(conversation_id, record, mark, index))
    return FileResult(labels=label_decls, records=tuple(records))


def _check_located(file: str, data: bytes, max_bytes: int) -> FileResult:
    """The reference path: every problem of the file, each at its place in it."""
    doc = load_yaml(data, file, max_bytes=max_bytes)
    if doc.data is None:
        return FileResult()
    if not isinstance(doc.data, dict):
        kind = "a list" if isinstance(doc.data, list) else "a single value"
        message = (
            f"the top level is {kind}; a spec file must be a mapping with the keys "
            "labels and/or conversations"
        )
        raise SpecError([Issue(location_at(file, doc.root), message)])
    _check_record_count(doc)
    try:
        spec = SpecDocument.model_validate(doc.data)
    except ValidationError as exc:
        raise SpecError(validation_issues(doc, exc, SpecDocument, explain_spec_error)) from None
    _check_uuid_keys(doc, spec)
    return FileResult(labels=_labels(doc, spec), records=_records(doc, spec))


def _check_record_count(doc: YamlDocument) -> None:
    """Refuse a file of more than MAX_RECORDS_PER_FILE records at the first one past the cap."""
    conversations = node_parent(doc.root, ("conversations",))
    if not isinstance(conversations, MappingNode):
        return
    seen = 0
    for _key, records in conversations.value:
        if not isinstance(records, SequenceNode):
            continue
        if seen + len(records.value) > MAX_RECORDS_PER_FILE:
            past = records.value[MAX_RECORDS_PER_FILE - seen]
            message = (
                f"more than {MAX_RECORDS_PER_FILE:,} records in one file; split it into "
                "several spec files (nothing in this file was checked)"
            )
            raise SpecError([Issue(location_at(doc.file, past), message)])
        seen += len(records.value)


def _check_uuid_keys(doc: YamlDocument, spec: SpecDocument) -> None:
    """Two spellings of one UUID (case, braces) would be merged silently by validation."""
    issues = _repeated_uuids(doc, ("conversations",), len(spec.conversations), "conversation")
    for label, entry in spec.labels.items():
        if isinstance(entry.metric_id, dict):
            loc = ("labels", label, "metricId")
            issues += _repeated_uuids(doc, loc, len(entry.metric_id), "agent")
    if issues:
        raise SpecError(issues)


def _repeated_uuids(doc: YamlDocument, loc: Loc, distinct: int, what: str) -> list[Issue]:
    node = node_parent(doc.root, loc)
    if not isinstance(node, MappingNode) or len(node.value) == distinct:
        return []
    first: dict[str, Node] = {}
    issues = []
    for key, _value in node.value:
        canonical = str(UUID(str(key.value)))
        if canonical in first:
            where = location_at(doc.file, first[canonical])
            message = f"{what} {canonical} is listed twice here (first at {where})"
            issues.append(Issue(location_at(doc.file, key), message))
        else:
            first[canonical] = key
    return issues


def _mark(node: Node) -> Mark:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _labels(doc: YamlDocument, spec: SpecDocument) -> tuple[LabelDecl, ...]:
    node = node_parent(doc.root, ("labels",))
    if not isinstance(node, MappingNode):
        return ()
    return tuple(
        LabelDecl(label=str(key.value), entry=spec.labels[str(key.value)], mark=_mark(key))
        for key, _value in node.value
    )


def _records(doc: YamlDocument, spec: SpecDocument) -> tuple[RecordDecl, ...]:
    node = node_parent(doc.root, ("conversations",))
    if not isinstance(node, MappingNode):
        return ()
    out: list[RecordDecl] = []
    # Validated keys are UUIDs in file order (duplicates were refused), so they pair with nodes.
    for (conversation, records), (_key, list_node) in zip(
        spec.conversations.items(), node.value, strict=True
    ):
        conversation_id = str(conversation)
        for index, (record, record_node) in enumerate(zip(records, list_node.value, strict=True)):
            out.append(RecordDecl(conversation_id, record, _mark(record_node), index))
    return tuple(out)


def key_location(data: bytes, record: DeclaredRecord, position: int, key: str) -> Location:
    """Where ``key`` of a record is written in its file's bytes ``data`` (the record's start
    when the key is absent); ``position`` is its index in its conversation's list there."""
    fallback = record.location
    try:
        doc = load_yaml(data, record.file)
    except SpecError:
        return fallback
    loc: Loc = ("conversations", record.conversation_id, position, key)
    if node_parent(doc.root, loc) is None:
        return fallback
    return doc.key_location(loc)


_RESULT = TypeAdapter(FileResult)
_RESULTS = TypeAdapter(list[FileResult])


def result_to_json(result: FileResult) -> Any:
    """A JSON-safe form of a valid file's result, for the cache."""
    return _RESULTS.dump_python([result], mode="json", exclude_unset=True)[0]


def result_json(result: FileResult) -> bytes:
    """:func:`result_to_json` as compact JSON text (UTF-8, not ASCII-escaped), in one native
    pass: what the cache stores, and how worker processes send results back."""
    return _RESULT.dump_json(result, exclude_unset=True)


def results_from_json_text(text: bytes) -> list[FileResult]:
    """:func:`results_from_json` of a JSON array's text, parsed and validated in one pass."""
    return _RESULTS.validate_json(text)


def results_from_json(stored: Sequence[Any]) -> list[FileResult]:
    """Rebuild results from cache entries, validating them again in one batch.

    A cache entry is evidence, never trusted as is: anything malformed raises pydantic's
    ValidationError (a ValueError) and the caller parses those files again.
    """
    return _RESULTS.validate_python(stored)


def location(file: str, mark: Mark) -> Location:
    """A Location from a stored mark."""
    return Location(file, mark[0], mark[1])
