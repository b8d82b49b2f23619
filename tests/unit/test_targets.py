"""Target resolution: precedence, token sources, the http:// rule, and the embedded emulator."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from reconciler.config import Config, LoadedConfig
from reconciler.config.sections import Target
from reconciler.config.siro import SiroSettings
from reconciler.errors import ConfigError
from reconciler.remote.http import HttpSession, HttpSettings
from reconciler.remote.http.urls import check_api_url as check_url
from reconciler.remote.targets import open_target, resolve_siro, resolve_target
from reconciler.remote.zelto import ZeltoClient

TOKEN = "zk_live_0123456789abcdef"


def _loaded(tmp_path: Path, **config: object) -> LoadedConfig:
    return LoadedConfig(config=Config.model_validate(config), root=tmp_path)


def _with_targets(tmp_path: Path, default: str = "local") -> LoadedConfig:
    return _loaded(
        tmp_path,
        defaultTarget=default,
        targets={
            "local": {"emulator": "state/local.sqlite"},
            "production": {"url": "https://api.zelto.ai/", "tokenEnv": "PROD_KEY"},
            "staging": {"url": "https://staging.zelto.ai", "tokenFile": "secrets/staging"},
        },
    )


def test_without_config_the_default_is_the_local_emulator(tmp_path: Path) -> None:
    resolved = resolve_target(_loaded(tmp_path), target=None, api_url=None, environ={})
    assert resolved.name == "local"
    assert resolved.emulator_state == tmp_path / ".reconciler/local.sqlite"
    assert resolved.token is None


def test_default_target_from_config(tmp_path: Path) -> None:
    loaded = _with_targets(tmp_path, default="production")
    resolved = resolve_target(loaded, target=None, api_url=None, environ={"PROD_KEY": TOKEN})
    assert (resolved.name, resolved.url) == ("production", "https://api.zelto.ai")
    assert resolved.token is not None and resolved.token.reveal() == TOKEN
    assert resolved.token_source == "PROD_KEY"


def test_target_flag_beats_default_target(tmp_path: Path) -> None:
    loaded = _with_targets(tmp_path, default="production")
    resolved = resolve_target(loaded, target="local", api_url=None, environ={})
    assert resolved.name == "local"
    assert resolved.emulator_state == tmp_path / "state/local.sqlite"


def test_api_url_flag_beats_the_environment_and_the_default_target(tmp_path: Path) -> None:
    loaded = _with_targets(tmp_path, default="production")
    environ = {"ZELTO_API_KEY": TOKEN, "ZELTO_API_URL": "https://env.example.com"}
    resolved = resolve_target(
        loaded, target=None, api_url="https://flag.example.com:8443", environ=environ
    )
    assert resolved.name == "flag.example.com:8443"
    assert resolved.url == "https://flag.example.com:8443"
    assert resolved.token_source == "ZELTO_API_KEY"


def test_api_url_from_environment_beats_the_default_target(tmp_path: Path) -> None:
    environ = {"ZELTO_API_KEY": TOKEN, "ZELTO_API_URL": "https://env.example.com"}
    resolved = resolve_target(_with_targets(tmp_path), target=None, api_url=None, environ=environ)
    assert resolved.name == "env.example.com"


@pytest.mark.parametrize(
    ("api_url", "environ_url", "expected"),
    [
        (None, "https://env.example.com", "unset ZELTO_API_URL to use --target"),
        ("https://flag.example.com", "", "--target local and --api-url both say where to go"),
    ],
)
def test_an_explicit_target_beside_a_url_is_refused(
    tmp_path: Path, api_url: str | None, environ_url: str, expected: str
) -> None:
    environ = {"ZELTO_API_KEY": TOKEN, "ZELTO_API_URL": environ_url}
    with pytest.raises(ConfigError, match=expected):
        resolve_target(_with_targets(tmp_path), target="local", api_url=api_url, environ=environ)


def test_missing_token_names_the_variable_to_set(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="set the environment variable PROD_KEY"):
        resolve_target(_with_targets(tmp_path), target="production", api_url=None, environ={})
    with pytest.raises(ConfigError, match="set the environment variable ZELTO_API_KEY"):
        resolve_target(
            _loaded(tmp_path), target=None, api_url="https://api.zelto.ai", environ={"X": "1"}
        )


def test_token_file_is_read_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets/staging").write_text(TOKEN + "\n", encoding="utf-8")
    resolved = resolve_target(_with_targets(tmp_path), target="staging", api_url=None, environ={})
    assert resolved.token is not None and resolved.token.reveal() == TOKEN
    assert TOKEN not in repr(resolved)


def test_missing_token_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read the token file .*secrets/staging"):
        resolve_target(_with_targets(tmp_path), target="staging", api_url=None, environ={})


def test_unknown_target_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown target 'prod'.*production"):
        resolve_target(_with_targets(tmp_path), target="prod", api_url=None, environ={})


@pytest.mark.parametrize(
    "url",
    ["http://api.zelto.ai", "http://10.0.0.5:8080", "http://[2001:db8::1]/"],
)
def test_plain_http_is_refused_for_other_hosts(url: str) -> None:
    with pytest.raises(ConfigError, match="unencrypted"):
        check_url(url, "--api-url")


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080", "http://127.8.9.10", "http://[::1]:9000", "http://localhost:1"],
)
def test_plain_http_is_allowed_for_loopback(url: str) -> None:
    assert check_url(url, "--api-url") == url


@pytest.mark.parametrize("url", ["ftp://api.zelto.ai", "https://", "api.zelto.ai"])
def test_urls_without_scheme_or_host_are_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="expected an https:// URL"):
        check_url(url, "--api-url")


def test_credentials_in_the_url_are_refused_and_not_echoed() -> None:
    with pytest.raises(ConfigError) as caught:
        check_url(f"https://user:{TOKEN}@api.zelto.ai", "--api-url")
    assert TOKEN not in str(caught.value)
    assert "contains credentials" in str(caught.value)


def test_http_refusal_applies_to_configured_targets(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path, targets={"plain": {"url": "http://api.zelto.ai"}})
    with pytest.raises(ConfigError, match=r"target 'plain'.*unencrypted"):
        resolve_target(loaded, target="plain", api_url=None, environ={"ZELTO_API_KEY": TOKEN})


def test_siro_endpoint_takes_its_token_from_the_named_variable(tmp_path: Path) -> None:
    settings = SiroSettings.model_validate(
        {
            "organizationId": "org_1",
            "conversationTypeId": "ct",
            "recordings": {"rec_1": "7d1c4f5e-8a2b-4c3d-9e0f-1a2b3c4d5e6f"},
            "metrics": [{"metricType": "INTERACTIVITY_SCORE", "label": "L", "score": "passRate"}],
        }
    )
    with pytest.raises(ConfigError, match="SIRO_AUTH_TOKEN"):
        resolve_siro(_loaded(tmp_path), settings, {})
    endpoint = resolve_siro(_loaded(tmp_path), settings, {"SIRO_AUTH_TOKEN": TOKEN})
    assert (endpoint.url, endpoint.name) == ("https://api.siro.ai", "api.siro.ai")
    assert TOKEN not in repr(endpoint)


def test_open_target_for_a_url_yields_its_endpoint(tmp_path: Path) -> None:
    resolved = resolve_target(
        _loaded(tmp_path),
        target=None,
        api_url="https://api.zelto.ai",
        environ={"ZELTO_API_KEY": TOKEN},
    )
    with open_target(resolved) as endpoint:
        assert endpoint.url == "https://api.zelto.ai"
        assert endpoint.token.reveal() == TOKEN
        assert endpoint.name == "api.zelto.ai"


def test_local_target_starts_the_emulator_with_its_state_file(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path, targets={"local": Target(emulator="deep/dir/state.sqlite")})
    resolved = resolve_target(loaded, target=None, api_url=None, environ={})
    conversation = "7d1c4f5e-8a2b-4c3d-9e0f-1a2b3c4d5e6f"

    async def submit_then_read() -> int:
        async with HttpSession(endpoint, HttpSettings(concurrency=2)) as session:
            client = ZeltoClient(session)
            body = {"label": "Tone", "verdict": "pass", "externalId": "qa-1"}
            await client.submit_metric(conversation, body)
            return len(await client.list_metrics(conversation))

    with open_target(resolved) as endpoint:
        assert endpoint.name == "local"
        assert endpoint.url.startswith("http://127.0.0.1:")
        assert asyncio.run(submit_then_read()) == 1
    assert (tmp_path / "deep/dir/state.sqlite").exists()

    with open_target(resolved) as endpoint:  # the state survives a restart

        async def read() -> int:
            async with HttpSession(endpoint) as session:
                return len(await ZeltoClient(session).list_metrics(conversation))

        assert asyncio.run(read()) == 1


def test_a_corrupt_local_state_file_is_a_config_error_that_says_how_to_recover(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state.sqlite"
    state.write_bytes(b"this is not a SQLite database, just a stray file" * 4)
    loaded = _loaded(tmp_path, targets={"local": Target(emulator="state.sqlite")})
    resolved = resolve_target(loaded, target=None, api_url=None, environ={})
    expected = r"target 'local'.*delete .*state\.sqlite"
    with pytest.raises(ConfigError, match=expected), open_target(resolved):
        pass


def test_the_default_emulator_state_folder_is_git_ignored(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path, targets={})
    resolved = resolve_target(loaded, target=None, api_url=None, environ={})
    with open_target(resolved):
        pass
    assert (tmp_path / ".reconciler" / "local.sqlite").exists()
    assert (tmp_path / ".reconciler" / ".gitignore").read_text(encoding="utf-8").endswith("\n*\n")
