"""The library engine: load → read → plan → check → apply, for the CLI and for any Python caller.

The CLI adds only options, prompts, progress bars, signals and printing; everything that decides
what is planned or written happens here, so a notebook, a service or a benchmark plans and applies
exactly as ``reconciler plan`` and ``reconciler apply`` do. Nothing here prints: progress and
remarks arrive through callbacks, failures as ``ReconcilerError`` subclasses.

Order matters for the user: config first (it says where specs are), then specs (a typo is
reported before any token is needed), then the target, then the network. The target (the
embedded emulator for ``local``) is opened once and stays up until :meth:`Workspace.close`, so a
plan and its apply go to the same one; each network step opens and closes its own HTTP session.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from reconciler.applier import ApplyReport, check_applicable, check_target, has_masked_values
from reconciler.applier import prepare as prepare_plan
from reconciler.config import LoadedConfig, load_config
from reconciler.config.sections import ApplySettings, PlanSettings
from reconciler.engine import scope
from reconciler.engine.importing import (
    DEFAULT_ZELTO_OUT,
    import_from_siro,
    import_from_zelto,
    out_folder,
)
from reconciler.engine.importing import conversation_ids as checked_ids
from reconciler.engine.scope import NoteCallback
from reconciler.engine.specs import load_desired, load_planned, spec_paths
from reconciler.engine.steps import (
    ProgressCallback,
    UnreadableCallback,
    freeze_survivors,
    read_and_plan,
    run_sync,
    write_plan,
)
from reconciler.errors import ConfigError
from reconciler.importer.writing import ImportReport
from reconciler.model import DesiredState
from reconciler.plan.merge import scope_label
from reconciler.plan.model import Plan
from reconciler.plan.offline import mark_removed
from reconciler.plan.planner import Planner
from reconciler.plan.shard import Shard
from reconciler.remote.http import Deadline, Endpoint, HttpSettings
from reconciler.remote.targets import ResolvedTarget, open_target, resolve_target
from reconciler.spec.history import DEFAULT_HISTORY_COMMITS

__all__ = ["Workspace"]


class Workspace:
    """One configuration (reconciler.yaml and its specs) and one target, ready to plan and apply.

    Create it with :meth:`load`; close it (or use ``with``) to stop the embedded emulator.
    Methods are synchronous: each runs an event loop of its own (see ``run_sync``), from any
    thread, even one that runs a loop already. One workspace serves one caller at a time.
    """

    def __init__(
        self,
        loaded: LoadedConfig,
        *,
        root: Path = Path("."),
        target: str | None = None,
        api_url: str | None = None,
        environ: Mapping[str, str] | None = None,
        pause_gc: bool = False,
        deadline: float | None = None,
    ) -> None:
        self.loaded = loaded
        self._pause_gc = pause_gc
        self._deadline = None if deadline is None else Deadline.after(deadline)
        self._root = root
        self._target = target
        self._api_url = api_url
        self._environ = environ
        self._resolved: ResolvedTarget | None = None
        self._endpoint: Endpoint | None = None
        self._stack = ExitStack()
        self._desired: DesiredState | None = None  # what the last plan was made from

    @classmethod
    def load(
        cls,
        root: Path = Path("."),
        *,
        config_file: Path | None = None,
        target: str | None = None,
        api_url: str | None = None,
        environ: Mapping[str, str] | None = None,
        state_dir: Path | None = None,
        pause_gc: bool = False,
        deadline: float | None = None,
    ) -> Workspace:
        """Read the configuration: ``config_file``, else the nearest reconciler.yaml from ``root``.

        PATHs given to :meth:`plan` and relative ``config_file`` resolve against ``root``.
        ``state_dir`` holds the local state (the ``local`` target's emulator database, the spec
        cache), by default ``<config folder>/.reconciler``; keep it stable when planning
        throw-away copies of the specs. ``environ`` (default: ``os.environ``, read when needed)
        is where tokens and ``ZELTO_API_URL`` come from. The target is chosen lazily, after the
        specs have loaded, so that a spec mistake is reported before a missing token.
        ``pause_gc`` pauses Python's cyclic garbage collector while specs load and freezes what
        they built, and freezes what is alive before an apply's writes (the plan: see
        steps.freeze_survivors): faster for a short-lived program (the CLI asks for it), but
        process-wide, so a long-running service embedding the engine decides for itself.
        ``deadline`` (seconds from now) bounds every read and write of this workspace: no
        request starts and no retry waits past it (``--deadline``).
        """
        loaded = load_config(config_file, cwd=root.absolute())
        if state_dir is not None:
            loaded = replace(loaded, state_root=state_dir.absolute())
        return cls(
            loaded,
            root=root,
            target=target,
            api_url=api_url,
            environ=environ,
            pause_gc=pause_gc,
            deadline=deadline,
        )

    # --- specs ------------------------------------------------------------------------------
    def spec_files(self, paths: Sequence[Path] = ()) -> list[Path]:
        """The spec paths a command reads: ``paths`` (anchored at root) or the configured ones."""
        return spec_paths(self.loaded, paths, cwd=self._root)

    def desired(self, paths: Sequence[Path] = (), *, use_cache: bool = True) -> DesiredState:
        """The specs under ``paths`` (default: the configured ones), loaded and checked.

        Raises SpecError listing every problem of the run.
        """
        return load_desired(
            self.loaded, paths, cwd=self._root, use_cache=use_cache, pause_gc=self._pause_gc
        )

    # --- target -----------------------------------------------------------------------------
    @property
    def target_name(self) -> str:
        """The name plans and reports carry: the target's, or the host of an API URL."""
        return self._resolve().name

    def connect(self) -> None:
        """Open the target now (start the embedded emulator for ``local``); plan and apply do it
        themselves when needed. Raises ConfigError when the target cannot be used."""
        self._open()

    def close(self) -> None:
        """Stop the embedded emulator if one was started; the workspace can be opened again."""
        self._endpoint = None
        self._stack.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _resolve(self) -> ResolvedTarget:
        if self._resolved is None:
            environ = os.environ if self._environ is None else self._environ
            self._resolved = resolve_target(
                self.loaded, target=self._target, api_url=self._api_url, environ=environ
            )
        return self._resolved

    def _open(self) -> Endpoint:
        if self._endpoint is None:
            self._endpoint = self._stack.enter_context(open_target(self._resolve()))
        return self._endpoint

    # --- plan -------------------------------------------------------------------------------
    def plan(
        self,
        paths: Sequence[Path] = (),
        *,
        shard: Shard | None = None,
        changed_since: str | None = None,
        adopt: bool = False,
        offline: bool = False,
        concurrency: int | None = None,
        progress: ProgressCallback | None = None,
        on_unreadable: UnreadableCallback | None = None,
        on_note: NoteCallback | None = None,
        history_commits: int = DEFAULT_HISTORY_COMMITS,
    ) -> Plan:
        """What apply would do: read what the target holds for the chosen conversations and plan.

        ``paths`` inside the configured specs choose conversations (the catalog and the other
        files' records still apply); ``changed_since`` narrows to the conversations whose specs
        differ from that git ref, ``shard`` to shard I of N. ``offline`` (with ``changed_since``)
        reads nothing and needs no token. ``concurrency`` overrides ``plan.concurrency`` from
        reconciler.yaml (GETs in flight). ``progress(done, total)`` follows the reads,
        ``on_unreadable(id, message)`` reports each conversation that could not be read (the
        plan carries it as an error), ``on_note(text)`` a remark such as specs at REF that do
        not load. A plan of all the specs (no ``paths``, no ``changed_since``) also reads the
        conversations that the last ``history_commits`` commits of the spec paths declared and
        the specs no longer do, so that their records show as orphans (0: none).
        """
        label = scope_label(changed_since, shard)
        if offline:
            return self._offline(paths, changed_since, shard, label, on_note, adopt=adopt)
        everything = load_planned(self.loaded, paths, cwd=self._root, pause_gc=self._pause_gc)
        self._resolve()  # a missing token is reported before git or the network are asked
        desired = everything
        change = None
        if changed_since is not None:
            where = self.spec_files(paths)
            change = scope.change_since(self.loaded, everything, where, changed_since, on_note)
            desired = scope.in_change(desired, change)
        elif not paths:
            where = self.spec_files()
            desired = scope.with_retired(self.loaded, desired, where, history_commits, on_note)
        desired = scope.shard_desired(desired, shard)
        settings = _http_settings(self.loaded.config.plan, concurrency, self._deadline)
        made = self._read_and_plan(
            desired,
            settings,
            adopt=adopt,
            label=label,
            progress=progress,
            on_unreadable=on_unreadable,
        )
        self._desired = everything
        if change is not None:
            made = mark_removed(made, change.removed, ref=change.ref)
        return made

    def _offline(
        self,
        paths: Sequence[Path],
        changed_since: str | None,
        shard: Shard | None,
        label: str | None,
        on_note: NoteCallback | None,
        *,
        adopt: bool,
    ) -> Plan:
        if changed_since is None:
            raise ConfigError(
                "--offline needs --changed-since REF: an offline plan shows how the specs "
                "changed since REF, because it cannot read what Zelto holds"
            )
        desired = self.desired(paths)
        where = self.spec_files(paths)
        change = scope.change_since(self.loaded, desired, where, changed_since, on_note)
        return scope.offline(self.loaded, desired, change, shard=shard, scope=label, adopt=adopt)

    def _read_and_plan(
        self,
        desired: DesiredState,
        settings: HttpSettings,
        *,
        adopt: bool,
        label: str | None,
        progress: ProgressCallback | None,
        on_unreadable: UnreadableCallback | None,
    ) -> Plan:
        endpoint = self._open()
        config = self.loaded.config
        planner = Planner(
            desired.catalog,
            ownership_prefix=config.ownership.external_id_prefix,
            adopt_all=adopt,
            sensitive=config.sensitive,
        )
        return run_sync(
            read_and_plan(
                endpoint,
                settings,
                desired,
                planner,
                scope=label,
                progress=progress,
                on_unreadable=on_unreadable,
            )
        )

    # --- import -----------------------------------------------------------------------------
    def import_siro(
        self,
        start: datetime,
        end: datetime,
        *,
        out_dir: Path | None = None,
        partial: bool = False,
        siro_url: str | None = None,
    ) -> ImportReport:
        """Write spec files from the Siro scorecards of the recordings mapped in reconciler.yaml
        (``siro:``), for recordings between ``start`` and ``end`` (docs/import.md).

        ``siro_url`` (else ``SIRO_API_URL``, else ``siro.url``) says where Siro is; the token
        comes from ``environ``. ``out_dir`` (anchored at root) overrides ``siro.output``. With
        errors nothing is written, unless ``partial``; the report lists them either way.
        """
        environ = os.environ if self._environ is None else self._environ
        return run_sync(
            import_from_siro(
                self.loaded,
                environ,
                start=start,
                end=end,
                out_dir=out_dir,
                partial=partial,
                siro_url=siro_url,
                cwd=self._root,
            )
        )

    def import_zelto(
        self,
        conversation_ids: Sequence[str],
        *,
        out_dir: Path | None = None,
        partial: bool = False,
    ) -> ImportReport:
        """Write spec files that adopt the records the target holds for these conversations
        (default folder: specs/imported/zelto). Raises ConfigError for an id that is not a
        conversation UUID, before any request."""
        ids = checked_ids(conversation_ids)
        out = out_folder(self.loaded, out_dir, DEFAULT_ZELTO_OUT, cwd=self._root)
        self._resolve()
        endpoint = self._open()
        return run_sync(import_from_zelto(self.loaded, endpoint, ids, out_dir=out, partial=partial))

    # --- check and apply --------------------------------------------------------------------
    def accept(self, plan: Plan) -> None:
        """The checks a plan made elsewhere (a saved file) passes before anything starts: not
        offline, made for this target; the specs are loaded when the plan masks values (apply
        must send the real ones). Raises RefusedPlanError, or SpecError for broken specs."""
        target = self._resolve().name
        if plan.offline:
            # Its target is the pseudo-target 'offline': say why it cannot be applied, rather
            # than suggest `--target offline`, which names no target at all.
            check_applicable(plan, adopt=False)
        check_target(plan, target)
        if self._desired is None and has_masked_values(plan):
            self._desired = self.desired()

    def check(self, plan: Plan, *, force: bool = False, adopt: bool = False) -> Plan:
        """The preflight: every check that refuses a whole apply before its first write, in
        order; returns the plan exactly as it will be written (conflicts adopted with
        ``adopt``, masked values restored from the specs).

        Raises RefusedPlanError (another target, offline, errors, conflicts, changed secrets)
        or UnsafePlanError (above ``apply.maxUpdatePercent``; ``force`` passes it). Whether Zelto
        changed since the plan is not checked here but by :meth:`apply`, right before its first
        write, where the answer is still true.
        """
        self.accept(plan)
        return prepare_plan(
            plan,
            target=self._resolve().name,
            settings=self.loaded.config.apply,
            force=force,
            adopt=adopt,
            desired=self._desired,
        )

    def apply(
        self,
        plan: Plan,
        *,
        progress: ProgressCallback | None = None,
        stop: threading.Event | None = None,
        force: bool = False,
        adopt: bool = False,
        concurrency: int | None = None,
        check_fresh: bool = True,
    ) -> ApplyReport:
        """Check ``plan`` (see :meth:`check`), write it and read every write back.

        ``check_fresh`` first re-reads the conversations it writes to and refuses the whole apply
        (StalePlanError, nothing written) when any changed since planning. ``stop`` (any
        ``threading.Event``; a :class:`StopSignal` also says why) ends the apply gracefully:
        no new request starts, in-flight ones finish, and the report says what was and was not
        applied. ``progress(done, total)`` follows the writes. ``concurrency`` overrides
        ``apply.concurrency`` from reconciler.yaml.
        """
        ready = self.check(plan, force=force, adopt=adopt)
        http = _http_settings(self.loaded.config.apply, concurrency, self._deadline)
        endpoint = self._open()
        if self._pause_gc:
            freeze_survivors()
        return run_sync(
            write_plan(endpoint, http, ready, check_fresh=check_fresh, progress=progress, stop=stop)
        )


def _http_settings(
    settings: PlanSettings | ApplySettings, concurrency: int | None, deadline: Deadline | None
) -> HttpSettings:
    """The configured policy of plan's reads or apply's writes; ``concurrency`` overrides it,
    and the workspace's deadline bounds it."""
    overrides: dict[str, Any] = {"deadline": deadline}
    if concurrency is not None:
        overrides["concurrency"] = concurrency
    return HttpSettings.from_config(settings, **overrides)
