"""``reconciler import siro``: read each mapped recording's values, map them, write specs.

Recordings are found in few requests (``siro_fetch``: batches probed, only those with values in the
window split down to one recording), paced by the client's 1,000-requests-per-minute limiter.
Problems are collected for the whole run, then the run is all or nothing: with any error nothing is
written (unless ``partial``, which writes the recordings that had none and still fails the run).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from reconciler.config import LoadedConfig
from reconciler.config.siro import SiroSettings
from reconciler.errors import ApiError
from reconciler.importer.siro_fetch import NeverEvaluated, Outcome, fetch_values
from reconciler.importer.siro_records import (
    Problem,
    RecordingRecords,
    SiroValue,
    records_for_recording,
)
from reconciler.importer.specfile import (
    GeneratedFile,
    generated_marker,
    render_spec,
    yaml_string,
)
from reconciler.importer.writing import ImportReport, ImportRun, finish_import
from reconciler.remote.siro import MetricValue, SiroClient, SiroQuery

__all__ = [
    "SIRO_MARKER",
    "SiroBuild",
    "build_siro_files",
    "format_instant",
    "run_siro_import",
]

SIRO_MARKER = generated_marker("siro")

Fetched = Mapping[str, Outcome]


@dataclass(frozen=True)
class SiroBuild:
    """Files to write and every problem, before anything touches the disk."""

    files: tuple[GeneratedFile, ...]
    problems: tuple[Problem, ...]
    results: tuple[RecordingRecords, ...]

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "warning")


def format_instant(moment: datetime) -> str:
    """ISO 8601 in UTC with ``Z``, the form Siro's examples use."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _siro_value(value: MetricValue) -> SiroValue:
    return SiroValue(
        metric_type=value.metric_type,
        name=value.name,
        id=value.id,
        unit=value.unit,
        unit_abbreviated=value.unit_abbreviated,
        description=value.description,
        value=value.value,
        pass_rate=value.pass_rate,
    )


def build_siro_files(
    settings: SiroSettings,
    recordings: Mapping[str, str],
    fetched: Fetched,
    out_dir: Path,
    *,
    partial: bool = False,
) -> SiroBuild:
    """Pure: fetched values → files and problems. Recordings in sorted order, always."""
    problems: list[Problem] = []
    results: list[RecordingRecords] = []
    for recording_id in sorted(fetched):
        answer = fetched[recording_id]
        if isinstance(answer, ApiError):
            problems.append(_api_problem(recording_id, answer))
            continue
        if isinstance(answer, NeverEvaluated):
            problems.append(Problem("error", recording_id, _NEVER_EVALUATED))
            continue
        if answer.count == 0 or not answer.metric_values:
            problems.append(Problem("warning", recording_id, _NO_VALUES))
            continue
        values = [_siro_value(v) for v in answer.metric_values]
        result = records_for_recording(recording_id, recordings[recording_id], values, settings)
        results.append(result)
        problems.extend(result.problems)
        if not result.records and result.ok:
            problems.append(Problem("warning", recording_id, _NOTHING_MAPPED))
    problems += _unmapped_warnings(results) + _unmatched_warnings(settings, results)
    failed = any(p.severity == "error" for p in problems)
    files = [] if failed and not partial else _files(settings, results, out_dir)
    return SiroBuild(tuple(files), tuple(sorted(problems)), tuple(results))


_NO_VALUES = (
    "no values in the window (Siro evaluated no such recording between --start and --end); "
    "no record made, an existing file is kept"
)
_NEVER_EVALUATED = (
    "Siro has never evaluated this recording (count 0 at any time up to --end): check the "
    "recording id in the mapping"
)
_NOTHING_MAPPED = "none of its metrics has a mapping; no file written"


def _api_problem(recording_id: str, error: ApiError) -> Problem:
    if error.status == 404:
        return Problem(
            "error",
            recording_id,
            "Siro does not know this recording (404): check the recording id in the mapping, "
            "siro.organizationId, the Siro URL and the token's user",
        )
    text = str(error)
    # The client names the recording in most messages; name it once, always.
    if f"recording {recording_id}:" in text:
        return Problem("error", "", text)
    return Problem("error", recording_id, text)


def _unmapped_warnings(results: Sequence[RecordingRecords]) -> list[Problem]:
    """Unmapped metrics are common (a scorecard has many); one line per metric, with a count."""
    counts = Counter(v.describe() for r in results for v in r.unmapped)
    return [
        Problem(
            "warning",
            "",
            f"Siro metric {metric} has no mapping in siro.metrics (in {n} recording"
            f"{'s' if n != 1 else ''}); no record made for it",
        )
        for metric, n in sorted(counts.items())
    ]


def _unmatched_warnings(
    settings: SiroSettings, results: Sequence[RecordingRecords]
) -> list[Problem]:
    if not results:
        return []
    matched = set().union(*(r.matched for r in results))
    return [
        Problem(
            "warning",
            "",
            f"the mapping for {m.key} (label {m.label!r}) matched no Siro metric in any "
            "recording of the window; check its spelling",
        )
        for m in settings.metrics
        if m.key not in matched
    ]


def _files(
    settings: SiroSettings, results: Sequence[RecordingRecords], out_dir: Path
) -> list[GeneratedFile]:
    return [
        GeneratedFile(
            path=out_dir / f"{result.conversation_id}.yaml",
            text=render_spec(
                _header(settings, result.recording_id), result.conversation_id, result.records
            ),
        )
        for result in results
        if result.ok and result.records
    ]


def _header(settings: SiroSettings, recording_id: str) -> list[str]:
    return [
        SIRO_MARKER,
        "# Do not edit by hand: re-run `reconciler import siro` to update it.",
        f"# Source: Siro recording {yaml_string(recording_id)}, organization "
        f"{yaml_string(settings.organization_id)}, conversation type "
        f"{yaml_string(settings.conversation_type_id)}.",
    ]


async def run_siro_import(
    loaded: LoadedConfig,
    settings: SiroSettings,
    recordings: Mapping[str, str],
    client: SiroClient,
    *,
    start: datetime,
    end: datetime,
    out_dir: Path,
    partial: bool = False,
) -> ImportReport:
    """Fetch, map, validate with the spec loader, and write; the report says what happened."""
    query = SiroQuery(
        settings.organization_id,
        settings.conversation_type_id,
        format_instant(start),
        format_instant(end),
    )
    fetched = await fetch_values(client, query, sorted(recordings), batch_size=settings.batch_size)
    build = build_siro_files(settings, recordings, fetched, out_dir, partial=partial)
    return finish_import(
        loaded,
        ImportRun(
            files=build.files,
            errors=tuple(str(p) for p in build.errors),
            warnings=tuple(str(p) for p in build.warnings),
            records=sum(len(r.records) for r in build.results if r.ok),
        ),
        SIRO_MARKER,
        out_dir,
        partial=partial,
    )
