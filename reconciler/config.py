"""``reconciler.yaml``: where specs live, where plans and applies go, and how hard to push.

Every key is optional; without a file the defaults apply, and the default target is ``local`` (the
embedded emulator), so a fresh clone works with no account. Tokens are never stored here: a target
names the *environment variable* (or a file) that holds its token.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from string import Formatter
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StringConstraints,
    ValidationError,
    model_validator,
)

from reconciler.contract.siro import METRIC_TYPE_UNITS
from reconciler.errors import ConfigError, Issue, SpecError
from reconciler.files import ensure_state_dir, read_regular
from reconciler.model import StrictModel
from reconciler.spec.yamlio import load_yaml, location_at, validation_issues

__all__ = [
    "CONFIG_FILENAME",
    "DEFAULT_TARGET",
    "STATE_DIR",
    "ApplySettings",
    "Config",
    "LoadedConfig",
    "Ownership",
    "PlanSettings",
    "ScoreRule",
    "ScoreSource",
    "SiroMetricMapping",
    "SiroSettings",
    "Target",
    "VerdictRule",
]

CONFIG_FILENAME = "reconciler.yaml"
DEFAULT_TARGET = "local"
DEFAULT_TOKEN_ENV = "ZELTO_API_KEY"
#: The folder, relative to the config folder, for local state (git-ignored): the built-in ``local``
#: target's emulator database and the spec cache. ``LoadedConfig.state_dir`` may move it elsewhere.
STATE_DIR = ".reconciler"
DEFAULT_EMULATOR_STATE = f"{STATE_DIR}/local.sqlite"
DEFAULT_SIRO_URL = "https://api.siro.ai"
DEFAULT_SIRO_TOKEN_ENV = "SIRO_AUTH_TOKEN"
DEFAULT_SIRO_OUTPUT = "specs/imported/siro"

SensitiveField = Literal["verdict", "score", "note", "metricId"]
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


ScoreSource = Literal["passRate", "value"]
NonEmpty = Annotated[str, StringConstraints(min_length=1)]

#: The placeholders a note template may use: the Siro metric value's fields and the recording.
NOTE_PLACEHOLDERS: tuple[str, ...] = (
    "description",
    "id",
    "metricType",
    "name",
    "passRate",
    "recordingId",
    "unit",
    "unitAbbreviated",
    "value",
)


class VerdictRule(StrictModel):
    """``pass`` when ``<from> <op> <threshold>`` holds, else ``fail``."""

    source: ScoreSource = Field(alias="from", description="passRate or value.")
    op: Literal[">=", ">", "<=", "<"] = Field(description="How the number compares to threshold.")
    threshold: StrictInt | StrictFloat = Field(allow_inf_nan=False)


Number = Annotated[StrictInt | StrictFloat, Field(allow_inf_nan=False)]


class ScoreRule(StrictModel):
    """How a Siro number becomes a 0-100 score: as it is, scaled, or mapped from a range.

    ``value`` is in its own unit (seconds, a count...), so turning it into a score is a decision
    the mapping states; nothing is ever clamped unless ``clamp`` says so.
    """

    source: ScoreSource = Field(alias="from", description="passRate or value.")
    range: tuple[Number, Number] | None = Field(
        default=None, description="[low, high]: low becomes 0, high becomes 100, linearly."
    )
    scale: Number | None = Field(default=None, description="score = number x scale.")
    clamp: bool = Field(
        default=False, description="Numbers outside range become 0 or 100 instead of an error."
    )

    @model_validator(mode="after")
    def _one_conversion(self) -> ScoreRule:
        if self.range is not None and self.scale is not None:
            raise ValueError("a score rule sets range or scale, not both")
        if self.range is not None and not self.range[0] < self.range[1]:
            raise ValueError("score range must be [low, high] with low < high")
        if self.scale is not None and self.scale <= 0:
            raise ValueError("score scale must be above 0")
        if self.clamp and self.range is None:
            raise ValueError("clamp needs a range")
        return self

    def describe(self) -> str:
        """The rule as messages show it, in the config's own words."""
        if self.range is not None:
            low, high = self.range
            clamp = ", clamp: true" if self.clamp else ""
            return f"score: {{from: {self.source}, range: [{low:g}, {high:g}]{clamp}}}"
        if self.scale is not None:
            return f"score: {{from: {self.source}, scale: {self.scale:g}}}"
        return f"score: {self.source}"


class SiroMetricMapping(StrictModel):
    """How one Siro metric becomes a Zelto customer metric; matched by metricType or name."""

    metric_type: NonEmpty | None = Field(
        default=None, description="Siro metricType, e.g. INTERACTIVITY_SCORE."
    )
    name: NonEmpty | None = Field(
        default=None, description="Siro metric name; needed for AI_METRIC, which repeats."
    )
    label: Annotated[str, StringConstraints(min_length=1, max_length=255)] = Field(
        description="The Zelto label (a catalog label when the repository has a catalog)."
    )
    score: ScoreSource | ScoreRule | None = Field(
        default=None,
        description="passRate (0-100), value (when its unit is a percentage or score), or "
        "{from, range | scale} to convert a number in another unit.",
    )
    verdict: VerdictRule | None = None
    note: Annotated[str, StringConstraints(max_length=5000)] | None = Field(
        default=None,
        description="A template; placeholders: " + ", ".join(f"{{{p}}}" for p in NOTE_PLACEHOLDERS),
    )

    @model_validator(mode="after")
    def _well_formed(self) -> SiroMetricMapping:
        if (self.metric_type is None) == (self.name is None):
            raise ValueError("a metric mapping sets exactly one of metricType and name")
        if self.score is None and self.verdict is None:
            raise ValueError("a metric mapping needs score, verdict or both")
        if self.note is not None:
            _check_note_template(self.note)
        _check_score_unit(self.metric_type, self.score_rule)
        return self

    @property
    def score_rule(self) -> ScoreRule | None:
        """The score rule, a bare ``passRate``/``value`` read as a rule with no conversion."""
        if isinstance(self.score, str):
            return ScoreRule.model_validate({"from": self.score})
        return self.score

    @property
    def key(self) -> str:
        """How the mapping is named in messages: ``metricType X`` or ``name 'Y'``."""
        if self.metric_type is not None:
            return f"metricType {self.metric_type}"
        return f"name {self.name!r}"


def _check_score_unit(metric_type: str | None, rule: ScoreRule | None) -> None:
    """A value in seconds or a count is not a score: refuse it at load, not mid-import."""
    if rule is None or rule.source != "value" or rule.range or rule.scale:
        return
    unit = METRIC_TYPE_UNITS.get(metric_type or "")
    if unit is not None:
        raise ValueError(
            f"metricType {metric_type}'s value is in {unit}, not a 0-100 score: write "
            "score: {from: value, range: [low, high]} (low becomes 0, high 100) or "
            "{from: value, scale: N}, or map it as a verdict with a threshold"
        )


def _check_note_template(template: str) -> None:
    """Reject unknown placeholders now, not in the middle of an import."""
    try:
        fields = [f for _, f, _, _ in Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise ValueError(
            f"note template is malformed ({exc}); write a literal brace as {{{{ or }}}}"
        ) from exc
    allowed = ", ".join(f"{{{p}}}" for p in NOTE_PLACEHOLDERS)
    for name in fields:
        if name not in NOTE_PLACEHOLDERS:
            raise ValueError(f"note template placeholder {{{name}}} is unknown; allowed: {allowed}")


class SiroSettings(StrictModel):
    """``reconciler import siro``: where Siro is, which recordings, and how metrics map."""

    url: str = Field(default=DEFAULT_SIRO_URL, description="Siro API base URL.")
    token_env: EnvName = Field(
        default=DEFAULT_SIRO_TOKEN_ENV, description="Variable holding the Siro access token."
    )
    token_file: str | None = Field(default=None, description="A file holding the Siro token.")
    organization_id: NonEmpty = Field(description="Siro requestedOrganizationId, e.g. org_123.")
    conversation_type_id: NonEmpty = Field(description="Siro conversationTypeId.")
    output: NonEmpty = Field(
        default=DEFAULT_SIRO_OUTPUT,
        description="Folder for generated specs, relative to this file.",
    )
    recordings: dict[NonEmpty, UUID] = Field(
        default_factory=dict, description="Siro recording id -> Zelto conversation UUID."
    )
    recordings_file: str | None = Field(
        default=None,
        description="A CSV (recordingId,conversationId) or YAML mapping file of recordings.",
    )
    concurrency: int = Field(default=8, ge=1, le=64, description="Siro requests in flight.")
    batch_size: int = Field(
        default=100, ge=1, le=500, description="Recordings asked for in one request at most."
    )
    metrics: list[SiroMetricMapping] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> SiroSettings:
        if not self.recordings and self.recordings_file is None:
            raise ValueError("siro needs recordings, recordingsFile or both")
        _check_unique([m.key for m in self.metrics], "metric mapping for")
        _check_unique([m.label for m in self.metrics], "label")
        _check_one_recording_per_conversation(self.recordings)
        return self


def _check_one_recording_per_conversation(recordings: dict[str, UUID]) -> None:
    """Two recordings on one conversation would declare the same labels twice there."""
    owner: dict[UUID, str] = {}
    for recording, conversation in recordings.items():
        if conversation in owner:
            raise ValueError(
                f"recordings {owner[conversation]} and {recording} both map to conversation "
                f"{conversation}; map each conversation from one recording only"
            )
        owner[conversation] = recording


def _check_unique(values: list[str], what: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{what} {value} appears twice; each must be unique")
        seen.add(value)


class Config(StrictModel):
    """The whole configuration, as written in reconciler.yaml."""

    model_config = ConfigDict(title="reconciler.yaml")

    specs: list[str] = Field(default_factory=lambda: ["specs"], min_length=1)
    ownership: Ownership = Field(default_factory=Ownership)
    default_target: str = Field(default=DEFAULT_TARGET)
    targets: dict[str, Target] = Field(default_factory=dict)
    plan: PlanSettings = Field(default_factory=PlanSettings)
    apply: ApplySettings = Field(default_factory=ApplySettings)
    siro: SiroSettings | None = Field(default=None, description="reconciler import siro.")
    sensitive: list[SensitiveField] = Field(
        default_factory=list,
        description="Fields whose values previews and saved plans mask (apply still sends them).",
    )

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
    #: Where ``.reconciler/`` (local state) really lives; None: ``<root>/.reconciler``. A caller
    #: that plans a temporary export of the specs (one per git commit) keeps its state here.
    state_root: Path | None = None

    @property
    def state_dir(self) -> Path:
        """The local-state folder: the emulator database of ``local`` and the spec cache."""
        return self.state_root if self.state_root is not None else self.root / STATE_DIR

    def spec_paths(self) -> list[Path]:
        """The configured spec files and folders, resolved against the config file's folder."""
        return [self.root / p for p in self.config.specs]

    def resolve(self, relative: str) -> Path:
        """A path from the config, resolved against the config file's folder."""
        return self.root / relative

    def resolve_state(self, relative: str) -> Path:
        """Like :meth:`resolve`, except that a path inside ``.reconciler/`` (an emulator target's
        database) lands in :attr:`state_dir`, wherever that was moved."""
        parts = Path(relative).parts
        if self.state_root is not None and parts[:1] == (STATE_DIR,):
            return self.state_root.joinpath(*parts[1:])
        return self.resolve(relative)


#: reconciler.yaml is small; a larger file is a mistake, not a configuration.
MAX_CONFIG_BYTES = 1024 * 1024


def find_config(start: Path) -> Path | None:
    """``reconciler.yaml`` in ``start`` or its nearest parent that has one (like git and dbt)."""
    here = start if start.is_dir() else start.parent
    for folder in (here.absolute(), *here.absolute().parents):
        candidate = folder / CONFIG_FILENAME
        if candidate.is_file():
            return candidate
    return None


def load_config(path: Path | None = None, *, cwd: Path | None = None) -> LoadedConfig:
    """The configuration to use: ``path``, else the nearest reconciler.yaml, else the defaults.

    Relative paths in the file resolve against its folder; without a file, against ``cwd``.
    Raises SpecError (located problems in the file) or ConfigError (the file cannot be read).
    """
    base = cwd if cwd is not None else Path.cwd()
    if path is None:
        path = find_config(base)
        if path is None:
            return LoadedConfig(config=Config(), root=base, path=None)
    elif not path.is_absolute():
        path = base / path
    try:
        data, _stat = read_regular(path, MAX_CONFIG_BYTES)
    except OSError as exc:  # FileRefusedError too: a FIFO, a device, an oversized file
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    config = _parse_config(data, _display(path, base))
    return LoadedConfig(config=config, root=path.parent, path=path)


def _display(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return path.as_posix()


def _parse_config(data: bytes, display: str) -> Config:
    doc = load_yaml(data, display, max_bytes=MAX_CONFIG_BYTES, what="reconciler.yaml")
    if doc.data is None:
        return Config()
    if not isinstance(doc.data, dict):
        message = "the top level must be a mapping (specs, ownership, defaultTarget, targets, ...)"
        raise SpecError([Issue(location_at(display, doc.root), message)])
    try:
        return Config.model_validate(doc.data)
    except ValidationError as exc:
        raise SpecError(validation_issues(doc, exc, Config)) from None


def config_json_schema() -> dict[str, Any]:
    """The reconciler.yaml schema, by alias (the names written in YAML)."""
    schema = Config.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def spec_cache_dir(loaded: LoadedConfig) -> Path | None:
    """The spec cache folder for a configuration (pass it to ``load_specs(cache_dir=...)``).

    Created when missing and checked by :func:`reconciler.files.ensure_state_dir` (real folders
    of the user's, never a symlink a repository committed; else UnsafePathError with the fix).
    None when it cannot be created (a read-only checkout): without a cache a run is only slower.
    """
    try:
        return ensure_state_dir(loaded.state_dir, "cache")
    except OSError:
        return None
