"""DevPod's machine-provider sequence through the real console script, against the emulator's
real sshd workspaces, on each Dokploy version mode."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from .conftest import (
    PROVIDER,
    DevPod,
    EmulatorProcess,
    assert_no_private_keys,
    private_key_fragments,
    run_with_importtime,
    start_emulator,
    stop_emulator,
)


def _status(devpod: DevPod, machine_id: str = "ws1") -> str:
    result = devpod.run("status", machine_id)
    assert result.returncode == 0, result.err
    assert result.out.count("\n") == 1, f"status must print one line: {result.out!r}"
    return result.out.strip()


def _composes(emu: EmulatorProcess) -> list[dict]:
    return [c for c in emu.admin("state")["composes"]]


def test_full_lifecycle(emulator: EmulatorProcess, devpod_factory) -> None:
    devpod = devpod_factory(emulator)

    init = devpod.run("init", None)
    assert init.returncode == 0, init.err
    assert init.stdout == b""

    create = devpod.run("create")
    assert create.returncode == 0, create.err
    assert create.stdout == b""
    assert _status(devpod) == "Running"

    echo = devpod.run("command", command="echo hello; echo oops >&2; exit 3")
    assert echo.returncode == 3
    assert echo.stdout == b"hello\n"
    assert echo.stderr == b"oops\n"

    assert devpod.run("stop").returncode == 0
    assert _status(devpod) == "Stopped"

    start = devpod.run("start")
    assert start.returncode == 0, start.err
    assert _status(devpod) == "Running"
    assert devpod.run("command", command="cat", stdin=b"round trip").stdout == b"round trip"

    assert devpod.run("delete").returncode == 0, "delete failed"
    assert _status(devpod) == "NotFound"
    assert _composes(emulator) == []


def test_machine_files_are_private_and_state_is_complete(emulator_latest, devpod_factory) -> None:
    devpod = devpod_factory(emulator_latest)
    assert devpod.run("create").returncode == 0
    folder = devpod.machine_folder("ws1")
    for name in ("dokploy-machine.json", "id_ed25519", "ssh_host_ed25519_key"):
        assert stat.S_IMODE(os.stat(folder / name).st_mode) == 0o600, name
    state = json.loads((folder / "dokploy-machine.json").read_text())
    low, high = (int(p) for p in devpod.options["DOKPLOY_SSH_PORT_RANGE"].split("-"))
    assert low <= state["ssh_port"] <= high
    assert state["phase"] == "ready"
    assert state["host_key_fingerprint"].startswith("SHA256:")
    (compose,) = _composes(emulator_latest)
    assert compose["composeId"] == state["compose_id"]
    assert compose["appName"].startswith("devpod-ws1-")
    machines = devpod.machine_folder("ws1").parent
    # Nothing but machine folders under machines/: DevPod reads each entry as a machine.
    assert [p.name for p in machines.iterdir()] == ["ws1"]
    owner = (machines.parent / "dokploy-provider-owner").read_text().strip()
    assert f"[dokploy-provider machine=ws1 owner={owner}]" in compose["description"]
    assert devpod.run("delete").returncode == 0


def test_verbs_are_idempotent(emulator_latest, devpod_factory) -> None:
    devpod = devpod_factory(emulator_latest)
    assert devpod.run("create").returncode == 0
    assert devpod.run("create").returncode == 0  # a retry makes no second compose
    assert len(_composes(emulator_latest)) == 1
    assert devpod.run("start").returncode == 0  # start on a running machine
    assert devpod.run("stop").returncode == 0
    assert devpod.run("stop").returncode == 0
    assert devpod.run("start").returncode == 0
    assert devpod.run("start").returncode == 0
    assert devpod.run("delete").returncode == 0
    again = devpod.run("delete")
    assert again.returncode == 0, again.err
    assert _status(devpod) == "NotFound"


def test_concurrent_creates_get_distinct_ports(emulator_latest, devpod_factory) -> None:
    devpod = devpod_factory(emulator_latest)
    machines = [f"ws{i}" for i in range(5)]
    with ThreadPoolExecutor(len(machines)) as pool:
        results = list(pool.map(lambda m: devpod.run("create", m, timeout=180), machines))
    assert [r.returncode for r in results] == [0] * len(machines), [r.err for r in results]
    ports = [
        json.loads((devpod.machine_folder(m) / "dokploy-machine.json").read_text())["ssh_port"]
        for m in machines
    ]
    assert len(set(ports)) == len(machines)
    assert len(_composes(emulator_latest)) == len(machines)
    for machine in machines:
        assert (
            devpod.run("command", machine, command="echo $DEVPOD_MACHINE_ID").out.strip() == machine
        )
    projects = emulator_latest.api("project.all")
    assert [p["name"] for p in projects].count("devpod-workspaces") == 1


def test_port_taken_outside_dokploy_moves_to_next_port(emulator_latest, devpod_factory) -> None:
    import socket

    from dokploy_provider.options import PortRange
    from dokploy_provider.ports import preferred_start

    devpod = devpod_factory(emulator_latest)
    low, high = (int(p) for p in devpod.options["DOKPLOY_SSH_PORT_RANGE"].split("-"))
    squatted = preferred_start("ws1", PortRange(low, high))
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", squatted))
        squatter.listen()
        result = devpod.run("create")
        assert result.returncode == 0, result.err
        assert "moving to another" in result.err
    state = json.loads((devpod.machine_folder("ws1") / "dokploy-machine.json").read_text())
    assert state["ssh_port"] != squatted
    assert _status(devpod) == "Running"
    assert devpod.run("delete").returncode == 0


def test_failed_deploy_reports_log_tail_and_cleans_up(emulator_latest, devpod_factory) -> None:
    devpod = devpod_factory(emulator_latest)
    emulator_latest.admin(
        "faults", {"fail_next_deploys": 1, "deploy_error": "no space left on device"}
    )
    result = devpod.run("create")
    assert result.returncode == 7, result.err
    assert "deployment failed" in result.err
    assert "no space left on device" in result.err
    assert "Traceback" not in result.err
    assert _composes(emulator_latest) == []
    assert not (devpod.machine_folder("ws1") / "dokploy-machine.json").exists()


def test_rejected_key_is_an_error_not_notfound(emulator_latest, devpod_factory) -> None:
    devpod = devpod_factory(emulator_latest)
    assert devpod.run("create").returncode == 0
    emulator_latest.admin("faults", {"revoke_key": True})
    result = devpod.run("status")
    assert result.returncode == 4
    assert result.stdout == b""
    assert "API key" in result.err
    emulator_latest.admin("reset", {})
    assert devpod.run("delete").returncode == 0


def test_unreachable_server_is_an_error_not_notfound(emulator_latest, devpod_factory) -> None:
    devpod = devpod_factory(emulator_latest)
    assert devpod.run("create").returncode == 0
    dead = devpod.run("status", DOKPLOY_SERVER_URL="http://127.0.0.1:9", DOKPLOY_HTTP_TIMEOUT="2s")
    assert dead.returncode == 3
    assert dead.stdout == b""
    assert "127.0.0.1:9" in dead.err
    assert devpod.run("delete").returncode == 0


def test_debug_output_never_shows_secrets(emulator_latest, devpod_factory) -> None:
    devpod = devpod_factory(emulator_latest)
    created = devpod.run("create", DEVPOD_DEBUG="true")
    assert created.returncode == 0
    fragments = private_key_fragments(devpod.machine_folder("ws1"))
    assert len(fragments) == 6
    for verb in ("status", "stop", "start", "command", "delete"):
        result = devpod.run(verb, command="true", DEVPOD_DEBUG="true")
        assert result.returncode == 0, (verb, result.err)
        assert_no_private_keys(fragments, created.err, result.err, result.out)


def test_plan_prints_the_compose_with_secrets_masked(emulator_latest, devpod_factory) -> None:
    devpod = devpod_factory(emulator_latest, WORKSPACE_CPUS="2", WORKSPACE_MEMORY="4g")
    result = devpod.run("plan", "ws1")
    assert result.returncode == 0, result.err
    assert "privileged: true" in result.out
    assert "DEVPOD_SSH_HOST_KEY: '***'" in result.out
    assert "cpus: 2.0" in result.out
    assert "PasswordAuthentication no" in result.out
    assert _composes(emulator_latest) == []  # no side effect


def test_multi_server_auto_spreads_and_bad_id_lists_servers(tmp_path: Path, devpod_factory) -> None:
    emu = start_emulator(tmp_path, "v0.30.2", remote_servers=("edge-a", "edge-b"))
    try:
        servers = {s["name"]: s["serverId"] for s in emu.api("server.all")}
        devpod = devpod_factory(emu, DOKPLOY_SERVER_ID="auto")
        for machine in ("ws1", "ws2"):
            result = devpod.run("create", machine)
            assert result.returncode == 0, result.err
        chosen = {
            json.loads((devpod.machine_folder(m) / "dokploy-machine.json").read_text())["server_id"]
            for m in ("ws1", "ws2")
        }
        assert chosen == set(servers.values())
        for machine in ("ws1", "ws2"):
            assert devpod.run("delete", machine).returncode == 0

        wrong = devpod_factory(emu, DOKPLOY_SERVER_ID="nope").run("init", None)
        assert wrong.returncode == 2
        assert "not one of Dokploy's deploy servers" in wrong.err
        assert servers["edge-a"] in wrong.err
    finally:
        stop_emulator(emu)


def test_status_without_state_is_notfound_and_missing_folder_vars_fail(
    emulator_latest, devpod_factory
) -> None:
    devpod = devpod_factory(emulator_latest)
    assert _status(devpod, "never-created") == "NotFound"
    env = devpod.env("ws1")
    env.pop("MACHINE_FOLDER")
    proc = subprocess.run([PROVIDER, "status"], env=env, capture_output=True, check=False)
    assert proc.returncode == 2
    assert b"MACHINE_FOLDER" in proc.stderr
    assert proc.stdout == b""


def test_console_script_is_installed() -> None:
    proc = subprocess.run([PROVIDER, "--version"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0
    assert "dokploy-provider" in proc.stdout
    assert Path(PROVIDER).parent == Path(sys.executable).parent


def test_delete_refuses_a_compose_this_machine_does_not_own(
    emulator_latest, devpod_factory
) -> None:
    devpod = devpod_factory(emulator_latest)
    assert devpod.run("create").returncode == 0
    state = json.loads((devpod.machine_folder("ws1") / "dokploy-machine.json").read_text())
    import httpx

    httpx.post(
        f"{emulator_latest.url}/api/compose.update",
        headers={"x-api-key": emulator_latest.token},
        json={"composeId": state["compose_id"], "description": "someone's production database"},
    ).raise_for_status()
    refused = devpod.run("delete")
    assert refused.returncode == 11
    assert "does not belong to machine ws1" in refused.err
    assert len(_composes(emulator_latest)) == 1
    stopped = devpod.run("stop")
    assert stopped.returncode == 11
    assert emulator_latest.admin("state")["containers"][0]["state"] == "running"


def test_command_explains_a_stopped_or_deleted_workspace(emulator_latest, devpod_factory) -> None:
    devpod = devpod_factory(emulator_latest)
    assert devpod.run("create").returncode == 0
    assert devpod.run("stop").returncode == 0
    stopped = devpod.run("command", command="true")
    assert stopped.returncode == 255
    assert stopped.stdout == b""
    assert "the workspace is stopped; `devpod up` starts it" in stopped.err
    state = json.loads((devpod.machine_folder("ws1") / "dokploy-machine.json").read_text())
    import httpx

    httpx.post(
        f"{emulator_latest.url}/api/compose.delete",
        headers={"x-api-key": emulator_latest.token},
        json={"composeId": state["compose_id"], "deleteVolumes": True},
    ).raise_for_status()
    gone = devpod.run("command", command="true")
    assert gone.returncode == 255
    assert "compose was deleted" in gone.err
    assert _status(devpod) == "NotFound"


def test_command_imports_only_what_the_tunnel_needs(emulator_latest, devpod_factory) -> None:
    devpod = devpod_factory(emulator_latest)
    assert devpod.run("create").returncode == 0
    result, modules = run_with_importtime(devpod, "command", command="echo tunnel")
    assert result.returncode == 0, result.err
    assert result.stdout == b"tunnel\n"
    assert "paramiko" in modules
    assert not modules & {"pydantic", "pydantic_settings", "httpx", "click", "tenacity", "yaml"}


def test_a_colleagues_unquoted_port_counts_as_published(emulator_latest, devpod_factory) -> None:
    import httpx
    from support.ports import free_port

    port = free_port()
    devpod = devpod_factory(emulator_latest, DOKPLOY_SSH_PORT_RANGE=f"{port}-{port}")
    assert devpod.run("create", "first").returncode == 0  # makes the project/environment
    state = json.loads((devpod.machine_folder("first") / "dokploy-machine.json").read_text())
    assert devpod.run("delete", "first").returncode == 0
    headers = {"x-api-key": emulator_latest.token}
    env_id = emulator_latest.admin("state")["environments"][0]["environmentId"]
    created = httpx.post(
        f"{emulator_latest.url}/api/compose.create",
        headers=headers,
        json={"name": "their-ssh", "environmentId": env_id},
    )
    created.raise_for_status()
    # YAML 1.2 (Compose, Dokploy): the string "PORT:22"; YAML 1.1 (PyYAML): PORT*60+22
    httpx.post(
        f"{emulator_latest.url}/api/compose.update",
        headers=headers,
        json={
            "composeId": created.json()["composeId"],
            "sourceType": "raw",
            "composeFile": f"services:\n  ssh:\n    image: x\n    ports:\n      - {port}:22\n",
        },
    ).raise_for_status()
    assert state["ssh_port"] == port
    result = devpod.run("create", "second")
    assert result.returncode != 0
    assert f"{port}-{port}" in result.err and "published" in result.err, result.err
    assert len(_composes(emulator_latest)) == 1  # only theirs: nothing of ours left behind


@pytest.mark.parametrize("version", ["v0.28.6", "v0.30.2"])  # 404, then [] for a deleted compose
def test_a_compose_deleted_during_create_is_noticed(devpod_factory, tmp_path, version) -> None:
    import threading
    import time

    import httpx

    from dokploy_emulator.process import launch

    emu = launch(
        tmp_path / "slow",
        version=version,
        extra_args=["--deploy-delay", "60"],
        log_path=tmp_path / "slow.log",
        label="e2e",
    )
    try:
        devpod = devpod_factory(emu, DOKPLOY_DEPLOY_TIMEOUT="10m")
        results = []
        worker = threading.Thread(target=lambda: results.append(devpod.run("create", timeout=240)))
        worker.start()
        deadline = time.monotonic() + 60
        while not _composes(emu) and time.monotonic() < deadline:
            time.sleep(0.2)
        (compose,) = _composes(emu)
        time.sleep(1)  # the deploy is queued (60 s delay) and create is waiting on it
        httpx.post(
            f"{emu.url}/api/compose.delete",
            headers={"x-api-key": emu.token},
            json={"composeId": compose["composeId"], "deleteVolumes": True},
        ).raise_for_status()
        worker.join(240)
        (result,) = results
        assert result.returncode == 5, result.err
        assert "was deleted on Dokploy while its deployment was waited for" in result.err
        assert "devpod delete --force" in result.err
    finally:
        emu.stop()


@pytest.mark.parametrize(("version", "left_behind"), [("v0.28.8", True), ("v0.29.0", False)])
def test_delete_that_leaves_the_container_says_so(
    devpod_factory, tmp_path, version: str, left_behind: bool
) -> None:
    emu = start_emulator(tmp_path, version)
    try:
        devpod = devpod_factory(emu)
        assert devpod.run("create").returncode == 0
        state = json.loads((devpod.machine_folder("ws1") / "dokploy-machine.json").read_text())
        emu.admin("faults", {"compose_dir_missing": True})  # #4064: `cd dir && down` fails
        result = devpod.run("delete", DEVPOD_DEBUG="true")
        containers = emu.api(
            "docker.getContainersByAppNameMatch",
            appName=state["app_name"],
            appType="docker-compose",
        )
        if not left_behind:
            assert result.returncode == 0, result.err
            assert containers == []
            return
        assert result.returncode == 12, result.err
        (container,) = containers
        assert container["state"] != "running"  # stopped before the delete: no live sshd
        assert container["name"] in result.err and "the Dokploy host" in result.err
        assert f"docker rm -f {container['name']}" in result.err
        assert devpod.machine_folder("ws1").exists()  # kept until the delete is complete
    finally:
        stop_emulator(emu)


def test_stop_and_delete_wait_out_a_workspace_ignoring_sigterm(
    emulator_latest, devpod_factory
) -> None:
    # compose.stop / compose.delete answer only once Docker's stop is done: 35 s here,
    # longer than the 10 s HTTP timeout these tests use, under the 40 s grace period
    devpod = devpod_factory(emulator_latest)
    assert devpod.run("create").returncode == 0
    emulator_latest.admin("faults", {"ignore_sigterm_seconds": 35})
    stop = devpod.run("stop", timeout=240, DEVPOD_DEBUG="true")
    assert stop.returncode == 0, stop.err
    assert _status(devpod) == "Stopped"
    assert devpod.run("start").returncode == 0
    assert _status(devpod) == "Running"
    delete = devpod.run("delete", timeout=240, DEVPOD_DEBUG="true")
    assert delete.returncode == 0, delete.err
    assert _status(devpod) == "NotFound"
    assert _composes(emulator_latest) == []
    assert emulator_latest.admin("state")["containers"] == []
    assert emulator_latest.token not in stop.err + delete.err
