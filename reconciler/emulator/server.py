"""Running the emulator: in a thread (tests, the ``local`` target), a process (benchmarks), or in
the foreground (``reconciler emulator serve``).

Tests start many emulators, so the thread mode binds its socket itself (the port is known at
once) and replaces uvicorn's 0.1 s polling loop and shutdown sleep with an event: a start/stop
cycle takes milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import multiprocessing
import socket
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import asdict
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any, Protocol

import uvicorn

from reconciler.emulator.app import EmulatorApp, InjectedDropError, create_app
from reconciler.emulator.config import EmulatorConfig
from reconciler.emulator.errors import EmulatorError
from reconciler.emulator.faults import Faults
from reconciler.emulator.store import Store

__all__ = ["RunningEmulator", "serve_forever", "start_in_process", "start_in_thread"]

_SHUTDOWN_GRACE_SECONDS = 5.0
_START_TIMEOUT_SECONDS = 30.0


class _HideInjectedDrops(logging.Filter):
    """uvicorn logs every exception escaping the app; injected drops are not errors."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], InjectedDropError))


_DROP_FILTER = _HideInjectedDrops()


def _hide_injected_drops() -> None:
    """Installed when a server starts, not at import: importing the emulator (the ``local``
    target does) must not reconfigure a host application's logging. Adding it again is a no-op."""
    logging.getLogger("uvicorn.error").addFilter(_DROP_FILTER)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and
    # without it Nagle + delayed ACKs add 40 ms to every keep-alive response.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise EmulatorError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return sock


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _uvicorn_config(
    app: EmulatorApp, *, http: str = "auto", loop: str = "asyncio", access_log: bool = False
) -> Any:
    """Every way of serving goes through here, so it is where the server's logging is set."""
    _hide_injected_drops()
    return uvicorn.Config(
        app,
        lifespan="off",
        access_log=access_log,
        log_config=None,
        log_level="info" if access_log else "warning",
        http=http,
        loop=loop,
        timeout_keep_alive=30,
    )


class _Control(Protocol):
    def set_faults(self, faults: Faults) -> None: ...
    def faults(self) -> Faults: ...
    def request_counts(self) -> dict[tuple[str, str], int]: ...
    def reset_request_counts(self) -> None: ...


class _LocalControl:
    def __init__(self, app: EmulatorApp) -> None:
        self._app = app

    def set_faults(self, faults: Faults) -> None:
        self._app.injector.set(faults)

    def faults(self) -> Faults:
        return self._app.injector.faults

    def request_counts(self) -> dict[tuple[str, str], int]:
        return self._app.counter.snapshot()

    def reset_request_counts(self) -> None:
        self._app.counter.reset()


class _HttpControl:
    """The control endpoints under /_emulator/, for an emulator in another process."""

    def __init__(self, url: str) -> None:
        self._url = url + "/_emulator/"

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self._url + path, data=data, method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def set_faults(self, faults: Faults) -> None:
        self._call("PUT", "faults", asdict(faults))

    def faults(self) -> Faults:
        return Faults(**self._call("GET", "faults"))

    def request_counts(self) -> dict[tuple[str, str], int]:
        counts = self._call("GET", "requests")["counts"]
        return {(c["method"], c["route"]): c["count"] for c in counts}

    def reset_request_counts(self) -> None:
        self._call("DELETE", "requests")


class RunningEmulator:
    """A started emulator: where it listens, its local credentials, and how to steer it."""

    def __init__(
        self,
        url: str,
        config: EmulatorConfig,
        control: _Control,
        stop: Callable[[], None],
        app: EmulatorApp | None = None,
    ) -> None:
        self.url = url
        self.config = config
        self.zelto_api_key = config.zelto_api_key
        self.siro_token = config.siro_token
        self._control = control
        self._stop = stop
        self._app = app
        self._stopped = False

    @property
    def store(self) -> Store:
        """Direct access to the state (thread mode only: the process mode shares no memory)."""
        if self._app is None:
            raise EmulatorError("store is only available for an emulator started in a thread")
        return self._app.store

    @property
    def app(self) -> EmulatorApp:
        if self._app is None:
            raise EmulatorError("app is only available for an emulator started in a thread")
        return self._app

    def set_faults(self, faults: Faults) -> None:
        """Change faults from now on; the seeded sequence restarts."""
        self._control.set_faults(faults)

    @property
    def faults(self) -> Faults:
        return self._control.faults()

    def request_counts(self) -> dict[tuple[str, str], int]:
        """Requests received per (METHOD, route template), faulted ones included."""
        return self._control.request_counts()

    def reset_request_counts(self) -> None:
        self._control.reset_request_counts()

    def stop(self) -> None:
        """Stop serving and release the port and the state; safe to call twice."""
        if not self._stopped:
            self._stopped = True
            self._stop()

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"RunningEmulator(url={self.url!r})"


async def _fast_shutdown(server: Any) -> None:
    """Close listeners and idle connections now; let in-flight responses finish (bounded)."""
    for listener in server.servers:
        listener.close()
    for connection in list(server.server_state.connections):
        connection.shutdown()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _SHUTDOWN_GRACE_SECONDS
    while server.server_state.connections and loop.time() < deadline:
        await asyncio.sleep(0.002)
    for task in list(server.server_state.tasks):
        task.cancel()


class _ThreadServer:
    def __init__(self, app: EmulatorApp, sock: socket.socket) -> None:
        self._server = uvicorn.Server(_uvicorn_config(app))
        self._sock = sock
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="reconciler-emulator", daemon=True)

    def start(self) -> None:
        self.thread.start()
        if not self._ready.wait(_START_TIMEOUT_SECONDS):
            raise EmulatorError("the emulator did not start within 30 s")
        if self.error is not None:
            raise EmulatorError(f"the emulator could not start: {self.error}") from self.error

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to the starting thread
            self.error = exc
        finally:
            self._ready.set()
            self._sock.close()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        server = self._server
        if not server.config.loaded:
            server.config.load()
        server.lifespan = server.config.lifespan_class(server.config)
        await server.startup(sockets=[self._sock])
        self._ready.set()
        await self._stop_event.wait()
        await _fast_shutdown(server)

    def stop(self) -> None:
        if self._loop is not None and self._stop_event is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed
                self._loop.call_soon_threadsafe(self._stop_event.set)
        self.thread.join(_SHUTDOWN_GRACE_SECONDS + 5)


def start_in_thread(
    config: EmulatorConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> RunningEmulator:
    """Serve in a daemon thread of this process; port 0 picks a free port."""
    config = config or EmulatorConfig()
    app = create_app(config)
    try:
        sock = _bind(host, port)
    except BaseException:
        app.store.close()
        raise
    url = _url(sock)
    runner = _ThreadServer(app, sock)

    def stop() -> None:
        runner.stop()
        app.store.close()

    try:
        runner.start()
    except BaseException:
        stop()
        raise
    return RunningEmulator(url, config, _LocalControl(app), stop, app)


def _process_main(
    config: EmulatorConfig, host: str, port: int, http: str, conn: Connection
) -> None:
    try:
        app = create_app(config)
        sock = _bind(host, port)
    except Exception as exc:
        conn.send(("error", str(exc)))
        conn.close()
        return
    conn.send(("ready", _url(sock)))
    conn.close()
    uvicorn.Server(_uvicorn_config(app, http=http, loop="auto")).run(sockets=[sock])


def start_in_process(
    config: EmulatorConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    http: str = "auto",
) -> RunningEmulator:
    """Serve from a separate process, so a benchmark's client and server share no GIL.

    ``http`` picks uvicorn's HTTP parser ("auto" uses httptools when installed, else "h11").
    State is reachable only through the control endpoints (faults, request counts).
    """
    config = config or EmulatorConfig()
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe(duplex=False)
    process = context.Process(
        target=_process_main, args=(config, host, port, http, child), daemon=True
    )
    process.start()
    child.close()
    if not parent.poll(_START_TIMEOUT_SECONDS):
        process.kill()
        raise EmulatorError("the emulator process did not start within 30 s")
    try:
        status, detail = parent.recv()
    except EOFError:
        process.join(5)
        status, detail = "error", f"the process exited first (exit code {process.exitcode})"
    parent.close()
    if status != "ready":
        process.join(5)
        raise EmulatorError(f"the emulator process could not start: {detail}")

    def stop() -> None:
        process.terminate()
        process.join(_SHUTDOWN_GRACE_SECONDS + 5)
        if process.is_alive():
            process.kill()
            process.join()

    return RunningEmulator(detail, config, _HttpControl(detail), stop)


def serve_forever(
    config: EmulatorConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 8787,
    on_ready: Callable[[str], None] | None = None,
    http: str = "auto",
    access_log: bool = False,
) -> None:
    """Serve in the foreground until SIGINT/SIGTERM (uvicorn's graceful shutdown).

    ``access_log`` sends one record per request to the ``uvicorn.access`` logger (at INFO);
    the caller decides where that logger writes.
    """
    app = create_app(config)
    try:
        sock = _bind(host, port)
    except BaseException:
        app.store.close()
        raise
    try:
        if on_ready is not None:
            on_ready(_url(sock))
        server_config = _uvicorn_config(app, http=http, loop="auto", access_log=access_log)
        uvicorn.Server(server_config).run(sockets=[sock])
    finally:
        sock.close()
        app.store.close()
