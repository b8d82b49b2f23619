"""A plan: what would change, as sorted, serialisable value objects (docs/semantics.md §3).

The same objects are the planner's output, the renderers' input, the saved plan file
(``plan --out``) and the applier's input, so there is one definition of each field. They are
pydantic models so that a saved plan read back from disk is validated as strictly as a spec, and
so that ``schemas/plan.schema.json`` is generated from this code rather than written by hand.

A record's fields (``before``/``after``/``diff``) and their masking are in :mod:`.fields`.
"""

from __future__ import annotations

from collections import Counter
from enum import StrEnum
from typing import Any

from pydantic import ConfigDict, Field, ValidationError, model_validator

from reconciler.errors import ReconcilerError
from reconciler.model import StrictModel
from reconciler.plan.fields import FieldDiff, RecordFields

__all__ = [
    "ACTION_ORDER",
    "FORMAT_VERSION",
    "WRITE_ACTIONS",
    "Action",
    "Change",
    "ConversationPlan",
    "Plan",
    "PlanFormatError",
    "Summary",
    "plan_json_schema",
]

#: Bumped on any incompatible change of the JSON form; readers refuse other versions.
FORMAT_VERSION = 1


class PlanFormatError(ReconcilerError):
    """A saved plan file is not a plan this version can apply."""


class Action(StrEnum):
    """What the planner decided for one record (docs/semantics.md §3)."""

    NOOP = "noop"
    CREATE = "create"
    UPDATE = "update"
    RELABEL = "relabel"
    ADOPT = "adopt"  # a conflict taken over (`adopt: true` or --adopt): written like an update
    CONFLICT = "conflict"
    ORPHAN = "orphan"
    UNMANAGED = "unmanaged"
    ERROR = "error"


#: Actions that apply turns into one POST each.
WRITE_ACTIONS: frozenset[Action] = frozenset(
    {Action.CREATE, Action.UPDATE, Action.RELABEL, Action.ADOPT}
)

# Display and summary order: the order a reviewer reads them in.
ACTION_ORDER: tuple[Action, ...] = (
    Action.CREATE,
    Action.UPDATE,
    Action.RELABEL,
    Action.ADOPT,
    Action.CONFLICT,
    Action.ORPHAN,
    Action.UNMANAGED,
    Action.ERROR,
    Action.NOOP,
)


class Change(StrictModel):
    """The decision for one declared or remote record."""

    action: Action
    label: str
    external_id: str | None = None
    before: RecordFields | None = Field(default=None, description="The remote record, if any.")
    after: RecordFields | None = Field(default=None, description="What apply will POST, if any.")
    diff: tuple[FieldDiff, ...] = ()
    source: str | None = Field(default=None, description="file:line of the declaring spec.")
    remote_id: str | None = Field(default=None, description="The remote record's id, if any.")
    message: str | None = Field(default=None, description="Why: for conflicts, orphans, errors.")

    @property
    def is_write(self) -> bool:
        return self.action in WRITE_ACTIONS

    @property
    def sort_key(self) -> tuple[str, str, str]:
        return (self.label, self.external_id or "", self.action.value)


class ConversationPlan(StrictModel):
    """Everything decided for one conversation, and the state it was decided against."""

    id: str
    fingerprint: str | None = Field(
        default=None, description="sha256 of the remote records' compared fields when planned."
    )
    error: str | None = Field(default=None, description="Why the conversation could not be read.")
    agent_id: str | None = None
    noop: int = Field(default=0, ge=0, description="Records already as declared (not listed).")
    changes: tuple[Change, ...] = ()

    @model_validator(mode="after")
    def _sorted(self) -> ConversationPlan:
        keys = [c.sort_key for c in self.changes]
        if keys != sorted(keys):
            object.__setattr__(
                self, "changes", tuple(sorted(self.changes, key=lambda c: c.sort_key))
            )
        return self

    @property
    def writes(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.is_write)

    def count(self) -> Counter[Action]:
        counts: Counter[Action] = Counter()
        self.tally(counts)
        return counts

    def tally(self, counts: Counter[Action]) -> None:
        """Add this conversation's records to ``counts``, by action: every change, the
        unchanged records, and one error for a conversation that could not be read."""
        if self.changes:
            counts.update(c.action for c in self.changes)
        if self.noop:
            counts[Action.NOOP] += self.noop
        if self.error is not None:
            counts[Action.ERROR] += 1


class Summary(StrictModel):
    """How many records each action covers. ``noop`` records are counted but not listed."""

    create: int = 0
    update: int = 0
    relabel: int = 0
    adopt: int = 0
    conflict: int = 0
    noop: int = 0
    orphan: int = 0
    unmanaged: int = 0
    error: int = 0

    @classmethod
    def of(cls, conversations: tuple[ConversationPlan, ...]) -> Summary:
        total: Counter[Action] = Counter()
        for conversation in conversations:
            conversation.tally(total)
        return cls(**{a.value: total[a] for a in Action})

    @property
    def writes(self) -> int:
        return self.create + self.update + self.relabel + self.adopt

    @property
    def failed(self) -> bool:
        """A plan with any conflict or error fails (exit 1), but still shows everything."""
        return self.conflict > 0 or self.error > 0

    def line(self) -> str:
        """One line for terminals and logs: `2 to create, 1 to update, ...`."""
        parts = [f"{self.create} to create", f"{self.update} to update"]
        optional = (
            (self.relabel, "to relabel", "to relabel"),
            (self.adopt, "to adopt", "to adopt"),
            (self.conflict, "conflict", "conflicts"),
            (self.orphan, "orphan", "orphans"),
            (self.unmanaged, "unmanaged", "unmanaged"),
            (self.error, "error", "errors"),
        )
        parts += [f"{n} {one if n == 1 else many}" for n, one, many in optional if n]
        parts.append(f"{self.noop} unchanged")
        return ", ".join(parts)


class Plan(StrictModel):
    """A whole plan. Build it with :meth:`build`; it sorts and counts for you."""

    model_config = ConfigDict(title="reconciler plan")

    format_version: int = Field(default=FORMAT_VERSION, description="Version of this JSON form.")
    target: str = Field(description="Which target the plan was made against.")
    spec_digest: str = Field(description="sha256 of the spec files the plan was made from.")
    offline: bool = Field(
        default=False, description="True when made without reading Zelto (nothing verified)."
    )
    scope: str | None = Field(
        default=None, description="What part of the specs was planned (changed-since, shard)."
    )
    sensitive_fields: tuple[str, ...] = Field(
        default=(), description="Fields whose values are masked in this plan."
    )
    existing_managed: int = Field(
        default=0, ge=0, description="Remote records this repository manages (safety threshold)."
    )
    summary: Summary = Field(default_factory=Summary)
    conversations: tuple[ConversationPlan, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Plan:
        ids = [c.id for c in self.conversations]
        if ids != sorted(ids):
            ordered = tuple(sorted(self.conversations, key=lambda c: c.id))
            object.__setattr__(self, "conversations", ordered)
        if len(set(ids)) != len(ids):
            raise ValueError("a conversation appears twice in the plan")
        counted = Summary.of(self.conversations)
        if self.summary != counted and self.summary != Summary():
            raise ValueError("summary does not match the conversations it counts")
        object.__setattr__(self, "summary", counted)
        return self

    @classmethod
    def build(
        cls,
        *,
        target: str,
        spec_digest: str,
        conversations: list[ConversationPlan] | tuple[ConversationPlan, ...],
        existing_managed: int = 0,
        offline: bool = False,
        scope: str | None = None,
        sensitive_fields: tuple[str, ...] = (),
    ) -> Plan:
        return cls(
            target=target,
            spec_digest=spec_digest,
            conversations=tuple(conversations),
            existing_managed=existing_managed,
            offline=offline,
            scope=scope,
            sensitive_fields=sensitive_fields,
        )

    def with_conversations(
        self, conversations: list[ConversationPlan] | tuple[ConversationPlan, ...]
    ) -> Plan:
        """The same plan over other conversations, counted again.

        ``model_copy(update=...)`` would keep the old summary, which validation then rejects.
        """
        return Plan.build(
            target=self.target,
            spec_digest=self.spec_digest,
            conversations=conversations,
            existing_managed=self.existing_managed,
            offline=self.offline,
            scope=self.scope,
            sensitive_fields=self.sensitive_fields,
        )

    @property
    def has_changes(self) -> bool:
        return self.summary.writes > 0

    def writes(self) -> list[tuple[ConversationPlan, Change]]:
        """Every (conversation, change) that apply turns into a POST, in plan order."""
        return [(c, change) for c in self.conversations for change in c.writes]

    def to_json_dict(self) -> dict[str, Any]:
        """The JSON form (plan.schema.json). Byte-stable given the same plan."""
        return self.model_dump(mode="json")

    @classmethod
    def from_json_dict(cls, data: Any, *, source: str = "plan") -> Plan:
        """Read a saved plan back, refusing other format versions and anything malformed."""
        if not isinstance(data, dict):
            raise PlanFormatError(f"{source}: not a reconciler plan (expected a JSON object)")
        version = data.get("formatVersion")
        if version != FORMAT_VERSION:
            raise PlanFormatError(
                f"{source}: plan formatVersion {version!r} is not supported "
                f"(this reconciler reads version {FORMAT_VERSION}); make the plan again"
            )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors(include_input=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "plan"
            raise PlanFormatError(
                f"{source}: not a valid reconciler plan: {where}: {first['msg']} "
                f"({exc.error_count()} problem(s))"
            ) from None


def plan_json_schema() -> dict[str, Any]:
    """The JSON Schema of the JSON form, for schemas/plan.schema.json."""
    schema = Plan.model_json_schema(by_alias=True, mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
