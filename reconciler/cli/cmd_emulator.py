"""``reconciler emulator serve``: the local Zelto + Siro API in the foreground, for trying things
by hand or pointing another tool at it. Binds 127.0.0.1 unless told otherwise."""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import click

from reconciler.cli.common import handle_errors, main
from reconciler.emulator import EmulatorConfig, EmulatorError, Faults, serve_forever
from reconciler.emulator.contract import (
    DEFAULT_RETRY_AFTER_SECONDS,
    DEFAULT_SIRO_TOKEN,
    DEFAULT_ZELTO_API_KEY,
    SIRO_REQUESTS_PER_MINUTE,
    SIRO_UNKNOWN_RECORDING_DEFAULT,
    SIRO_UNKNOWN_RECORDING_MODES,
)
from reconciler.errors import ConfigError


@main.group("emulator")
def emulator() -> None:
    """The embedded Zelto + Siro emulator (no account, no network)."""


Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def _defaulted(name: str, default: Any, help_text: str, kind: Any = None) -> Decorator:
    """An option whose default is the emulator's own (from emulator/contract.py, never a second
    copy here), shown in ``--help``."""
    return click.option(f"--{name}", type=kind, default=default, show_default=True, help=help_text)


def _fraction(name: str, what: str) -> Decorator:
    return _defaulted(name, 0.0, f"Fraction of requests (0–1) that {what}.", click.FloatRange(0, 1))


def _print_requests() -> None:
    """uvicorn's access records, one line each on stderr (the CLI is where output is decided)."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    access = logging.getLogger("uvicorn.access")
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    access.propagate = False


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@emulator.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@_defaulted("port", 8787, "0 picks a free port.", click.IntRange(0, 65535))
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite file for the state (kept across runs); default: in memory.",
)
@click.option(
    "--seed",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML or JSON seed file (see docs/emulator.md).",
)
@_defaulted("latency-ms", 0.0, "Added to every response.", click.FloatRange(min=0))
@_fraction("error-rate", "get a 503")
@_fraction("throttle-rate", "get a 429 with Retry-After")
@_fraction("drop-rate", "have their connection cut mid-response")
@_fraction("lost-response-rate", "are served (writes stored), then lose their response")
@_defaulted(
    "retry-after",
    DEFAULT_RETRY_AFTER_SECONDS,
    "Retry-After seconds sent with injected 429s.",
    click.FloatRange(min=0),
)
@click.option(
    "--max-rps",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Hard limit: requests per second beyond it get 429.",
)
@_defaulted("fault-seed", 0, "Seed of the fault sequence: the same seed gives the same fates.", int)
@click.option(
    "--fault-method",
    "fault_methods",
    multiple=True,
    type=click.Choice(["GET", "POST"], case_sensitive=False),
    help="Only requests with this method meet faults (repeatable); default: all requests.",
)
@click.option(
    "--auto-create-conversations",
    is_flag=True,
    help="Create unknown (well-formed) conversation ids on first use; for quickstarts only.",
)
@_defaulted(
    "zelto-api-key", DEFAULT_ZELTO_API_KEY, "The local Zelto key it accepts (not a secret)."
)
@_defaulted("siro-token", DEFAULT_SIRO_TOKEN, "The local Siro token it accepts (not a secret).")
@_defaulted(
    "siro-rpm",
    SIRO_REQUESTS_PER_MINUTE,
    "Siro requests per token per minute before 429.",
    click.IntRange(min=1),
)
@_defaulted(
    "siro-page-size",
    0,
    "Siro metric values per page (0 = one page); the next page is asked for with ?cursor=.",
    click.IntRange(min=0),
)
@click.option(
    "--siro-broken-cursor",
    type=click.Choice(["null", "repeat"]),
    default=None,
    help="With --siro-page-size: every page says hasNextPage with a null or repeated cursor.",
)
@_defaulted(
    "siro-unknown-recording",
    SIRO_UNKNOWN_RECORDING_DEFAULT,
    "What an unknown recording id answers: 404, or 200 with a count of 0.",
    click.Choice(SIRO_UNKNOWN_RECORDING_MODES),
)
@click.option(
    "--strict",
    is_flag=True,
    help="Also refuse what the vendors' pages do not forbid (unknown or null body fields, "
    "lengths in UTF-16 units, empty or repeated Siro filters, lower-case date-times, "
    "endAt before startAt); the project's tests run strict.",
)
@click.option("--access-log", is_flag=True, help="Print one line per request on stderr.")
@handle_errors
def serve(  # noqa: PLR0917 (one parameter per click option)
    host: str,
    port: int,
    db: Path | None,
    seed: Path | None,
    latency_ms: float,
    error_rate: float,
    throttle_rate: float,
    drop_rate: float,
    lost_response_rate: float,
    retry_after: float,
    max_rps: float | None,
    fault_seed: int,
    fault_methods: tuple[str, ...],
    auto_create_conversations: bool,
    zelto_api_key: str,
    siro_token: str,
    siro_rpm: int,
    siro_page_size: int,
    siro_broken_cursor: str | None,
    siro_unknown_recording: str,
    strict: bool,
    access_log: bool,
) -> None:
    """Serve the emulator until Ctrl-C or SIGTERM."""
    try:
        config = EmulatorConfig(
            db_path=db,
            seed=seed,
            faults=Faults(
                latency_ms=latency_ms,
                error_rate=error_rate,
                throttle_rate=throttle_rate,
                retry_after_seconds=retry_after,
                drop_rate=drop_rate,
                lost_response_rate=lost_response_rate,
                max_requests_per_second=max_rps,
                seed=fault_seed,
                methods=fault_methods,
            ),
            auto_create_conversations=auto_create_conversations,
            siro_requests_per_minute=siro_rpm,
            zelto_api_key=zelto_api_key,
            siro_token=siro_token,
            siro_page_size=siro_page_size,
            siro_broken_cursor=siro_broken_cursor,
            siro_unknown_recording=siro_unknown_recording,
            strict=strict,
        )
        if host not in {"127.0.0.1", "localhost", "::1"}:
            click.echo(f"warning: binding {host}: the emulator has no real security", err=True)

        def announce(url: str) -> None:
            click.echo(f"Zelto + Siro emulator listening on {url} (Ctrl-C to stop)")
            click.echo("These are the emulator's own local credentials:")
            click.echo(f"  export ZELTO_API_URL={url} ZELTO_API_KEY={zelto_api_key}")
            click.echo(f"  export SIRO_API_URL={url} SIRO_AUTH_TOKEN={siro_token}")

        previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
        try:
            if access_log:
                _print_requests()
            serve_forever(config, host=host, port=port, on_ready=announce, access_log=access_log)
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
    except EmulatorError as exc:
        raise ConfigError(str(exc)) from exc
    click.echo("emulator stopped")
