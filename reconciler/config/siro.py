"""The ``siro:`` section of ``reconciler.yaml``: which recordings feed which conversations, and
how each Siro metric becomes a Zelto customer metric (``reconciler import siro``, docs/import.md).

Every rule a mapping can break is checked when the file loads, so an import never stops halfway
over a typo in the configuration.
"""

from __future__ import annotations

from string import Formatter
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, StrictFloat, StrictInt, StringConstraints, model_validator

from reconciler.config.sections import EnvName
from reconciler.contract.siro import METRIC_TYPE_UNITS
from reconciler.model import StrictModel

__all__ = [
    "NOTE_PLACEHOLDERS",
    "ScoreRule",
    "ScoreSource",
    "SiroMetricMapping",
    "SiroSettings",
    "VerdictRule",
]

DEFAULT_SIRO_URL = "https://api.siro.ai"
DEFAULT_SIRO_TOKEN_ENV = "SIRO_AUTH_TOKEN"
DEFAULT_SIRO_OUTPUT = "specs/imported/siro"

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
