"""Real-engine fixtures: the emulator in ``--runtime docker`` mode, driven through the provider's
console script with DevPod's environment (helpers from ``tests/e2e``).

Needs a Docker engine with Compose v2 (``DOCKER_HOST`` may point at the private engine of
``../shared/tools/docker-engine.sh``) and the default base image; on these registry-less
machines the fixture builds a stand-in for it with ``../shared/tools/standin-image.sh``.
Without an engine every test here is skipped, with the reason.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from e2e.conftest import DevPod, EmulatorProcess, start_emulator, stop_emulator
from support.ports import free_port_block

from dokploy_emulator.docker_runtime import docker_available
from dokploy_provider.options import DEFAULT_WORKSPACE_IMAGE

ROOT = Path(__file__).resolve().parents[2]
STANDIN_TOOL = ROOT.parent / "shared" / "tools" / "standin-image.sh"
EMULATOR_VERSION = "v0.30.2"
#: Set by .ci/run: an unreachable engine fails the run instead of skipping these tests.
REQUIRE_ENV = "DOKPLOY_TEST_REQUIRE_DOCKER"

#: Seconds measured during the run, printed at the end of the session.
TIMINGS: dict[str, float] = {}


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TIMINGS:
        terminalreporter.section("docker workspace timings (seconds)")
        for name, seconds in TIMINGS.items():
            terminalreporter.write_line(f"{name:<48} {seconds:7.2f}")


def docker(*args: str, check: bool = True, timeout: float = 120) -> str:
    """Run the docker CLI; return stdout."""
    proc = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def _image_exists(name: str) -> bool:
    return (
        subprocess.run(
            ["docker", "image", "inspect", name], capture_output=True, check=False
        ).returncode
        == 0
    )


def _private_engine_socket() -> Path:
    state = Path(os.environ.get("DOCKER_TOOLS_STATE", "/var/tmp/docker-tools"))
    return state / "engine" / "docker.sock"


@pytest.fixture(scope="session")
def docker_engine() -> str:
    """The base image name, once an engine answers and the image exists (or was built)."""
    reason = docker_available()
    socket = _private_engine_socket()
    if reason is not None and "DOCKER_HOST" not in os.environ and socket.is_socket():
        # `make test` in a shell that did not eval docker-engine.sh's output: use its engine
        # (the emulator and provider processes inherit this environment).
        os.environ["DOCKER_HOST"] = f"unix://{socket}"
        reason = docker_available()
    if reason is not None:
        message = (
            f"no Docker engine: {reason} (start one with "
            '`out=$(../shared/tools/docker-engine.sh start) && eval "$out"`)'
        )
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(message)
        pytest.skip(message)
    if not _image_exists(DEFAULT_WORKSPACE_IMAGE):
        if not STANDIN_TOOL.exists() or os.geteuid() != 0:
            pytest.skip(
                f"{DEFAULT_WORKSPACE_IMAGE} is not on the engine and no registry-free "
                f"stand-in can be built here ({STANDIN_TOOL} needs root)"
            )
        started = time.monotonic()
        subprocess.run(
            [str(STANDIN_TOOL), DEFAULT_WORKSPACE_IMAGE, "--with-docker"],
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=600,
        )
        TIMINGS["stand-in base image build"] = time.monotonic() - started
    return DEFAULT_WORKSPACE_IMAGE


@dataclass
class Workspace:
    """One DevPod machine on the real engine, and what the tests learn about it."""

    devpod: DevPod
    emulator: EmulatorProcess
    machine_id: str
    facts: dict[str, Any] = field(default_factory=dict)

    def run(self, verb: str, **kwargs: Any) -> Any:
        return self.devpod.run(verb, self.machine_id, **kwargs)

    def status(self) -> str:
        result = self.run("status")
        assert result.returncode == 0, result.err
        return str(result.out.strip())

    def sh(self, command: str, timeout: float = 120) -> str:
        """Run a shell command in the workspace through the provider's `command` tunnel."""
        result = self.run("command", command=command, timeout=timeout)
        assert result.returncode == 0, f"{command!r} failed ({result.returncode}): {result.err}"
        return str(result.out)

    @property
    def state(self) -> dict[str, Any]:
        path = self.devpod.machine_folder(self.machine_id) / "dokploy-machine.json"
        return dict(json.loads(path.read_text()))

    @property
    def app_name(self) -> str:
        return str(self.state["app_name"])

    def container(self) -> dict[str, Any] | None:
        """``docker inspect`` of the workspace container, or None when there is none."""
        ids = docker(
            "ps", "-aq", "--filter", f"label=com.docker.compose.project={self.app_name}"
        ).split()
        if not ids:
            return None
        assert len(ids) == 1, ids
        return dict(json.loads(docker("inspect", ids[0]))[0])

    def wait_status(self, wanted: str, timeout: float = 90) -> str:
        deadline = time.monotonic() + timeout
        seen = self.status()
        while seen != wanted and time.monotonic() < deadline:
            time.sleep(0.5)
            seen = self.status()
        return seen


@pytest.fixture(scope="module")
def workspace(docker_engine: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """An emulator in docker mode and a DevPod home with this machine's options (1 CPU, 1g)."""
    tmp = tmp_path_factory.mktemp("docker-ws")
    emu = start_emulator(tmp, EMULATOR_VERSION, runtime="docker")
    base = free_port_block(10)
    options = {
        "DOKPLOY_SERVER_URL": emu.url,
        "DOKPLOY_API_TOKEN": emu.token,
        "DOKPLOY_SSH_PORT_RANGE": f"{base}-{base + 9}",
        "DOKPLOY_DEPLOY_TIMEOUT": "10m",
        "DOKPLOY_READY_TIMEOUT": "90s",
        "WORKSPACE_IMAGE": docker_engine,
        "WORKSPACE_CPUS": "1",
        "WORKSPACE_MEMORY": "1g",
        "WORKSPACE_GPU": "none",
        "WORKSPACE_KEEP_VOLUMES": "false",
    }
    home = tmp / "devpod-home"
    home.mkdir()
    # A per-run id: other people's workspaces may share the engine.
    machine = f"dk-{secrets.token_hex(3)}"
    ws = Workspace(DevPod(emu, home, options), emu, machine)
    try:
        yield ws
    finally:
        if ws.devpod.machine_folder(machine).exists():
            ws.run("delete", timeout=120)
        stop_emulator(emu)
