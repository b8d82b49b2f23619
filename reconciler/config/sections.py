"""The sections of ``reconciler.yaml`` that say where plans and applies go and how hard they push:
``targets``, ``ownership``, ``plan`` and ``apply``.

A target names the *environment variable* (or a file) holding its token, never the token itself.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from reconciler.model import StrictModel

__all__ = [
    "DEFAULT_TOKEN_ENV",
    "ApplySettings",
    "EnvName",
    "Ownership",
    "PlanSettings",
    "Target",
]

DEFAULT_TOKEN_ENV = "ZELTO_API_KEY"

EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class Target(StrictModel):
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


class Ownership(StrictModel):
    external_id_prefix: str | None = Field(
        default=None,
        min_length=1,
        description="Remote records with this externalId prefix that no spec declares are orphans.",
    )


class PlanSettings(StrictModel):
    concurrency: int = Field(default=32, ge=1, le=256, description="GETs in flight while planning.")
    requests_per_second: float | None = Field(default=None, gt=0)
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int | None = Field(
        default=None, ge=1, le=100, description="null = no count; retrySeconds bounds retries."
    )
    retry_seconds: float = Field(
        default=120.0, ge=0, le=3600, description="How long one request's failures are retried."
    )


class ApplySettings(StrictModel):
    concurrency: int = Field(default=8, ge=1, le=256, description="POSTs in flight.")
    requests_per_second: float | None = Field(
        default=None, gt=0, description="null = no limit beyond concurrency."
    )
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int | None = Field(
        default=None, ge=1, le=100, description="null = no count; retrySeconds bounds retries."
    )
    retry_seconds: float = Field(
        default=120.0, ge=0, le=3600, description="How long one request's failures are retried."
    )
    max_update_percent: float = Field(default=30, ge=0, le=100)
    min_existing_for_threshold: int = Field(default=10, ge=0)
