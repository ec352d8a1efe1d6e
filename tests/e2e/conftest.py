"""End-to-end fixtures: the emulator as a separate process, the provider's real console script,
and the environment exactly as DevPod sets it."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dokploy_emulator.sshd import free_port_block

BIN = Path(sys.executable).parent
PROVIDER = shutil.which("dokploy-provider", path=str(BIN)) or str(BIN / "dokploy-provider")
VERSIONS = ["v0.22.7", "v0.26.0", "v0.30.2"]


@dataclass
class EmulatorProcess:
    """A running ``python -m dokploy_emulator``."""

    url: str
    token: str
    version: str
    proc: subprocess.Popen[str]
    remote_servers: list[str] = field(default_factory=list)

    def admin(self, path: str, payload: dict[str, Any] | None = None) -> Any:
        """Call the emulator's fault-injection/inspection endpoints."""
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(
            f"{self.url}/__emulator/{path}",
            data=data,
            method="POST" if data is not None else "GET",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def api(self, procedure: str, **query: str) -> Any:
        """GET one API query as a client would."""
        from urllib.parse import urlencode

        url = f"{self.url}/api/{procedure}" + (f"?{urlencode(query)}" if query else "")
        request = urllib.request.Request(url, headers={"x-api-key": self.token})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None


def start_emulator(
    tmp: Path, version: str, remote_servers: tuple[str, ...] = (), runtime: str = "sshd"
) -> EmulatorProcess:
    """``python -m dokploy_emulator`` on a free port, its key passed in the environment."""
    token = "e2e-" + secrets.token_urlsafe(24)
    args = [sys.executable, "-m", "dokploy_emulator", "--port", "0", "--version", version]
    args += ["--state-dir", str(tmp / "emulator"), "--runtime", runtime]
    for name in remote_servers:
        args += ["--remote-server", name]
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=open(tmp / "emulator.log", "w"),  # noqa: SIM115
        text=True,
        env={**os.environ, "DOKPLOY_EMULATOR_API_KEY": token},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "ready" in line, f"emulator did not start: {line!r}"
    url = line.split("url=", 1)[1].split()[0]
    return EmulatorProcess(url, token, version, proc, list(remote_servers))


def stop_emulator(emu: EmulatorProcess) -> None:
    emu.proc.terminate()
    try:
        emu.proc.wait(15)
    except subprocess.TimeoutExpired:
        emu.proc.kill()
        emu.proc.wait(5)


@pytest.fixture(params=VERSIONS)
def emulator(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EmulatorProcess]:
    emu = start_emulator(tmp_path, request.param)
    yield emu
    stop_emulator(emu)


@pytest.fixture
def emulator_latest(tmp_path: Path) -> Iterator[EmulatorProcess]:
    emu = start_emulator(tmp_path, VERSIONS[-1])
    yield emu
    stop_emulator(emu)


@dataclass
class Result:
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def out(self) -> str:
        return self.stdout.decode()

    @property
    def err(self) -> str:
        return self.stderr.decode()


@dataclass
class DevPod:
    """Runs provider verbs the way DevPod does: env vars only, cwd not the checkout."""

    emulator: EmulatorProcess
    home: Path
    options: dict[str, str]

    def env(
        self, machine_id: str | None, command: str | None = None, **extra: str
    ) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DOKPLOY_", "MACHINE_"))}
        env.update(self.options)
        env.update(
            {
                "DEVPOD": "/usr/local/bin/devpod",
                "DEVPOD_OS": "linux",
                "DEVPOD_ARCH": "amd64",
                "DEVPOD_LOG_LEVEL": "info",
                "PROVIDER_ID": "dokploy",
                "PROVIDER_CONTEXT": "default",
                "PROVIDER_FOLDER": str(self.home / "contexts/default/providers/dokploy"),
            }
        )
        if machine_id is not None:
            env.update(
                {
                    "MACHINE_ID": machine_id,
                    "MACHINE_FOLDER": str(self.machine_folder(machine_id)),
                    "MACHINE_CONTEXT": "default",
                    "MACHINE_PROVIDER": "dokploy",
                }
            )
        else:  # `init` gets neither MACHINE_* nor DEVPOD nor PROVIDER_FOLDER
            for name in ("DEVPOD", "PROVIDER_FOLDER"):
                env.pop(name)
        if command is not None:
            env["COMMAND"] = command
        env.update(extra)
        return env

    def machine_folder(self, machine_id: str) -> Path:
        return self.home / "contexts/default/machines" / machine_id

    def run(
        self,
        verb: str,
        machine_id: str | None = "ws1",
        *,
        command: str | None = None,
        stdin: bytes = b"",
        timeout: float = 120,
        extra_args: tuple[str, ...] = (),
        **extra: str,
    ) -> Result:
        if machine_id is not None:
            self.machine_folder(machine_id).mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(
            [PROVIDER, verb, *extra_args],
            env=self.env(machine_id, command, **extra),
            input=stdin,
            capture_output=True,
            timeout=timeout,
            cwd=self.home,
            check=False,
        )
        result = Result(proc.returncode, proc.stdout, proc.stderr)
        assert self.emulator.token.encode() not in proc.stdout + proc.stderr, "token leaked"
        return result


@pytest.fixture
def devpod_factory(tmp_path: Path):  # type: ignore[no-untyped-def]
    def make(emu: EmulatorProcess, **options: str) -> DevPod:
        base = free_port_block(30)
        opts = {
            "DOKPLOY_SERVER_URL": emu.url,
            "DOKPLOY_API_TOKEN": emu.token,
            "DOKPLOY_PROJECT_NAME": "devpod-workspaces",
            "DOKPLOY_ENVIRONMENT_NAME": "",
            "DOKPLOY_SERVER_ID": "",
            "DOKPLOY_SSH_HOST": "",
            "DOKPLOY_SSH_PORT_RANGE": f"{base}-{base + 29}",
            "DOKPLOY_HTTP_TIMEOUT": "10s",
            "DOKPLOY_DEPLOY_TIMEOUT": "30s",
            "DOKPLOY_READY_TIMEOUT": "20s",
            "WORKSPACE_IMAGE": "cruizba/ubuntu-dind:noble-27.0.3-r0",
            "WORKSPACE_CPUS": "",
            "WORKSPACE_MEMORY": "",
            "WORKSPACE_GPU": "none",
            "WORKSPACE_KEEP_VOLUMES": "false",
            "AGENT_PATH": "/var/lib/devpod/devpod",
            "INACTIVITY_TIMEOUT": "10m",
            "INJECT_GIT_CREDENTIALS": "true",
            "INJECT_DOCKER_CREDENTIALS": "true",
        }
        opts.update(options)
        home = tmp_path / "devpod-home"
        home.mkdir(exist_ok=True)
        return DevPod(emu, home, opts)

    return make
