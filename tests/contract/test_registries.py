"""The client's assumption registries and the emulator's copy agree on every entry.

The emulator may import only emulator code, so it keeps its own side of each registry; if one side
changes an assumption and the other does not, tests would exercise a behaviour the client does not
expect. Each entry must also say where it comes from: the vendor's words, or "assumed".
"""

from __future__ import annotations

import pytest

from reconciler.contract.registry import Registry
from reconciler.contract.siro import SIRO
from reconciler.contract.zelto import ZELTO
from reconciler.emulator.contract import SIRO_BEHAVIOUR, ZELTO_BEHAVIOUR

PAIRS = [(ZELTO, ZELTO_BEHAVIOUR), (SIRO, SIRO_BEHAVIOUR)]


@pytest.mark.parametrize(("registry", "emulator"), PAIRS, ids=["zelto", "siro"])
def test_both_sides_name_the_same_entries(
    registry: Registry, emulator: dict[str, tuple[object, str]]
) -> None:
    assert sorted(registry.names()) == sorted(emulator)


@pytest.mark.parametrize(
    ("registry", "key"),
    [(r, k) for r, _ in PAIRS for k in r.names()],
    ids=[f"{r.api}:{k}" for r, _ in PAIRS for k in r.names()],
)
def test_both_sides_hold_the_same_value(registry: Registry, key: str) -> None:
    emulator = ZELTO_BEHAVIOUR if registry is ZELTO else SIRO_BEHAVIOUR
    value, does = emulator[key]
    assert value == registry[key].value, f"{registry.api} {key}: emulator {value!r}"
    assert does.strip()


@pytest.mark.parametrize("registry", [ZELTO, SIRO], ids=["zelto", "siro"])
def test_every_entry_is_sourced_and_says_what_the_client_does(registry: Registry) -> None:
    for entry in registry:
        assert entry.reading and entry.client and entry.probe, entry.key
        assert entry.source in {"vendor", "assumed"}
