"""Fixtures for the Dokploy emulator tests: in-process emulators, API clients, SSH helpers."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from dokploy_emulator import Emulator

API_KEY = "test-key-0123456789"
TERMINAL = {"done", "error"}


@dataclass
class SshKey:
    """A client key pair made with ssh-keygen."""

    private: Path
    public: str


@pytest.fixture
def ssh_key(tmp_path: Path) -> SshKey:
    path = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return SshKey(path, path.with_suffix(".pub").read_text().strip())


def ssh(
    port: int, key: SshKey, command: str, timeout: float = 15
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` on the emulated workspace with the ssh client binary."""
    return subprocess.run(
        [
            "ssh",
            "-F",
            "/dev/null",
            "-p",
            str(port),
            "-i",
            str(key.private),
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "ConnectTimeout=5",
            "-o",
            "LogLevel=ERROR",
            "root@127.0.0.1",
            command,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def wait_for(predicate: Callable[[], Any], timeout: float = 10, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy, within a bounded deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class Api:
    """An httpx client on ``<url>/api`` with the key, plus Dokploy call helpers."""

    def __init__(self, url: str, key: str = API_KEY) -> None:
        self.http = httpx.Client(base_url=f"{url}/api", headers={"x-api-key": key}, timeout=20)

    def get(self, proc: str, **params: Any) -> httpx.Response:
        return self.http.get(f"/{proc}", params=params)

    def post(self, proc: str, body: Any = None) -> httpx.Response:
        return self.http.post(f"/{proc}", json=body if body is not None else {})

    def ok(self, method: str, proc: str, body: Any = None) -> Any:
        response = self.get(proc, **(body or {})) if method == "GET" else self.post(proc, body)
        assert response.status_code == 200, (proc, response.status_code, response.text)
        return response.json() if response.content else None

    def new_compose(
        self,
        name: str = "ws",
        compose_file: str | None = None,
        raw: bool = True,
        server_id: str | None = None,
    ) -> dict[str, Any]:
        """project.create + compose.create (+ compose.update to a raw file) for any version."""
        created = self.ok("POST", "project.create", {"name": f"p-{name}"})
        body: dict[str, Any] = {"name": name, "appName": f"devpod-{name}"}
        if server_id is not None:
            body["serverId"] = server_id
        if "environment" in created:
            body["environmentId"] = created["environment"]["environmentId"]
        else:
            body["projectId"] = created["projectId"]
        compose = self.ok("POST", "compose.create", body)
        if compose_file is not None:
            update: dict[str, Any] = {
                "composeId": compose["composeId"],
                "composeFile": compose_file,
            }
            if raw:
                update["sourceType"] = "raw"
            self.ok("POST", "compose.update", update)
        return dict(compose)

    def status(self, compose_id: str) -> str:
        return str(self.ok("GET", "compose.one", {"composeId": compose_id})["composeStatus"])

    def deploy_and_wait(self, compose_id: str, timeout: float = 20) -> str:
        """Deploy and wait for a *new* deployment row to reach done/error; its status."""
        before = len(self.ok("GET", "deployment.allByCompose", {"composeId": compose_id}))
        self.ok("POST", "compose.deploy", {"composeId": compose_id})

        def finished() -> str | None:
            rows = self.ok("GET", "deployment.allByCompose", {"composeId": compose_id})
            if len(rows) > before and rows[0]["status"] in TERMINAL:
                return str(rows[0]["status"])
            return None

        return str(wait_for(finished, timeout, f"deployment of {compose_id}"))

    def last_log(self, compose_id: str) -> str:
        rows = self.ok("GET", "deployment.allByCompose", {"composeId": compose_id})
        return Path(rows[0]["logPath"]).read_text(encoding="utf-8")

    def containers(self, app_name: str) -> list[dict[str, Any]]:
        return list(
            self.ok(
                "GET",
                "docker.getContainersByAppNameMatch",
                {"appName": app_name, "appType": "docker-compose"},
            )
        )


def workspace_file(port: int, key: SshKey, extra_env: str = "", volumes: bool = False) -> str:
    """A compose file with one sshd workspace service publishing ``port`` -> 22."""
    lines = [
        "services:",
        "  workspace:",
        "    image: ghcr.io/example/workspace:1",
        "    privileged: true",
        "    ports:",
        f'      - "{port}:22"',
        "    environment:",
        f'      DEVPOD_SSH_AUTHORIZED_KEY: "{key.public}"',
        "      WORKSPACE_MARK: emulated",
    ]
    lines += [f"      {line}" for line in extra_env.splitlines() if line]
    if volumes:
        lines += [
            "    volumes:",
            "      - home:/tmp/dokploy-emulator-test-home",
            "volumes:",
            "  home: {}",
        ]
    return "\n".join(lines) + "\n"


@pytest.fixture
def make_emulator(tmp_path: Path) -> Iterator[Callable[..., Emulator]]:
    """Factory: ``make_emulator(version="v0.26.0")`` → a started Emulator, stopped at teardown."""
    started: list[Emulator] = []

    def make(**kwargs: Any) -> Emulator:
        kwargs.setdefault("deploy_delay", 0.01)
        kwargs.setdefault("state_dir", tmp_path / f"state{len(started)}")
        emu = Emulator(API_KEY, **kwargs).start()
        started.append(emu)
        return emu

    yield make
    for emu in started:
        emu.stop()


@pytest.fixture
def emu(make_emulator: Callable[..., Emulator]) -> Emulator:
    """An emulator in the default (v0.30.2) mode."""
    return make_emulator()


@pytest.fixture
def api(emu: Emulator) -> Iterator[Api]:
    client = Api(emu.url)
    yield client
    client.http.close()
