"""How one emulator run is set up: where state lives, what it starts with, what goes wrong."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.emulator.contract import (
    DEFAULT_SIRO_TOKEN,
    DEFAULT_ZELTO_API_KEY,
    SIRO_REQUESTS_PER_MINUTE,
    SIRO_UNKNOWN_RECORDING_DEFAULT,
    SIRO_UNKNOWN_RECORDING_MODES,
)
from reconciler.emulator.errors import EmulatorError
from reconciler.emulator.faults import Faults

__all__ = ["EmulatorConfig"]


@dataclass(frozen=True)
class EmulatorConfig:
    """Settings of one emulator run.

    ``db_path`` None keeps state in memory (tests); a path keeps it in a SQLite file that
    persists across runs (the CLI's ``local`` target). ``seed`` is a YAML/JSON file or a dict
    of the same shape (docs/emulator.md). ``auto_create_conversations`` exists only for the
    ``local`` target's quickstart; everywhere else an unknown conversation is a 404, as in Zelto.
    The keys are the emulator's own local credentials, not secrets. ``strict`` adds the checks
    the vendors' pages do not make (contract.py, STRICT); off, the emulator accepts what the
    pages allow.
    """

    db_path: str | Path | None = None
    seed: str | Path | Mapping[str, Any] | None = None
    faults: Faults = field(default_factory=Faults)
    auto_create_conversations: bool = False
    siro_requests_per_minute: int = SIRO_REQUESTS_PER_MINUTE
    zelto_api_key: str = DEFAULT_ZELTO_API_KEY
    siro_token: str = DEFAULT_SIRO_TOKEN
    siro_page_size: int = 0
    siro_broken_cursor: str | None = None
    siro_unknown_recording: str = SIRO_UNKNOWN_RECORDING_DEFAULT
    strict: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.faults, Faults):
            raise EmulatorError(f"faults must be a Faults, got {type(self.faults).__name__}")
        rpm = self.siro_requests_per_minute
        if isinstance(rpm, bool) or not isinstance(rpm, int) or rpm < 1:
            raise EmulatorError(f"siro_requests_per_minute must be an integer >= 1, got {rpm!r}")
        size = self.siro_page_size
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise EmulatorError(f"siro_page_size must be an integer >= 0, got {size!r}")
        if self.siro_broken_cursor not in (None, "null", "repeat"):
            raise EmulatorError(
                "siro_broken_cursor must be None, 'null' or 'repeat', "
                f"got {self.siro_broken_cursor!r}"
            )
        if self.siro_unknown_recording not in SIRO_UNKNOWN_RECORDING_MODES:
            raise EmulatorError(
                f"siro_unknown_recording must be one of {SIRO_UNKNOWN_RECORDING_MODES}, "
                f"got {self.siro_unknown_recording!r}"
            )
        for name in ("zelto_api_key", "siro_token"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value or value != value.strip():
                raise EmulatorError(f"{name} must be a non-empty string without spaces at the ends")
