"""The rules that span files: a conversation's records and the catalog are merged across all specs.

Within one conversation, ``externalId`` and ``label`` are unique (the server upserts on label,
so two records with one label would overwrite each other); a label is defined once in the
catalog; when a catalog exists, every record's label is in it and carries what the label's
``kind`` says. Each violation is reported at the later place and names the earlier one.

The merge works on each file's result in its compact form (:func:`compact`), made as soon as the
file's check is done: a cold load of 400,000 records used to hold every file's validated models
(about 1 KB per record) until the merge, which was most of its peak memory. The compact records
are the desired state's own, so merging only groups and sorts them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from reconciler.display import lookalike_key
from reconciler.errors import Issue, Location
from reconciler.model import CatalogEntry, DeclaredRecord
from reconciler.spec.document import FileResult, LabelDecl, location
from reconciler.spec.yamlio import did_you_mean, format_path

__all__ = ["FileRows", "KeyLocator", "MergedSpecs", "compact", "merge_results"]


@dataclass(frozen=True)
class MergedSpecs:
    """The merged catalog and records, and every cross-file problem found."""

    catalog: dict[str, CatalogEntry]
    conversations: dict[str, tuple[DeclaredRecord, ...]]
    issues: list[Issue]


class FileRows(NamedTuple):
    """One valid file's result in the desired state's own form: its catalog entries, and its
    records as :class:`~reconciler.model.DeclaredRecord` in file order (no models)."""

    labels: tuple[LabelDecl, ...] = ()
    records: tuple[DeclaredRecord, ...] = ()


#: (record, its index in its conversation's list in its file, key) -> where that key is written.
KeyLocator = Callable[[DeclaredRecord, int, str], Location]


def compact(file: str, result: FileResult) -> FileRows:
    """A file's result as compact records, so that its models can be dropped right away.

    The conversation id is shared by its records (one string per conversation, not per record).
    A record's index in its conversation's list is not kept: only an error message needs it,
    and :func:`_position` counts it again.
    """
    rows: list[DeclaredRecord] = []
    conversation_id = ""
    for decl in result.records:
        if decl.conversation_id != conversation_id:
            conversation_id = decl.conversation_id
        line, column = decl.mark
        rows.append(DeclaredRecord.at(conversation_id, decl.record, file, line, column))
    return FileRows(result.labels, tuple(rows))


class _Placed(NamedTuple):
    record: DeclaredRecord
    position: int
    locator: KeyLocator

    def at(self, key: str) -> Location:
        return self.locator(self.record, self.position, key)


def merge_results(results: Sequence[tuple[str, FileRows]], locator: KeyLocator) -> MergedSpecs:
    """Merge valid files' compact results (in sorted file order); check the cross-file rules."""
    issues: list[Issue] = []
    catalog, catalog_places = _merge_catalog(results, issues)
    by_conversation: dict[str, list[DeclaredRecord]] = {}
    for _file, rows in results:
        for row in rows.records:
            by_conversation.setdefault(row.conversation_id, []).append(row)
    conversations: dict[str, tuple[DeclaredRecord, ...]] = {}
    for conversation_id in sorted(by_conversation):
        declared = by_conversation.pop(conversation_id)
        if len(declared) > 1 and not _all_distinct(declared):
            _check_unique(conversation_id, declared, "externalId", locator, issues)
            _check_unique(conversation_id, declared, "label", locator, issues)
        if catalog:
            for index in range(len(declared)):
                _check_catalog(
                    declared, index, catalog, catalog_places, locator=locator, issues=issues
                )
        declared.sort(key=_record_order)
        conversations[conversation_id] = tuple(declared)
    return MergedSpecs(catalog=catalog, conversations=conversations, issues=issues)


def _position(declared: Sequence[DeclaredRecord], index: int) -> int:
    """The record's index in its conversation's list in its file. A conversation is listed once
    per file (a file that repeats it is refused), and the merge keeps file order, so its records
    from one file are consecutive in ``declared`` and in their written order."""
    file = declared[index].file
    first = index
    while first > 0 and declared[first - 1].file == file:
        first -= 1
    return index - first


def _placed(declared: Sequence[DeclaredRecord], index: int, locator: KeyLocator) -> _Placed:
    return _Placed(declared[index], _position(declared, index), locator)


def _record_order(declared: DeclaredRecord) -> tuple[str, str]:
    return declared.label, declared.external_id


def _merge_catalog(
    results: Sequence[tuple[str, FileRows]], issues: list[Issue]
) -> tuple[dict[str, CatalogEntry], dict[str, Location]]:
    catalog: dict[str, CatalogEntry] = {}
    places: dict[str, Location] = {}
    for file, rows in results:
        for decl in rows.labels:
            here = location(file, decl.mark)
            if decl.label in places:
                first = places[decl.label]
                message = f"label '{decl.label}' is defined twice in the catalog (also at {first})"
                issues.append(Issue(here, message, _label_path(decl)))
                continue
            catalog[decl.label] = decl.entry
            places[decl.label] = here
    return catalog, places


def _label_path(decl: LabelDecl) -> str:
    return format_path(("labels", decl.label))


def _record_path(item: _Placed, key: str) -> str:
    return format_path(("conversations", item.record.conversation_id, item.position, key))


def _all_distinct(declared: Sequence[DeclaredRecord]) -> bool:
    """The common case, decided without building anything: no externalId or label repeats,
    and no two labels look alike (:func:`reconciler.display.lookalike_key`)."""
    labels = {lookalike_key(r.label) for r in declared}
    return len({r.external_id for r in declared}) == len(labels) == len(declared)


def _check_unique(
    conversation_id: str,
    declared: Sequence[DeclaredRecord],
    key: str,
    locator: KeyLocator,
    issues: list[Issue],
) -> None:
    first: dict[str, int] = {}
    for index, record in enumerate(declared):
        value = _value(record, key)
        seen = lookalike_key(value) if key == "label" else value
        if seen not in first:
            first[seen] = index
            continue
        item, earlier = _placed(declared, index, locator), _placed(declared, first[seen], locator)
        other = earlier.at(key)
        if _value(earlier.record, key) != value:
            message = (
                f"label {value!a} looks the same as {_value(earlier.record, key)!a} at "
                f"{other} in conversation {conversation_id}: they differ only in Unicode "
                "normalisation, invisible characters or outer spaces, so a reviewer cannot tell "
                "them apart; write one spelling"
            )
        else:
            why = " (the server keeps one record per label)" if key == "label" else ""
            message = (
                f"{key} '{value}' is used twice in conversation {conversation_id}: "
                f"here and at {other}{why}"
            )
        issues.append(Issue(item.at(key), message, _record_path(item, key)))


def _value(record: DeclaredRecord, key: str) -> str:
    return record.external_id if key == "externalId" else record.label


def _check_catalog(
    declared: Sequence[DeclaredRecord],
    index: int,
    catalog: dict[str, CatalogEntry],
    places: dict[str, Location],
    *,
    locator: KeyLocator,
    issues: list[Issue],
) -> None:
    record = declared[index]
    label = record.label
    entry = catalog.get(label)
    if entry is None:
        item = _placed(declared, index, locator)
        guess = did_you_mean(label, sorted(catalog))
        hint = f"; did you mean '{guess}'?" if guess else ""
        known = sorted(catalog)
        listed = ", ".join(known[:10]) + (", ..." if len(known) > 10 else "")
        message = f"unknown label '{label}'{hint} (the catalog defines: {listed})"
        issues.append(Issue(item.at("label"), message, _record_path(item, "label")))
        return
    problem = _kind_problem(entry, record)
    if problem is not None:
        item = _placed(declared, index, locator)
        key, sentence = problem
        defined = places[label]
        message = f"label '{label}' is of kind {entry.kind} (catalog at {defined}): {sentence}"
        issues.append(Issue(item.at(key), message, _record_path(item, key)))


def _kind_problem(entry: CatalogEntry, record: DeclaredRecord) -> tuple[str, str] | None:
    """The field to point at and what is wrong with it, when a record does not fit its kind."""
    if entry.kind is None:
        return None
    has_verdict, has_score = record.verdict is not None, record.score is not None
    wants_verdict = entry.kind in ("verdict", "both")
    wants_score = entry.kind in ("score", "both")
    if wants_verdict and not has_verdict:
        return "label", "its records need a verdict"
    if wants_score and not has_score:
        return "label", "its records need a score"
    if has_verdict and not wants_verdict:
        return "verdict", "its records carry no verdict"
    if has_score and not wants_score:
        return "score", "its records carry no score"
    return None
