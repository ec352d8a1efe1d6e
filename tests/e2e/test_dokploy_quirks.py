"""What real Dokploy does that the provider must survive (issue 12), through the console script
against the emulator on the versions that do it."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from dokploy_provider.options import PortRange
from dokploy_provider.ports import candidate_ports, preferred_start

from .conftest import DevPod, EmulatorProcess, start_emulator, stop_emulator


def _composes(emu: EmulatorProcess) -> list[dict]:
    return emu.admin("state")["composes"]


def _state(devpod: DevPod, machine_id: str = "ws1") -> dict:
    return json.loads((devpod.machine_folder(machine_id) / "dokploy-machine.json").read_text())


def _make_the_project(devpod: DevPod) -> None:
    """A first workspace, created and deleted, leaves the project (and environment) behind."""
    assert devpod.run("create", "first").returncode == 0
    assert devpod.run("delete", "first").returncode == 0


def test_port_taken_outside_dokploy_is_found_without_deploy_logs(
    tmp_path: Path, devpod_factory
) -> None:
    # v0.29.4 has no deployment.readLogs and Dokploy leaves errorMessage empty: the conflict
    # is inferred from a container that was created but never started
    emu = start_emulator(tmp_path, "v0.29.4")
    try:
        devpod = devpod_factory(emu)
        low, high = (int(p) for p in devpod.options["DOKPLOY_SSH_PORT_RANGE"].split("-"))
        squatted = preferred_start("ws1", PortRange(low, high))
        with socket.socket() as squatter:
            squatter.bind(("127.0.0.1", squatted))
            squatter.listen()
            result = devpod.run("create")
        assert result.returncode == 0, result.err
        assert "moving to another" in result.err
        assert _state(devpod)["ssh_port"] != squatted
        assert devpod.run("delete").returncode == 0
    finally:
        stop_emulator(emu)


@pytest.mark.parametrize(
    ("version", "outcome"),
    [
        ("v0.29.13", "explained"),  # readLogs: the log shows Dokploy's own line
        ("v0.29.4", "suspected"),  # no readLogs: no container was made, the cause is named
        ("v0.29.14", "deployed"),  # fixed: the login shell's stderr no longer matters
    ],
)
def test_remote_login_shell_writing_to_stderr(
    tmp_path: Path, devpod_factory, version: str, outcome: str
) -> None:
    emu = start_emulator(tmp_path, version, remote_servers=("edge-a",))
    try:
        (server,) = emu.api("server.all")
        emu.admin("faults", {"login_shell_stderr": True})
        devpod = devpod_factory(emu, DOKPLOY_SERVER_ID=server["serverId"])
        result = devpod.run("create")
        if outcome == "deployed":
            assert result.returncode == 0, result.err
            assert devpod.run("delete").returncode == 0
            return
        assert result.returncode == 7, result.err
        assert "Traceback" not in result.err
        if outcome == "explained":
            assert f"could not read the compose file back from server {server['serverId']}" in (
                result.err
            )
            assert "login shell" in result.err and "v0.29.14" in result.err
        else:
            assert "login shell writes to stderr" in result.err, result.err
            assert "Compose file not found" in result.err
        assert _composes(emu) == []  # a failed create removes what it made
    finally:
        stop_emulator(emu)


def test_a_compose_deleted_during_the_ssh_wait_is_noticed(emulator_latest, devpod_factory) -> None:
    emu = emulator_latest
    emu.admin("faults", {"exit_after_start": 1})  # deployed, but sshd never answers
    devpod = devpod_factory(emu, DOKPLOY_READY_TIMEOUT="10m")
    results = []
    worker = threading.Thread(target=lambda: results.append(devpod.run("create", timeout=240)))
    worker.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = [d for d in emu.admin("state")["deployments"] if d["status"] == "done"]
        if done:
            break
        time.sleep(0.2)
    (compose,) = _composes(emu)
    time.sleep(1)  # create is now probing the SSH port that never opens
    deleted_at = time.monotonic()
    httpx.post(
        f"{emu.url}/api/compose.delete",
        headers={"x-api-key": emu.token},
        json={"composeId": compose["composeId"], "deleteVolumes": True},
    ).raise_for_status()
    worker.join(240)
    (result,) = results
    assert result.returncode == 5, result.err
    assert "was deleted on Dokploy while its sshd was waited for" in result.err
    # noticed long before DOKPLOY_READY_TIMEOUT (10 minutes); the bound is generous for load
    assert time.monotonic() - deleted_at < 60


def test_a_git_sourced_compose_publishing_the_port_counts(emulator_latest, devpod_factory) -> None:
    from support.ports import free_port

    emu = emulator_latest
    port = free_port()
    devpod = devpod_factory(emu, DOKPLOY_SSH_PORT_RANGE=f"{port}-{port}")
    _make_the_project(devpod)
    headers = {"x-api-key": emu.token}
    env_id = emu.admin("state")["environments"][0]["environmentId"]
    created = httpx.post(
        f"{emu.url}/api/compose.create",
        headers=headers,
        json={"name": "their-git-app", "environmentId": env_id},
    )
    created.raise_for_status()
    compose_id = created.json()["composeId"]
    httpx.post(
        f"{emu.url}/api/compose.update",
        headers=headers,
        json={
            "composeId": compose_id,
            "sourceType": "git",
            "composeFile": "",
            "customGitUrl": "https://git.example/their/app.git",
            "customGitBranch": "main",
        },
    ).raise_for_status()
    # their repository's compose file, as the last clone left it on the server
    emu.admin(
        "clone",
        {
            "composeId": compose_id,
            "composeFile": f"services:\n  ssh:\n    image: x\n    ports:\n      - {port}:22\n",
        },
    )
    result = devpod.run("create", "second")
    assert result.returncode != 0
    assert f"{port}-{port}" in result.err and "published" in result.err, result.err
    assert len(_composes(emu)) == 1  # only theirs


@pytest.mark.parametrize("version", ["v0.22.7", "v0.28.2", "v0.30.2"])
def test_ports_of_dokploy_applications_and_databases_are_not_taken(
    tmp_path: Path, devpod_factory, version: str
) -> None:
    # Nothing binds these ports here (the services are rows), so only reading them from
    # Dokploy keeps the workspace off them: the deploy-time fallback would not notice.
    emu = start_emulator(tmp_path, version, remote_servers=("edge",))
    try:
        devpod = devpod_factory(emu)
        low, high = (int(p) for p in devpod.options["DOKPLOY_SSH_PORT_RANGE"].split("-"))
        walk = list(candidate_ports("ws1", PortRange(low, high)))[:3]
        _make_the_project(devpod)
        state = emu.admin("state")
        owner = (
            {"projectId": state["projects"][0]["projectId"]}
            if version == "v0.22.7"
            else {"environmentId": state["environments"][0]["environmentId"]}
        )
        (edge,) = emu.api("server.all")
        services = [
            {"kind": "applications", "name": "web", "ports": [{"publishedPort": walk[0]}]},
            {"kind": "postgres", "name": "db", "externalPort": walk[1]},
            # neither blocks walk[2] on the Dokploy host: UDP, and another server
            {
                "kind": "applications",
                "name": "dns",
                "ports": [{"publishedPort": walk[2], "protocol": "udp"}],
            },
            {
                "kind": "redis",
                "name": "cache",
                "serverId": edge["serverId"],
                "externalPort": walk[2],
            },
        ]
        for service in services:
            emu.admin("service", {**service, **owner})
        doctor = devpod.run("doctor", None, extra_args=("--json",))
        taken = {row["check"]: row for row in json.loads(doctor.out)}["ports"]["data"]["taken"]
        assert set(taken) == {str(walk[0]), str(walk[1])}, taken
        assert taken[str(walk[0])][0].startswith("web-")  # named by its appName
        result = devpod.run("create")
        assert result.returncode == 0, result.err
        assert "moving to another" not in result.err  # chosen free, not found taken by Docker
        assert _state(devpod)["ssh_port"] == walk[2]
        assert devpod.run("delete").returncode == 0
    finally:
        stop_emulator(emu)
