"""The rules that span files: a conversation's records and the catalog are merged across all specs.

Within one conversation, ``externalId`` and ``label`` are unique (the server upserts on label,
so two records with one label would overwrite each other); a label is defined once in the
catalog; when a catalog exists, every record's label is in it and carries what the label's
``kind`` says. Each violation is reported at the later place and names the earlier one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from reconciler.display import lookalike_key
from reconciler.errors import Issue, Location
from reconciler.model import CatalogEntry, DeclaredRecord
from reconciler.spec.document import FileResult, LabelDecl, RecordDecl, location
from reconciler.spec.yamlio import did_you_mean, format_path

__all__ = ["KeyLocator", "MergedSpecs", "merge_results"]


@dataclass(frozen=True)
class MergedSpecs:
    """The merged catalog and records, and every cross-file problem found."""

    catalog: dict[str, CatalogEntry]
    conversations: dict[str, tuple[DeclaredRecord, ...]]
    issues: list[Issue]


#: (file, record, key) -> where that key of the record is written.
KeyLocator = Callable[[str, RecordDecl, str], Location]


class _Placed(NamedTuple):
    file: str
    decl: RecordDecl
    locator: KeyLocator

    def at(self, key: str) -> Location:
        return self.locator(self.file, self.decl, key)


def merge_results(results: Sequence[tuple[str, FileResult]], locator: KeyLocator) -> MergedSpecs:
    """Merge valid files' results (in sorted file order) and check the cross-file rules."""
    issues: list[Issue] = []
    catalog, catalog_places = _merge_catalog(results, issues)
    by_conversation: dict[str, list[tuple[str, RecordDecl]]] = {}
    for file, result in results:
        for decl in result.records:
            by_conversation.setdefault(decl.conversation_id, []).append((file, decl))
    conversations: dict[str, tuple[DeclaredRecord, ...]] = {}
    for conversation_id in sorted(by_conversation):
        pairs = by_conversation[conversation_id]
        if len(pairs) > 1 and not _all_distinct(pairs):
            _check_unique(conversation_id, pairs, "externalId", locator, issues)
            _check_unique(conversation_id, pairs, "label", locator, issues)
        if catalog:
            for file, decl in pairs:
                _check_catalog(_Placed(file, decl, locator), catalog, catalog_places, issues)
        declared = [
            DeclaredRecord.of(conversation_id, decl.record, Location(file, *decl.mark))
            for file, decl in pairs
        ]
        declared.sort(key=_record_order)
        conversations[conversation_id] = tuple(declared)
    return MergedSpecs(catalog=catalog, conversations=conversations, issues=issues)


def _record_order(declared: DeclaredRecord) -> tuple[str, str]:
    return declared.label, declared.external_id


def _merge_catalog(
    results: Sequence[tuple[str, FileResult]], issues: list[Issue]
) -> tuple[dict[str, CatalogEntry], dict[str, Location]]:
    catalog: dict[str, CatalogEntry] = {}
    places: dict[str, Location] = {}
    for file, result in results:
        for decl in result.labels:
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
    return format_path(("conversations", item.decl.conversation_id, item.decl.position, key))


def _all_distinct(pairs: Sequence[tuple[str, RecordDecl]]) -> bool:
    """The common case, decided without building anything: no externalId or label repeats,
    and no two labels look alike (:func:`reconciler.display.lookalike_key`)."""
    records = [decl.record for _file, decl in pairs]
    labels = {lookalike_key(r.label) for r in records}
    return len({r.external_id for r in records}) == len(labels) == len(records)


def _check_unique(
    conversation_id: str,
    pairs: Sequence[tuple[str, RecordDecl]],
    key: str,
    locator: KeyLocator,
    issues: list[Issue],
) -> None:
    first: dict[str, _Placed] = {}
    for file, decl in pairs:
        item = _Placed(file, decl, locator)
        value = _value(decl, key)
        seen = lookalike_key(value) if key == "label" else value
        if seen not in first:
            first[seen] = item
            continue
        earlier = first[seen]
        other = earlier.at(key)
        if _value(earlier.decl, key) != value:
            message = (
                f"label {value!a} looks the same as {_value(earlier.decl, key)!a} at "
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


def _value(decl: RecordDecl, key: str) -> str:
    return decl.record.external_id if key == "externalId" else decl.record.label


def _check_catalog(
    item: _Placed,
    catalog: dict[str, CatalogEntry],
    places: dict[str, Location],
    issues: list[Issue],
) -> None:
    if not catalog:
        return
    label = item.decl.record.label
    entry = catalog.get(label)
    if entry is None:
        guess = did_you_mean(label, sorted(catalog))
        hint = f"; did you mean '{guess}'?" if guess else ""
        known = sorted(catalog)
        listed = ", ".join(known[:10]) + (", ..." if len(known) > 10 else "")
        message = f"unknown label '{label}'{hint} (the catalog defines: {listed})"
        issues.append(Issue(item.at("label"), message, _record_path(item, "label")))
        return
    problem = _kind_problem(entry, item.decl)
    if problem is not None:
        key, sentence = problem
        defined = places[label]
        message = f"label '{label}' is of kind {entry.kind} (catalog at {defined}): {sentence}"
        issues.append(Issue(item.at(key), message, _record_path(item, key)))


def _kind_problem(entry: CatalogEntry, decl: RecordDecl) -> tuple[str, str] | None:
    """The field to point at and what is wrong with it, when a record does not fit its kind."""
    if entry.kind is None:
        return None
    record = decl.record
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
