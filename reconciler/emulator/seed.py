"""Seed files: the state an emulator run starts from (format in docs/emulator.md).

Organizations, agents and conversations are upserted; customer metrics are only inserted when
their (conversation, label) is absent, so re-seeding a persisted state never undoes what a client
wrote through the API. Every problem names the file and the path inside it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from reconciler.emulator.contract import (
    DEFAULT_ORGANIZATION_ID,
    LABEL_MAX_LENGTH,
    NOTE_MAX_LENGTH,
    is_uuid,
)
from reconciler.emulator.errors import EmulatorError, SeedError
from reconciler.emulator.store import Store

__all__ = ["Seed", "apply_seed", "load_seed"]


def _uuid(value: str) -> str:
    if not is_uuid(value):
        raise ValueError("must be a UUID like 3c90c3cc-0d44-4b50-8888-8dd25736052a")
    return value.lower()


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must carry a timezone, e.g. 2026-01-05T10:00:00Z")
    return value


Uuid = Annotated[str, AfterValidator(_uuid)]
AwareDatetime = Annotated[datetime, AfterValidator(_aware)]
Text = Annotated[str, Field(min_length=1)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel)


class SeedOrganization(_Model):
    id: Uuid
    api_key: Text
    metrics_enabled: bool = True


class SeedAgent(_Model):
    id: Uuid | None = None
    organization_id: Uuid = DEFAULT_ORGANIZATION_ID
    name: Text = "Agent"
    description: str | None = None
    external_id: str | None = None
    provider: Text = "zelto"
    metrics: list[Uuid] = Field(default_factory=list)


class SeedConversation(_Model):
    id: Uuid
    organization_id: Uuid = DEFAULT_ORGANIZATION_ID
    agent_id: Uuid | None = None
    name: str | None = None
    source: Text = "upload"
    receiver_id: Uuid | None = None
    reference_id: str | None = None
    ended_reason: str | None = None
    cost: str | float | None = None


class SeedMetric(_Model):
    conversation_id: Uuid
    label: Annotated[str, Field(min_length=1, max_length=LABEL_MAX_LENGTH)]
    verdict: Literal["pass", "fail"] | None = None
    score: Annotated[int | float, Field(ge=0, le=100)] | None = None
    note: Annotated[str, Field(max_length=NOTE_MAX_LENGTH)] | None = None
    metric_id: Uuid | None = None
    external_id: str | None = None
    source: Text = "app"


class SeedMetricValue(_Model):
    id: Text
    name: str
    unit: str
    unit_abbreviated: str
    metric_type: Text
    description: str | None = None
    value: int | float | None = None
    pass_rate: int | float | None = None  # the vendor's own example holds 123


class SeedRecording(_Model):
    id: Text
    organization_id: Text
    conversation_type_id: Text
    started_at: AwareDatetime
    user_id: str | None = None
    team_id: str | None = None
    metric_values: list[SeedMetricValue] = Field(default_factory=list)


class SeedSiro(_Model):
    tokens: list[Text] = Field(default_factory=list)
    recordings: list[SeedRecording] = Field(default_factory=list)


class Seed(_Model):
    """The whole seed document; every section is optional."""

    organizations: list[SeedOrganization] = Field(default_factory=list)
    agents: list[SeedAgent] = Field(default_factory=list)
    conversations: list[SeedConversation] = Field(default_factory=list)
    customer_metrics: list[SeedMetric] = Field(default_factory=list)
    siro: SeedSiro = Field(default_factory=SeedSiro)


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _read(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SeedError(f"cannot read seed file {path}: {exc}") from exc
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except ValueError as exc:
            raise SeedError(f"{path}: not valid JSON: {exc}") from exc
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        return YAML(typ="safe", pure=False).load(text)
    except YAMLError as exc:
        where = str(exc).replace('"<unicode string>"', str(path)).split("\n\nTo suppress")[0]
        raise SeedError(f"{path}: not valid YAML: {where}") from None


def load_seed(source: str | Path | Mapping[str, Any]) -> Seed:
    """A validated Seed from a file (YAML or JSON) or a dict; SeedError names every problem."""
    where = "seed" if isinstance(source, Mapping) else str(source)
    data = source if isinstance(source, Mapping) else _read(Path(source))
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise SeedError(f"{where}: the top level must be a mapping of sections")
    try:
        return Seed.model_validate(dict(data))
    except ValidationError as exc:
        lines = [
            f"{where}: {_location(error['loc'])}: {error['msg']}"
            for error in exc.errors(include_input=False, include_url=False)
        ]
        raise SeedError("\n".join(lines)) from None


def apply_seed(store: Store, source: str | Path | Mapping[str, Any] | Seed) -> Seed:
    """Load (unless already a Seed) and write it into the store."""
    seed = source if isinstance(source, Seed) else load_seed(source)
    for org in seed.organizations:
        store.add_organization(org.id, org.api_key, org.metrics_enabled)
    for agent in seed.agents:
        store.add_agent(
            agent.id,
            organization_id=agent.organization_id,
            name=agent.name,
            description=agent.description,
            external_id=agent.external_id,
            provider=agent.provider,
            metric_ids=agent.metrics,
        )
    for index, conversation in enumerate(seed.conversations):
        try:
            store.add_conversation(
                conversation.id,
                conversation.agent_id,
                organization_id=conversation.organization_id,
                name=conversation.name,
                source=conversation.source,
                receiver_id=conversation.receiver_id,
                reference_id=conversation.reference_id,
                ended_reason=conversation.ended_reason,
                cost=None if conversation.cost is None else str(conversation.cost),
            )
        except EmulatorError as exc:
            raise SeedError(f"seed: conversations[{index}]: {exc}") from None
    _apply_metrics(store, seed)
    for token in seed.siro.tokens:
        store.add_siro_token(token)
    for recording in seed.siro.recordings:
        store.add_siro_recording(
            recording.id,
            organization_id=recording.organization_id,
            conversation_type_id=recording.conversation_type_id,
            started_at=recording.started_at.isoformat(),
            user_id=recording.user_id,
            team_id=recording.team_id,
            metric_values=[
                v.model_dump(exclude_unset=True, by_alias=True) for v in recording.metric_values
            ],
        )
    return seed


def _apply_metrics(store: Store, seed: Seed) -> None:
    for index, metric in enumerate(seed.customer_metrics):
        fields = metric.model_dump(exclude_none=True, by_alias=True)
        conversation_id = fields.pop("conversationId")
        try:
            existing = {m["label"] for m in store.list_metrics(conversation_id)}
            if metric.label not in existing:
                store.put_metric(conversation_id, **fields)
        except EmulatorError as exc:
            raise SeedError(f"seed: customerMetrics[{index}]: {exc}") from None
