"""What ``plan`` and ``apply`` share: config and specs → target → current state → Plan.

Both commands must plan the same way, or a reviewed plan would not be what apply does; so the
steps live here once. Order matters for the user: config first (it says where specs are), then
specs (a typo is reported before any token is needed), then the target, then the network.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from reconciler.cli.specs import load_planned
from reconciler.config import LoadedConfig, load_config
from reconciler.model import DesiredState
from reconciler.plan.model import Plan
from reconciler.plan.planner import make_plan
from reconciler.remote.current import read_current
from reconciler.remote.http import Endpoint, HttpSession, HttpSettings
from reconciler.remote.targets import ResolvedTarget, open_target, resolve_target
from reconciler.remote.zelto import ReadResult, ZeltoClient

__all__ = [
    "PlanOptions",
    "Progress",
    "Workspace",
    "load_workspace",
    "opened",
    "plan_now",
    "read_and_plan",
]


@dataclass(frozen=True)
class PlanOptions:
    """What the user asked for on the command line (shared by plan and apply)."""

    paths: tuple[Path, ...] = ()
    config_file: Path | None = None
    target: str | None = None
    api_url: str | None = None
    adopt: bool = False
    scope: str | None = None


@dataclass(frozen=True)
class Workspace:
    """Everything known before touching the network: config, desired state, chosen target."""

    loaded: LoadedConfig
    desired: DesiredState
    resolved: ResolvedTarget
    options: PlanOptions = field(default_factory=PlanOptions)

    @property
    def read_settings(self) -> HttpSettings:
        """The HTTP policy for plan's reads (``plan:`` in reconciler.yaml)."""
        return HttpSettings.from_config(self.loaded.config.plan)


def load_workspace(
    options: PlanOptions, *, environ: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Workspace:
    """Config, specs and target, in the order that reports the cheapest mistakes first.

    PATH arguments choose which conversations to plan (see ``load_planned``); they resolve
    against the current directory, locations in messages against the config file's folder.
    """
    here = cwd or Path.cwd()
    loaded = load_config(options.config_file, cwd=here)
    desired = load_planned(loaded, options.paths, cwd=here)
    resolved = resolve_target(
        loaded,
        target=options.target,
        api_url=options.api_url,
        environ=os.environ if environ is None else environ,
    )
    return Workspace(loaded=loaded, desired=desired, resolved=resolved, options=options)


async def read_and_plan(
    workspace: Workspace,
    endpoint: Endpoint,
    *,
    settings: HttpSettings | None = None,
    progress: Progress | None = None,
    desired: DesiredState | None = None,
) -> Plan:
    """Read the current state of ``desired`` (default: the workspace's) and plan it.

    ``desired`` lets a caller plan a subset (changed-since, shards) with the same rules.
    """
    wanted = desired if desired is not None else workspace.desired
    policy = settings or workspace.read_settings
    if progress is not None:
        progress.start(len(wanted.conversations))
    async with HttpSession(endpoint, policy) as session:
        current = await read_current(
            ZeltoClient(session),
            wanted,
            on_read=progress.advance if progress is not None else None,
        )
    if progress is not None:
        progress.finish()
    config = workspace.loaded.config
    return make_plan(
        wanted,
        current,
        target=endpoint.name,
        ownership_prefix=config.ownership.external_id_prefix,
        adopt_all=workspace.options.adopt,
        sensitive=config.sensitive,
        scope=workspace.options.scope,
    )


def plan_now(workspace: Workspace, *, progress: Progress | None = None) -> Plan:
    """Open the target (starting the emulator for ``local``), read, plan, close."""
    with opened(workspace) as endpoint:
        return asyncio.run(read_and_plan(workspace, endpoint, progress=progress))


class Progress:
    """``reading 1,234/5,000 conversations`` on stderr, redrawn in place, only on a TTY.

    Redrawing is throttled so that a fast read is not slowed down by the terminal.
    """

    def __init__(self, stream: TextIO | None = None, *, interval: float = 0.1) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._interval = interval
        self._total = 0
        self._done = 0
        self._failed = 0
        self._drawn_at = 0.0
        self._enabled = bool(getattr(self._stream, "isatty", lambda: False)())

    @classmethod
    def for_stderr(cls) -> Progress | None:
        """A progress line when stderr is a terminal; None otherwise (CI logs stay clean)."""
        progress = cls()
        return progress if progress._enabled else None

    def start(self, total: int) -> None:
        self._total = total
        self._done = 0
        self._failed = 0
        self._draw(force=True)

    def advance(self, conversation_id: str, result: ReadResult) -> None:
        self._done += 1
        if not isinstance(result, list):
            self._failed += 1
        self._draw(force=self._done == self._total)

    def finish(self) -> None:
        if self._enabled:
            self._stream.write("\r\x1b[K")
            self._stream.flush()

    def _draw(self, *, force: bool) -> None:
        now = time.monotonic()
        if not self._enabled or (not force and now - self._drawn_at < self._interval):
            return
        self._drawn_at = now
        failed = f", {self._failed:,} failed" if self._failed else ""
        line = f"reading {self._done:,}/{self._total:,} conversations{failed}"
        self._stream.write(f"\r\x1b[K{line}")
        self._stream.flush()


@contextmanager
def opened(workspace: Workspace) -> Iterator[Endpoint]:
    """The workspace's target, open for a whole command (plan, then apply on the same one)."""
    with open_target(workspace.resolved) as endpoint:
        yield endpoint
