"""What the agent tests share: a real bare git repository with a working clone that pushes to
it, and ``reconciler agent`` run as a real process against the emulator."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reconciler.emulator import RunningEmulator

CONV_A = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
CONV_B = "5d2f1a60-3b7e-4c1d-9a2b-6e8f0c4d7a19"
REPO = Path(__file__).resolve().parents[2]
#: Two POSTs in flight, so a slowed-down apply is still under way when a test kills it.
CONFIG = "apply: {concurrency: 2}\n"

# Git must not read the machine's or the user's config (signing defaults, hooks, templates).
GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def records(n: int, *, score: int = 70) -> list[dict[str, Any]]:
    return [{"externalId": f"qa-{i}", "label": f"L{i:03}", "score": score} for i in range(n)]


def spec_text(conversations: dict[str, list[dict[str, Any]]]) -> str:
    """A spec file as block YAML, one record field per line, so that lines are predictable."""
    lines = ["conversations:"]
    for cid, recs in conversations.items():
        lines.append(f"  {cid}:")
        for record in recs:
            first = True
            for key, value in record.items():
                lines.append(f"    {'- ' if first else '  '}{key}: {json.dumps(value)}")
                first = False
    return "\n".join(lines) + "\n"


class GitRemote:
    """``origin.git`` (bare, what the agent fetches) and ``work`` (a clone that commits)."""

    def __init__(self, folder: Path) -> None:
        self.origin = folder / "origin.git"
        self.work = folder / "work"
        self.env = {**os.environ, **GIT_ENV}
        self._git(folder, "init", "--bare", "--quiet", "--initial-branch=main", str(self.origin))
        self._git(folder, "init", "--quiet", "--initial-branch=main", str(self.work))
        self.git("remote", "add", "origin", str(self.origin))

    def _git(self, cwd: Path, *args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=cwd, env=self.env, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    def git(self, *args: str) -> str:
        return self._git(self.work, *args)

    def commit(
        self, files: dict[str, str], message: str = "change", *, signing: tuple[str, ...] = ()
    ) -> str:
        """Write ``files``, commit (signed when ``signing`` gives git the -c options), push;
        returns the sha."""
        for name, text in files.items():
            path = self.work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        self.git("add", "-A")
        if signing:
            self.git(*signing, "commit", "--quiet", "-S", "-m", message)
        else:
            self.git("-c", "commit.gpgsign=false", "commit", "--quiet", "-m", message)
        self.git("push", "--quiet", "origin", "HEAD:main")
        return self.git("rev-parse", "HEAD")


def ssh_signing(key: Path) -> tuple[str, ...]:
    return ("-c", "gpg.format=ssh", "-c", f"user.signingkey={key}")


def revision(sha: str) -> str:
    return f"main@sha1:{sha}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class AgentProcess:
    """``python -m reconciler agent`` against one emulator, with its HTTP port known."""

    def __init__(
        self, remote: GitRemote, emulator: RunningEmulator, state: Path, *extra: str
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, **GIT_ENV, "ZELTO_API_KEY": emulator.zelto_api_key}
        env.pop("ZELTO_API_URL", None)
        env["RECONCILER_WEBHOOK_SECRET"] = "hook-secret"
        command = [sys.executable, "-m", "reconciler", "agent", "--repo", str(remote.origin)]
        command += ["--api-url", emulator.url, "--listen", f"127.0.0.1:{self.port}"]
        command += ["--state-dir", str(state), *extra]
        self.process = subprocess.Popen(
            command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def get(self, path: str) -> tuple[int, bytes]:
        return self.request("GET", path)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        request = urllib.request.Request(
            self.url + path, data=body, method=method, headers=headers or {}
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def status(self) -> dict[str, Any]:
        code, body = self.get("/status")
        assert code == 200
        result: dict[str, Any] = json.loads(body)
        return result

    def wait_ready(self, timeout: float = 30.0) -> None:
        def ready() -> bool:
            try:
                return self.get("/readyz")[0] == 200
            except OSError:
                assert self.process.poll() is None, self.process.communicate()[1]
                return False

        wait_until(ready, timeout)

    def stop(self) -> str:
        """SIGTERM, wait, and return stderr; the exit code must be 0."""
        if self.process.poll() is None:
            self.process.terminate()
        _, stderr = self.process.communicate(timeout=30)
        return stderr


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)
