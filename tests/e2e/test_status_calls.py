"""`status` is called constantly: the common case costs at most two API calls and one probe."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dokploy_emulator import Emulator
from dokploy_provider.dokploy import DokployClient
from dokploy_provider.machine import MachineService
from dokploy_provider.options import load_settings
from dokploy_provider.state import MachineFolder
from dokploy_provider.status import Status

from .conftest import free_port_block


class CountingTransport(httpx.HTTPTransport):
    """A real transport that records the procedures called."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request.url.path.rsplit("/", 1)[-1])
        return super().handle_request(request)


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    with Emulator("count-key-123456", version="v0.30.2", state_dir=tmp_path / "emu") as emu:
        yield emu


def _service(
    emu: Emulator, folder: MachineFolder, transport: httpx.BaseTransport
) -> MachineService:
    base = free_port_block(10)
    settings = load_settings(
        {
            "DOKPLOY_SERVER_URL": emu.url,
            "DOKPLOY_API_TOKEN": "count-key-123456",
            "DOKPLOY_SSH_PORT_RANGE": f"{base}-{base + 9}",
            "DOKPLOY_READY_TIMEOUT": "20s",
        }
    )
    client = DokployClient(settings.server_url, settings.token, transport=transport)
    return MachineService(settings, client, folder, "ws1")


def test_running_status_costs_two_calls(emulator: Emulator, tmp_path: Path) -> None:
    folder = MachineFolder(tmp_path / "machine")
    _service(emulator, folder, httpx.HTTPTransport()).create()
    counting = CountingTransport()
    service = _service(emulator, folder, counting)
    assert service.status() is Status.RUNNING
    assert counting.calls == ["compose.one", "docker.getContainersByAppNameMatch"]
    service.delete()


def test_status_while_deploying_costs_one_call(emulator: Emulator, tmp_path: Path) -> None:
    folder = MachineFolder(tmp_path / "machine")
    _service(emulator, folder, httpx.HTTPTransport()).create()
    emulator.faults.set(stuck_deploys=1)
    service = _service(emulator, folder, httpx.HTTPTransport())
    state = folder.load()
    assert state is not None and state.compose_id
    service.client.deploy_compose(state.compose_id)
    counting = CountingTransport()
    watcher = _service(emulator, folder, counting)
    for _ in range(100):
        if watcher.client.get_compose(state.compose_id).compose_status == "running":
            break
        time.sleep(0.05)
    counting.calls.clear()
    assert watcher.status() is Status.BUSY
    assert counting.calls == ["compose.one"]
