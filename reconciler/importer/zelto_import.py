"""``reconciler import zelto``: the records Zelto holds now become specs, so git can own them.

Planning right after an import shows no creates or updates: every written record equals the
remote one field by field. Records that Zelto holds without an externalId get a stable generated
one (``zelto:<record id>``) and a comment saying so; the plan shows them as ``conflict`` (the remote
externalId is null) until ``apply --adopt`` takes them over. Records that other spec files already
declare (by label or externalId) are left to those files and listed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from reconciler.config import LoadedConfig
from reconciler.errors import ApiError
from reconciler.importer.specfile import (
    GeneratedFile,
    generated_marker,
    render_spec,
    yaml_string,
)
from reconciler.importer.writing import (
    ImportReport,
    ImportRun,
    existing_spec_paths,
    finish_import,
)
from reconciler.model import DeclaredRecord, MetricRecord, RemoteRecord
from reconciler.remote.zelto import ZeltoClient
from reconciler.spec import discover_spec_files, load_specs

__all__ = [
    "ZELTO_MARKER",
    "ConversationImport",
    "adopted_external_id",
    "conversation_import",
    "run_zelto_import",
]

ZELTO_MARKER = generated_marker("zelto")


@dataclass(frozen=True)
class ConversationImport:
    """One conversation's records as specs, and why some remote records were not written."""

    conversation_id: str
    records: tuple[MetricRecord, ...]
    comments: Mapping[str, str]
    errors: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def adopted_external_id(record: RemoteRecord) -> str:
    """A stable externalId for a record Zelto holds without one: its server id never changes."""
    return f"zelto:{record.id}"


def conversation_import(
    conversation_id: str,
    remote: Iterable[RemoteRecord],
    declared: Sequence[DeclaredRecord] = (),
) -> ConversationImport:
    """Pure: one conversation's remote records → spec records, skipping ones declared elsewhere."""
    by_label = {d.label: d for d in declared}
    by_external = {d.external_id: d for d in declared}
    records: list[MetricRecord] = []
    comments: dict[str, str] = {}
    errors: list[str] = []
    notes: list[str] = []
    elsewhere: list[str] = []
    for item in sorted(remote, key=lambda r: (r.label, r.id)):
        where = f"conversation {conversation_id}, record {item.id} (label {item.label!r})"
        other = by_label.get(item.label) or by_external.get(item.external_id or "")
        if other is not None:
            elsewhere.append(f"{item.label!r} ({other.location})")
            continue
        try:
            record = _spec_record(item)
        except ValidationError as exc:
            errors.append(f"{where}: cannot be written as a spec: {_reasons(exc)}")
            continue
        if item.external_id is None:
            comments[record.external_id] = (
                f"adopt: Zelto holds record {item.id} without an externalId; the plan shows a "
                "conflict until `reconciler apply --adopt` takes it over"
            )
        records.append(record)
    if elsewhere:
        notes.append(
            f"conversation {conversation_id}: {len(elsewhere)} record"
            f"{'s' if len(elsewhere) != 1 else ''} already declared in other spec files, left "
            f"to them: {', '.join(elsewhere)}"
        )
    return ConversationImport(
        conversation_id, tuple(records), comments, tuple(errors), tuple(notes)
    )


def _spec_record(item: RemoteRecord) -> MetricRecord:
    return MetricRecord.model_validate(
        {
            "externalId": item.external_id
            if item.external_id is not None
            else adopted_external_id(item),
            "label": item.label,
            "verdict": item.verdict,
            "score": _score(item.score),
            "note": item.note,
            "metricId": item.metric_id,
        }
    )


def _score(score: float | None) -> int | float | None:
    if score is None:
        return None
    return int(score) if float(score).is_integer() else float(score)


def _reasons(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'record'}: {e['msg']}"
        for e in exc.errors(include_input=False)
    )


def _header(conversation_id: str, target: str) -> list[str]:
    return [
        ZELTO_MARKER,
        "# Do not edit by hand: re-run `reconciler import zelto` to update it, or move the",
        "# records into a hand-written spec and delete this file.",
        f"# Source: the records target {yaml_string(target)} held for conversation "
        f"{conversation_id}.",
    ]


def _declared_elsewhere(
    loaded: LoadedConfig, ours: set[Path]
) -> Mapping[str, tuple[DeclaredRecord, ...]]:
    """What the other spec files declare (they must be valid: an import builds on them)."""
    found = discover_spec_files(existing_spec_paths(loaded))
    files = [p for p in found if p.resolve() not in ours]
    return load_specs(files, root=loaded.root).conversations


async def run_zelto_import(
    loaded: LoadedConfig,
    client: ZeltoClient,
    conversation_ids: Sequence[str],
    *,
    out_dir: Path,
    partial: bool = False,
) -> ImportReport:
    """Read every conversation (one GET each), build files, write them all or nothing."""
    ids = sorted({c.lower() for c in conversation_ids})
    target_files = {cid: out_dir / f"{cid}.yaml" for cid in ids}
    declared = _declared_elsewhere(loaded, {p.resolve() for p in target_files.values()})
    fetched = await client.read_many(ids)
    errors: list[str] = []
    warnings: list[str] = []
    files: list[GeneratedFile] = []
    records = 0
    for cid in ids:
        answer = fetched[cid]
        if isinstance(answer, ApiError):
            errors.append(f"conversation {cid}: {answer}")
            continue
        result = conversation_import(cid, answer, declared.get(cid, ()))
        errors += result.errors
        warnings += result.notes
        if result.errors:
            continue
        if not result.records:
            warnings.append(f"conversation {cid}: no records to import; no file written")
            continue
        records += len(result.records)
        text = render_spec(_header(cid, client.target), cid, result.records, result.comments)
        files.append(GeneratedFile(target_files[cid], text))
    run = ImportRun(tuple(files), tuple(errors), tuple(warnings), records)
    return finish_import(loaded, run, ZELTO_MARKER, out_dir, partial=partial)
