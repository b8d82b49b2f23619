"""``reconciler.yaml``: where specs live, where plans and applies go, and how hard to push.

Every key is optional; without a file the defaults apply, and the default target is ``local`` (the
embedded emulator), so a fresh clone works with no account. Tokens are never stored here: a target
names the *environment variable* (or a file) that holds its token.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic.alias_generators import to_camel

from reconciler.errors import ConfigError

__all__ = [
    "CONFIG_FILENAME",
    "DEFAULT_TARGET",
    "ApplySettings",
    "Config",
    "LoadedConfig",
    "Ownership",
    "PlanSettings",
    "Target",
]

CONFIG_FILENAME = "reconciler.yaml"
DEFAULT_TARGET = "local"
DEFAULT_TOKEN_ENV = "ZELTO_API_KEY"
DEFAULT_EMULATOR_STATE = ".reconciler/local.sqlite"

EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class _ConfigModel(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        serialize_by_alias=True,
    )


class Target(_ConfigModel):
    """Where plan and apply go: a real API (``url``) or the embedded emulator (``emulator``)."""

    url: str | None = Field(default=None, description="API base URL, e.g. https://api.zelto.ai")
    emulator: str | None = Field(
        default=None,
        description="Path of the embedded emulator's SQLite state, relative to reconciler.yaml.",
    )
    token_env: EnvName = Field(
        default=DEFAULT_TOKEN_ENV, description="Name of the environment variable holding the token."
    )
    token_file: str | None = Field(
        default=None, description="A file holding the token (e.g. a mounted secret)."
    )

    @model_validator(mode="after")
    def _one_kind(self) -> Target:
        if (self.url is None) == (self.emulator is None):
            raise ValueError("a target sets exactly one of url and emulator")
        return self


class Ownership(_ConfigModel):
    external_id_prefix: str | None = Field(
        default=None,
        min_length=1,
        description="Remote records with this externalId prefix that no spec declares are orphans.",
    )


class PlanSettings(_ConfigModel):
    concurrency: int = Field(default=32, ge=1, le=256, description="GETs in flight while planning.")
    requests_per_second: float | None = Field(default=None, gt=0)
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=5, ge=1, le=20)


class ApplySettings(_ConfigModel):
    concurrency: int = Field(default=8, ge=1, le=256, description="POSTs in flight.")
    requests_per_second: float | None = Field(
        default=None, gt=0, description="null = no limit beyond concurrency."
    )
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=5, ge=1, le=20)
    max_update_percent: float = Field(default=30, ge=0, le=100)
    min_existing_for_threshold: int = Field(default=10, ge=0)


class Config(_ConfigModel):
    """The whole configuration, as written in reconciler.yaml."""

    model_config = ConfigDict(title="reconciler.yaml")

    specs: list[str] = Field(default_factory=lambda: ["specs"], min_length=1)
    ownership: Ownership = Field(default_factory=Ownership)
    default_target: str = Field(default=DEFAULT_TARGET)
    targets: dict[str, Target] = Field(default_factory=dict)
    plan: PlanSettings = Field(default_factory=PlanSettings)
    apply: ApplySettings = Field(default_factory=ApplySettings)

    def target(self, name: str) -> Target:
        """A named target; ``local`` exists even when not configured."""
        if name in self.targets:
            return self.targets[name]
        if name == DEFAULT_TARGET:
            return Target(emulator=DEFAULT_EMULATOR_STATE)
        known = ", ".join(sorted({*self.targets, DEFAULT_TARGET}))
        raise ConfigError(f"unknown target '{name}'; configured targets: {known}")


@dataclass(frozen=True)
class LoadedConfig:
    """A Config and the folder its relative paths resolve against (the config file's folder)."""

    config: Config
    root: Path
    path: Path | None = None

    def spec_paths(self) -> list[Path]:
        """The configured spec files and folders, resolved against the config file's folder."""
        return [self.root / p for p in self.config.specs]

    def resolve(self, relative: str) -> Path:
        """A path from the config, resolved against the config file's folder."""
        return self.root / relative
