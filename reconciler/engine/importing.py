"""``reconciler import siro|zelto`` as engine steps: configuration checks, then one session.

The command only parses dates and prints the report; what may be imported, from where and into
which folder is decided here, so a Python caller imports exactly as the command does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from uuid import UUID

from reconciler.config import LoadedConfig
from reconciler.config.siro import SiroSettings
from reconciler.errors import ConfigError
from reconciler.importer.recordings import load_recordings
from reconciler.importer.siro_import import run_siro_import
from reconciler.importer.writing import ImportReport
from reconciler.importer.zelto_import import run_zelto_import
from reconciler.remote.http import Endpoint, HttpSession, HttpSettings
from reconciler.remote.siro import SIRO_AUTH, SiroClient, siro_http_settings
from reconciler.remote.targets import resolve_siro
from reconciler.remote.zelto import ZeltoClient

__all__ = [
    "DEFAULT_ZELTO_OUT",
    "SIRO_URL_ENV",
    "conversation_ids",
    "import_from_siro",
    "import_from_zelto",
    "out_folder",
]

SIRO_URL_ENV = "SIRO_API_URL"
DEFAULT_ZELTO_OUT = "specs/imported/zelto"


async def import_from_siro(
    loaded: LoadedConfig,
    environ: Mapping[str, str],
    *,
    start: datetime,
    end: datetime,
    out_dir: Path | None,
    partial: bool,
    siro_url: str | None,
    cwd: Path,
) -> ImportReport:
    """Siro scorecards of the mapped recordings → spec files."""
    if end <= start:
        raise ConfigError("--end must be after --start")
    settings = _siro_settings(loaded, siro_url, environ)
    recordings = _recordings(loaded, settings)
    endpoint = resolve_siro(loaded, settings, environ)
    out = out_folder(loaded, out_dir, settings.output, cwd=cwd)
    http = siro_http_settings(concurrency=settings.concurrency)
    async with HttpSession(endpoint, http, auth=SIRO_AUTH) as session:
        report = await run_siro_import(
            loaded,
            settings,
            recordings,
            SiroClient(session),
            start=start,
            end=end,
            out_dir=out,
            partial=partial,
        )
    return replace(report, asked=len(recordings))


async def import_from_zelto(
    loaded: LoadedConfig,
    endpoint: Endpoint,
    ids: Sequence[str],
    *,
    out_dir: Path,
    partial: bool,
) -> ImportReport:
    """The records Zelto holds for these conversations → spec files that adopt them."""
    async with HttpSession(endpoint, HttpSettings.from_config(loaded.config.plan)) as session:
        report = await run_zelto_import(
            loaded, ZeltoClient(session), ids, out_dir=out_dir, partial=partial
        )
    return replace(report, asked=len(ids))


def _siro_settings(
    loaded: LoadedConfig, siro_url: str | None, environ: Mapping[str, str]
) -> SiroSettings:
    settings = loaded.config.siro
    where = str(loaded.path) if loaded.path is not None else "reconciler.yaml"
    if settings is None:
        raise ConfigError(
            f"{where} has no 'siro' section: add organizationId, conversationTypeId, recordings "
            "and metrics (see docs/import.md)"
        )
    override = siro_url or environ.get(SIRO_URL_ENV, "").strip() or None
    return settings.model_copy(update={"url": override}) if override else settings


def _recordings(loaded: LoadedConfig, settings: SiroSettings) -> dict[str, str]:
    file = loaded.resolve(settings.recordings_file) if settings.recordings_file else None
    config_name = loaded.path.name if loaded.path is not None else "reconciler.yaml"
    return load_recordings(
        settings.recordings,
        file,
        shown_as=settings.recordings_file or "",
        config_file=f"{config_name} (siro.recordings)",
    )


def out_folder(loaded: LoadedConfig, out_dir: Path | None, configured: str, *, cwd: Path) -> Path:
    """``--out`` (anchored at ``cwd``), else the configured folder (at the config's folder)."""
    if out_dir is not None:
        return out_dir if out_dir.is_absolute() else cwd.absolute() / out_dir
    return loaded.resolve(configured)


def conversation_ids(values: Sequence[str]) -> list[str]:
    """Conversation ids as Zelto writes them; anything else is refused before any request."""
    ids: list[str] = []
    for value in values:
        try:
            ids.append(str(UUID(value)))
        except ValueError:
            raise ConfigError(
                f"{value!r} is not a conversation id (a Zelto conversation UUID)"
            ) from None
    return ids
