"""run_sync: an engine step's result is handed back untouched, and never turned into text."""

from __future__ import annotations

import asyncio

import pytest

from reconciler.engine.steps import run_sync


class _NoRepr:
    """A result that counts how often anything asked for its repr (the loop did, on 3.11).

    Counted, not raised: the caller on 3.11 was ``reprlib``, which swallows exceptions.
    """

    def __init__(self) -> None:
        self.reprs = 0

    def __repr__(self) -> str:
        self.reprs += 1
        return "_NoRepr()"


async def _step() -> _NoRepr:
    await asyncio.sleep(0)
    return _NoRepr()


def test_result_is_not_reprd_when_no_loop_runs() -> None:
    result = run_sync(_step())
    assert isinstance(result, _NoRepr)
    assert result.reprs == 0


def test_result_is_not_reprd_inside_a_running_loop() -> None:
    async def caller() -> _NoRepr:
        return run_sync(_step())

    holder: list[_NoRepr] = []

    async def outer() -> None:
        holder.append(await caller())

    asyncio.run(outer())  # the outer task returns None: its own repr is harmless
    assert isinstance(holder[0], _NoRepr)
    assert holder[0].reprs == 0


def test_a_failing_step_raises_its_own_error() -> None:
    async def failing() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        run_sync(failing())


def test_steps_run_on_uvloop_where_it_is_installed() -> None:
    """The reading phase of a large plan is bound by the client's CPU per request, which uvloop's
    loop lowers (docs/performance.md); every step goes through run_sync, the one place."""
    uvloop = pytest.importorskip("uvloop")

    async def loop_type() -> type[asyncio.AbstractEventLoop]:
        return type(asyncio.get_running_loop())

    assert run_sync(loop_type()) is uvloop.Loop
