"""The shape of an assumption registry: named entries, each documented or marked assumed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["Entry", "Registry"]


@dataclass(frozen=True)
class Entry:
    """One behaviour the product depends on.

    ``vendor`` is the vendor's own words when its page says something about it (quoted verbatim),
    else ``None``: then the behaviour is an assumption (``assumed`` is True) and the live suite's
    probe is the only evidence. ``value`` is what the code relies on; the emulator's registry
    must hold the same value for the same ``key``.
    """

    key: str
    value: object
    vendor: str | None
    reading: str
    client: str
    probe: str

    @property
    def assumed(self) -> bool:
        return self.vendor is None

    @property
    def source(self) -> str:
        """``vendor`` or ``assumed``, as tables and docs show it."""
        return "assumed" if self.assumed else "vendor"


@dataclass(frozen=True)
class Registry:
    """All entries of one API, looked up by key (an unknown key is a programming error)."""

    api: str
    entries: tuple[Entry, ...]

    def __post_init__(self) -> None:
        keys = [e.key for e in self.entries]
        if len(keys) != len(set(keys)):
            raise ValueError(f"{self.api} registry: a key appears twice")

    def __getitem__(self, key: str) -> Entry:
        for entry in self.entries:
            if entry.key == key:
                return entry
        raise KeyError(f"{self.api} registry has no entry {key!r}")

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries)

    def names(self) -> tuple[str, ...]:
        return tuple(e.key for e in self.entries)
