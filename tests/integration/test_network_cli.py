"""What ``reconciler plan`` sends to, and shows about, a proxy and a bad API URL, and how it
ends on a bad day (issue 12).

The proxy is a fake on 127.0.0.1 that records every CONNECT and refuses it: a forward proxy is
not part of the emulator, and what matters is what reaches it. ``x.example.invalid`` is a name
that cannot resolve (RFC 2606): through a proxy the client never looks it up, so nothing leaves
this machine. Bad days (429 with a huge Retry-After, 5xx until a deadline) come from the
emulator's fault injection.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import main
from reconciler.emulator import Faults, RunningEmulator
from tests.fakes.hostile import http_answer, raw_server

TOKEN = "s3cret-zelto-key-0123456789"
PASSWORD = "PROXYPASS-9f8e7d"
CID = "3c90c3cc-0d44-4b50-8888-8dd25736052a"


def _project(folder: Path) -> Path:
    (folder / "specs").mkdir()
    (folder / "specs" / "qa.yaml").write_text(
        f"conversations:\n  {CID}:\n    - {{externalId: qa-1, label: Empathy, score: 85}}\n"
    )
    config = folder / "reconciler.yaml"
    config.write_text(json.dumps({"specs": ["specs"], "plan": {"retrySeconds": 0}}))
    return config


def _plan(config: Path, api_url: str, **env: str) -> Result:
    runner = CliRunner(env={"ZELTO_API_KEY": TOKEN, "ZELTO_API_URL": "", "NO_PROXY": "", **env})
    argv = ["plan", "--config", str(config), "--api-url", api_url]
    return runner.invoke(main, argv, catch_exceptions=False)


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "ALL_PROXY", "https_proxy"])
def test_the_token_never_reaches_the_proxy(tmp_path: Path, variable: str) -> None:
    config = _project(tmp_path)
    with raw_server(lambda head: http_answer("403 Forbidden")) as proxy:
        result = _plan(config, "https://x.example.invalid", **{variable: proxy.url})
    seen = proxy.seen()
    assert b"CONNECT x.example.invalid:443" in seen  # the proxy was used
    assert TOKEN.encode() not in seen
    assert b"authorization" not in seen.lower().replace(b"proxy-authorization", b"")
    assert b"x-siro-auth-token" not in seen.lower()
    assert result.exit_code == 1
    assert "the proxy answered HTTP 403 Forbidden" in result.output


def test_the_proxy_password_is_never_shown(tmp_path: Path) -> None:
    config = _project(tmp_path)
    with raw_server(lambda head: http_answer("403 Forbidden")) as proxy:
        proxy_url = proxy.url.replace("http://", f"http://user:{PASSWORD}@")
        result = _plan(config, "https://x.example.invalid", HTTPS_PROXY=proxy_url)
    assert b"Proxy-Authorization: Basic" in proxy.seen()  # the password went to the proxy only
    assert result.exit_code == 1
    assert "proxy answered HTTP 403" in result.output
    assert PASSWORD not in result.output and "user:" not in result.output


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("http://127.0.0.1:99999", "--api-url: 'http://127.0.0.1:99999' is not a valid URL"),
        ("http://[::1", "--api-url: 'http://[::1' is not a valid URL"),
        (":abc", "--api-url: expected an https:// URL with a host, got ':abc'"),
        ("https://x.example.invalid:abc", "--api-url: 'https://x.example.invalid:abc' is not a"),
        ("http://127.0.0.1:0", "--api-url: 'http://127.0.0.1:0' has port 0"),
    ],
)
def test_a_bad_api_url_is_a_clear_error(tmp_path: Path, url: str, said: str) -> None:
    result = _plan(_project(tmp_path), url)
    assert result.exit_code == 1
    assert said in result.output
    assert "Traceback" not in result.output


# --- bad days: the emulator's fault injection ------------------------------------------------


def _emulated(folder: Path, emulator: RunningEmulator) -> Path:
    emulator.store.add_conversation(CID)
    config = _project(folder)
    config.write_text(json.dumps({"specs": ["specs"]}))  # the default retry policy
    return config


def _plan_emulated(config: Path, emulator: RunningEmulator, *args: str) -> Result:
    runner = CliRunner(env={"ZELTO_API_KEY": emulator.zelto_api_key, "ZELTO_API_URL": ""})
    argv = ["plan", "--config", str(config), "--api-url", emulator.url, *args]
    return runner.invoke(main, argv, catch_exceptions=False)


def test_a_huge_retry_after_is_not_waited_for(tmp_path: Path, emulator: RunningEmulator) -> None:
    """Retry-After: 99999999 held one read for 240 s (4 waits of the 60 s cap); now the read
    ends at once and says why (issue 12, item 14)."""
    config = _emulated(tmp_path, emulator)
    emulator.set_faults(Faults(throttle_rate=1.0, retry_after_seconds=99_999_999))
    start = time.monotonic()
    result = _plan_emulated(config, emulator)
    assert time.monotonic() - start < 10
    assert result.exit_code == 1
    assert "the server asked to wait 99,999,999 s (Retry-After)" in result.output


def test_deadline_ends_a_plan_on_time(tmp_path: Path, emulator: RunningEmulator) -> None:
    config = _emulated(tmp_path, emulator)
    emulator.set_faults(Faults(error_rate=1.0))
    start = time.monotonic()
    result = _plan_emulated(config, emulator, "--deadline", "1.5")
    assert time.monotonic() - start < 6
    assert result.exit_code == 1
    assert "the --deadline of 1.5 s passed" in result.output


@pytest.mark.parametrize("proxy", ["http://[::1", "http://127.0.0.1:99999", "ftp://proxy.example"])
def test_a_bad_proxy_url_is_a_clear_error_at_once(tmp_path: Path, proxy: str) -> None:
    """It made every read fail as a "transient" connection error until the budget ran out."""
    start = time.monotonic()
    result = _plan(_project(tmp_path), "https://x.example.invalid", HTTPS_PROXY=proxy)
    assert time.monotonic() - start < 10
    assert result.exit_code == 1
    assert "HTTPS_PROXY: " in result.output and "proxy" in result.output
    assert "Traceback" not in result.output
