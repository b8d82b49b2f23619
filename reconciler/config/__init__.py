"""``reconciler.yaml``: where specs live, where plans and applies go, and how hard to push.

Every key is optional; without a file the defaults apply, and the default target is ``local`` (the
embedded emulator), so a fresh clone works with no account. Tokens are never stored here: a target
names the *environment variable* (or a file) that holds its token.

The sections live beside this module: ``sections`` (targets, ownership, plan, apply) and ``siro``
(the import mapping); this module puts them together and reads the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError

from reconciler.config.sections import ApplySettings, Ownership, PlanSettings, Target
from reconciler.config.siro import SiroSettings
from reconciler.errors import ConfigError, Issue, SpecError
from reconciler.files import ensure_state_dir, read_regular
from reconciler.model import StrictModel
from reconciler.spec.yamlio import load_yaml, location_at, validation_issues

__all__ = [
    "CONFIG_FILENAME",
    "DEFAULT_TARGET",
    "STATE_DIR",
    "Config",
    "LoadedConfig",
    "config_json_schema",
    "find_config",
    "load_config",
    "spec_cache_dir",
]

CONFIG_FILENAME = "reconciler.yaml"
DEFAULT_TARGET = "local"
#: The folder, relative to the config folder, for local state (git-ignored): the built-in ``local``
#: target's emulator database and the spec cache. ``LoadedConfig.state_dir`` may move it elsewhere.
STATE_DIR = ".reconciler"
DEFAULT_EMULATOR_STATE = f"{STATE_DIR}/local.sqlite"

SensitiveField = Literal["verdict", "score", "note", "metricId"]


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
