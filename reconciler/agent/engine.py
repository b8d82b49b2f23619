"""The one place where the agent meets the plan/apply engine.

The agent needs four operations on one revision's tree: load it, plan it, check that the plan
may be written, and apply it (stoppable from another thread). Keeping them behind this module
means the rest of the agent never depends on how the engine wires config, specs, targets and
HTTP together, so a change there changes this file only.

Until the library ``Workspace`` of the engine issue lands, :class:`Workspace` here is a small
stand-in with the same signatures, built from the same parts ``plan`` and ``apply`` use.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Mapping
from contextlib import ExitStack, suppress
from dataclasses import replace
from pathlib import Path
from types import TracebackType

from reconciler.applier import Applier, ApplyReport, prepare
from reconciler.config import LoadedConfig, load_config
from reconciler.model import DesiredState
from reconciler.plan.model import Plan
from reconciler.plan.planner import make_plan
from reconciler.plan.shard import Shard, restrict, select_shard
from reconciler.remote.current import read_current
from reconciler.remote.http import Endpoint, HttpSession, HttpSettings
from reconciler.remote.targets import ResolvedTarget, open_target, resolve_target
from reconciler.remote.zelto import ZeltoClient
from reconciler.spec import load_specs

__all__ = ["Workspace"]

_POLL_SECONDS = 0.05


class Workspace:
    """One tree of specs, one target: plan, check, apply; close to stop the embedded emulator."""

    def __init__(
        self, loaded: LoadedConfig, desired: DesiredState, resolved: ResolvedTarget
    ) -> None:
        self.loaded = loaded
        self.desired = desired
        self._stack = ExitStack()
        self._endpoint: Endpoint = self._stack.enter_context(open_target(resolved))

    @classmethod
    def load(
        cls,
        root: Path,
        *,
        config_file: Path | None = None,
        target: str | None = None,
        api_url: str | None = None,
        environ: Mapping[str, str] | None = None,
        state_dir: Path | None = None,
    ) -> Workspace:
        """Config, specs (SpecError lists every problem) and the target, for ``root``."""
        loaded = load_config(config_file, cwd=root)
        state = state_dir if state_dir is not None else loaded.root / ".reconciler"
        desired = load_specs(loaded.spec_paths(), root=loaded.root, cache_dir=state / "cache")
        resolved = resolve_target(
            loaded,
            target=target,
            api_url=api_url,
            environ=os.environ if environ is None else environ,
        )
        if resolved.emulator_state is not None and state_dir is not None:
            resolved = replace(resolved, emulator_state=state_dir / resolved.emulator_state.name)
        return cls(loaded, desired, resolved)

    def plan(self, paths: tuple[Path, ...] = (), *, shard: Shard | None = None) -> Plan:
        wanted = self.desired
        if shard is not None:
            chosen = select_shard(wanted.conversations, shard.index, shard.count)
            wanted = restrict(wanted, chosen)
        return asyncio.run(self._plan(wanted, str(shard) if shard else None))

    async def _plan(self, wanted: DesiredState, scope: str | None) -> Plan:
        settings = HttpSettings.from_config(self.loaded.config.plan)
        async with HttpSession(self._endpoint, settings) as session:
            current = await read_current(ZeltoClient(session), wanted)
        config = self.loaded.config
        return make_plan(
            wanted,
            current,
            target=self._endpoint.name,
            ownership_prefix=config.ownership.external_id_prefix,
            sensitive=config.sensitive,
            scope=scope,
        )

    def check(self, plan: Plan, force: bool = False) -> Plan:
        """Refuse (RefusedPlanError, UnsafePlanError) a plan that must not be written at all."""
        return prepare(
            plan,
            target=self._endpoint.name,
            settings=self.loaded.config.apply,
            force=force,
            desired=self.desired,
        )

    def apply(
        self, plan: Plan, *, stop: threading.Event | None = None, force: bool = False
    ) -> ApplyReport:
        ready = self.check(plan, force=force)
        settings = HttpSettings.from_config(self.loaded.config.apply)
        return asyncio.run(self._apply(ready, settings, stop))

    async def _apply(
        self, plan: Plan, settings: HttpSettings, stop: threading.Event | None
    ) -> ApplyReport:
        async with HttpSession(self._endpoint, settings) as session:
            applier = Applier(ZeltoClient(session), check_fresh=False)
            watcher = asyncio.create_task(_stop_when_set(applier, stop))
            try:
                return await applier.run(plan)
            finally:
                watcher.cancel()
                with suppress(asyncio.CancelledError):
                    await watcher

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


async def _stop_when_set(applier: Applier, stop: threading.Event | None) -> None:
    """Turn another thread's stop request into the applier's own graceful stop."""
    if stop is None:
        return
    while not stop.is_set():
        await asyncio.sleep(_POLL_SECONDS)
    applier.stop("stopped (SIGTERM)")
