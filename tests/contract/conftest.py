"""Fixtures of the contract tests: httpx clients whose every response is contract-checked."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from contract_check import TLS, CheckedClient, ClientFactory

from reconciler.emulator import RunningEmulator


@pytest.fixture
def client_for() -> Iterator[ClientFactory]:
    """Build checked clients for any running emulator (with any headers); closed at teardown."""
    clients: list[CheckedClient] = []

    def build(running: RunningEmulator, **headers: str) -> CheckedClient:
        client = CheckedClient(base_url=running.url, headers=headers, timeout=10, verify=TLS)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


@pytest.fixture
def zelto(emulator: RunningEmulator, client_for: ClientFactory) -> CheckedClient:
    return client_for(emulator, Authorization=f"Bearer {emulator.zelto_api_key}")


@pytest.fixture
def siro(emulator: RunningEmulator, client_for: ClientFactory) -> CheckedClient:
    return client_for(emulator, **{"x-siro-auth-token": emulator.siro_token})
