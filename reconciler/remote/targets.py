"""Which API a command talks to, with which token, and starting the embedded emulator for ``local``.

Precedence (docs/semantics.md §5), strongest first: ``--api-url`` / ``ZELTO_API_URL`` (token from
``ZELTO_API_KEY``), then ``--target NAME``, then ``defaultTarget``, then ``local``. Tokens come
only from the environment or a file named in config, never from argv, so they do not end up in
shell history or process listings. Plain ``http://`` is allowed for loopback only: anything else
would send the token in clear text. TLS verification is always on; there is no switch.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from reconciler.config import STATE_DIR, LoadedConfig
from reconciler.config.sections import DEFAULT_TOKEN_ENV, Target
from reconciler.config.siro import SiroSettings
from reconciler.errors import ConfigError
from reconciler.files import ensure_state_dir
from reconciler.remote.http import Endpoint, Secret
from reconciler.remote.http.urls import check_api_url

__all__ = [
    "API_KEY_ENV",
    "API_URL_ENV",
    "ResolvedTarget",
    "open_target",
    "resolve_siro",
    "resolve_target",
]

API_URL_ENV = "ZELTO_API_URL"
API_KEY_ENV = DEFAULT_TOKEN_ENV


@dataclass(frozen=True)
class ResolvedTarget:
    """A target made concrete: either a URL with its token, or an emulator state file.

    ``name`` is what plans and reports print: the target's name, or the host for ``--api-url``.
    """

    name: str
    url: str | None = None
    token: Secret | None = None
    token_source: str = ""
    emulator_state: Path | None = None

    @property
    def is_emulator(self) -> bool:
        return self.emulator_state is not None


def _host_name(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or url
    return f"{host}:{parts.port}" if parts.port else host


def _token_from_env(environ: Mapping[str, str], variable: str, purpose: str) -> Secret:
    value = environ.get(variable, "").strip()
    if not value:
        raise ConfigError(
            f"no token for {purpose}: set the environment variable {variable} "
            "(tokens are never read from the command line or spec files)"
        )
    return Secret(value)


def _token_from_file(path: Path, purpose: str) -> Secret:
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(
            f"cannot read the token file {path} for {purpose}: {exc.strerror}"
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"the token file {path} for {purpose} is not UTF-8 text") from exc
    if not value:
        raise ConfigError(f"the token file {path} for {purpose} is empty")
    return Secret(value)


def _configured_token(
    loaded: LoadedConfig,
    token_file: str | None,
    token_env: str,
    environ: Mapping[str, str],
    purpose: str,
) -> tuple[Secret, str]:
    if token_file is not None:
        path = loaded.resolve(token_file)
        return _token_from_file(path, purpose), str(path)
    return _token_from_env(environ, token_env, purpose), token_env


def _from_target(
    loaded: LoadedConfig, name: str, target: Target, environ: Mapping[str, str]
) -> ResolvedTarget:
    if target.emulator is not None:
        return ResolvedTarget(name=name, emulator_state=loaded.resolve_state(target.emulator))
    assert target.url is not None  # Target's validator guarantees exactly one of the two
    url = check_api_url(target.url, f"target '{name}'")
    purpose = f"target '{name}'"
    token, source = _configured_token(loaded, target.token_file, target.token_env, environ, purpose)
    return ResolvedTarget(name=name, url=url, token=token, token_source=source)


def resolve_target(
    loaded: LoadedConfig,
    *,
    target: str | None,
    api_url: str | None,
    environ: Mapping[str, str],
) -> ResolvedTarget:
    """Pick the target by the precedence of docs/semantics.md §5 and find its token.

    An explicit ``--target`` beside a URL (``--api-url``, or ``ZELTO_API_URL`` left exported,
    e.g. from ``emulator serve``) is refused: silently preferring either would send a plan or
    an apply somewhere the user did not name.
    """
    from_env = environ.get(API_URL_ENV, "").strip() or None
    if target is not None and (api_url or from_env):
        raise ConfigError(_both_chosen(target, api_url))
    direct = api_url or from_env
    if direct is not None:
        what = "--api-url" if api_url else API_URL_ENV
        url = check_api_url(direct, what)
        token = _token_from_env(environ, API_KEY_ENV, url)
        return ResolvedTarget(name=_host_name(url), url=url, token=token, token_source=API_KEY_ENV)
    name = target or loaded.config.default_target
    return _from_target(loaded, name, loaded.config.target(name), environ)


def _both_chosen(target: str, api_url: str | None) -> str:
    if api_url:
        return f"--target {target} and --api-url both say where to go; give only one"
    return (
        f"--target {target} and {API_URL_ENV} (set in the environment) both say where to go; "
        f"unset {API_URL_ENV} to use --target, or drop --target to use the URL"
    )


def resolve_siro(
    loaded: LoadedConfig, settings: SiroSettings, environ: Mapping[str, str]
) -> Endpoint:
    """The Siro endpoint of ``reconciler import siro``, with the same URL and token rules."""
    url = check_api_url(settings.url, "siro.url")
    token, source = _configured_token(
        loaded, settings.token_file, settings.token_env, environ, "Siro"
    )
    return Endpoint(url=url, token=token, name=_host_name(url), token_source=source)


@contextmanager
def open_target(resolved: ResolvedTarget) -> Iterator[Endpoint]:
    """The Zelto endpoint to talk to; for an emulator target, the embedded emulator runs
    meanwhile."""
    if not resolved.is_emulator:
        assert resolved.url is not None and resolved.token is not None
        yield Endpoint(
            url=resolved.url,
            token=resolved.token,
            name=resolved.name,
            token_source=resolved.token_source,
        )
        return
    with _embedded_emulator(resolved) as endpoint:
        yield endpoint


@contextmanager
def _embedded_emulator(resolved: ResolvedTarget) -> Iterator[Endpoint]:
    # Imported here: only the local target needs the server stack (starlette, uvicorn).
    from reconciler.emulator import EmulatorConfig, EmulatorError, start_in_thread

    state = resolved.emulator_state
    assert state is not None
    try:
        if state.parent.name == STATE_DIR:  # the default: git-ignored like the caches beside it
            ensure_state_dir(state.parent)
        else:
            state.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"target '{resolved.name}': cannot create {state.parent}: {exc.strerror}"
        ) from exc
    try:
        handle = start_in_thread(EmulatorConfig(db_path=state, auto_create_conversations=True))
    except EmulatorError as exc:
        raise ConfigError(
            f"target '{resolved.name}': the embedded emulator could not start: {exc}. "
            f"It is local test state: delete {state} to start afresh."
        ) from exc
    try:
        yield Endpoint(
            url=handle.url,
            token=Secret(handle.zelto_api_key),
            name=resolved.name,
            token_source="the embedded emulator",
        )
    finally:
        handle.stop()
