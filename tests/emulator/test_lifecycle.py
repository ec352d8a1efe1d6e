"""Compose lifecycle against real sshd workspaces: deploy, ssh, stop/start, volumes, failures."""

from __future__ import annotations

import base64
import contextlib
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from support.ports import free_port

from dokploy_emulator import Emulator

from .conftest import Api, SshKey, ssh, wait_for, workspace_file


def test_full_cycle_with_real_ssh(api: Api, emu: Emulator, ssh_key: SshKey) -> None:
    port = free_port()
    compose = api.new_compose("cycle", workspace_file(port, ssh_key))
    cid, app = compose["composeId"], compose["appName"]
    assert api.deploy_and_wait(cid) == "done"
    assert api.status(cid) == "done"
    result = ssh(port, ssh_key, "echo ok; echo $WORKSPACE_MARK")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ok", "emulated"]
    [container] = api.containers(app)
    assert container["name"] == f"{app}-workspace-1" and container["state"] == "running"
    assert container["status"].startswith("Up ")

    assert api.ok("POST", "compose.stop", {"composeId": cid}) is True
    assert api.status(cid) == "idle"
    assert api.containers(app)[0]["state"] == "exited"
    assert ssh(port, ssh_key, "echo ok").returncode != 0

    assert api.ok("POST", "compose.start", {"composeId": cid}) is True
    assert api.status(cid) == "done"
    assert api.containers(app)[0]["state"] == "running"
    assert ssh(port, ssh_key, "echo ok").stdout.strip() == "ok"

    deleted = api.ok("POST", "compose.delete", {"composeId": cid, "deleteVolumes": True})
    assert deleted["composeId"] == cid
    assert api.get("compose.one", composeId=cid).status_code == 404
    assert api.containers(app) == []
    assert ssh(port, ssh_key, "echo ok").returncode != 0


def test_deploy_row_log_and_status_transitions(
    make_emulator: Callable[..., Emulator], ssh_key: SshKey
) -> None:
    api = Api(make_emulator(deploy_delay=0.3).url)
    compose = api.new_compose("rows", workspace_file(free_port(), ssh_key))
    cid = compose["composeId"]
    api.ok("POST", "compose.deploy", {"composeId": cid})
    # Asynchronous: nothing happened yet when deploy returns.
    assert api.status(cid) == "idle"
    assert api.ok("GET", "deployment.allByCompose", {"composeId": cid}) == []
    wait_for(lambda: api.status(cid) == "done", 10, "done")
    [row] = api.ok("GET", "deployment.allByCompose", {"composeId": cid})
    assert row["status"] == "done" and row["finishedAt"] and row["title"] == "Manual deployment"
    logs = api.ok("GET", "deployment.readLogs", {"deploymentId": row["deploymentId"]})
    assert "Docker Compose Deployed" in logs
    api.ok("POST", "compose.redeploy", {"composeId": cid})
    rows = wait_for(
        lambda: [
            r
            for r in api.ok("GET", "deployment.allByCompose", {"composeId": cid})
            if r["status"] == "done"
        ][1:],
        10,
        "second deployment",
    )
    newest = api.ok("GET", "deployment.allByCompose", {"composeId": cid})[0]
    assert newest["title"] == "Rebuild deployment" and rows


def test_redeploy_replaces_running_container(api: Api, ssh_key: SshKey) -> None:
    port = free_port()
    compose = api.new_compose("redeploy", workspace_file(port, ssh_key))
    assert api.deploy_and_wait(compose["composeId"]) == "done"
    first = api.containers(compose["appName"])[0]["containerId"]
    assert api.deploy_and_wait(compose["composeId"]) == "done"
    [second] = api.containers(compose["appName"])
    assert second["containerId"] != first and second["state"] == "running"
    assert ssh(port, ssh_key, "echo ok").stdout.strip() == "ok"


def test_non_raw_source_fails_like_dokploy(api: Api, ssh_key: SshKey) -> None:
    compose = api.new_compose("git", workspace_file(free_port(), ssh_key), raw=False)
    assert compose["sourceType"] == "github"
    assert api.deploy_and_wait(compose["composeId"]) == "error"
    assert api.status(compose["composeId"]) == "error"
    log = api.last_log(compose["composeId"])
    assert "Github Provider not found" in log and "Error occurred ❌" in log
    row = api.ok("GET", "deployment.allByCompose", {"composeId": compose["composeId"]})[0]
    # Dokploy's deployCompose sets only the status: errorMessage stays null (compose.ts)
    assert row["errorMessage"] is None and row["finishedAt"]


def test_port_conflict_fails_second_deploy(api: Api, ssh_key: SshKey) -> None:
    port = free_port()
    first = api.new_compose("one", workspace_file(port, ssh_key))
    second = api.new_compose("two", workspace_file(port, ssh_key))
    assert api.deploy_and_wait(first["composeId"]) == "done"
    assert api.deploy_and_wait(second["composeId"]) == "error"
    log = api.last_log(second["composeId"])
    assert (
        f"driver failed programming external connectivity on endpoint "
        f"{second['appName']}-workspace-1"
    ) in log
    assert f"Bind for 0.0.0.0:{port} failed: port is already allocated" in log
    assert api.containers(second["appName"])[0]["state"] == "created"
    assert ssh(port, ssh_key, "echo ok").stdout.strip() == "ok"  # the first one is untouched


def test_port_held_outside_docker_fails_with_the_userland_proxy_words(
    api: Api, ssh_key: SshKey
) -> None:
    import socket

    port = free_port()
    compose = api.new_compose("one", workspace_file(port, ssh_key))
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        assert api.deploy_and_wait(compose["composeId"]) == "error"
    log = api.last_log(compose["composeId"])
    assert f"listen tcp4 0.0.0.0:{port}: bind: address already in use" in log
    assert "port is already allocated" not in log  # Docker's allocator did not know the port
    assert api.containers(compose["appName"])[0]["state"] == "created"


def test_yaml_error_fails_deploy(api: Api) -> None:
    compose = api.new_compose("yaml", "services:\n  ws: [unclosed\n")
    assert api.deploy_and_wait(compose["composeId"]) == "error"
    log = api.last_log(compose["composeId"])
    assert "yaml" in log.lower() and "Error occurred ❌" in log
    assert api.containers(compose["appName"]) == []


def test_start_never_deployed_is_500_and_idle(api: Api, ssh_key: SshKey) -> None:
    compose = api.new_compose("never", workspace_file(free_port(), ssh_key))
    api.ok("POST", "compose.update", {"composeId": compose["composeId"], "composeStatus": "done"})
    response = api.post("compose.start", {"composeId": compose["composeId"]})
    assert response.status_code == 500
    assert response.json()["code"] == "INTERNAL_SERVER_ERROR"
    assert api.status(compose["composeId"]) == "idle"


def test_volumes_survive_stop_start_and_go_with_delete_volumes(
    api: Api, emu: Emulator, ssh_key: SshKey
) -> None:
    port = free_port()
    compose = api.new_compose("vol", workspace_file(port, ssh_key, volumes=True))
    cid, app = compose["composeId"], compose["appName"]
    assert api.deploy_and_wait(cid) == "done"
    assert ssh(port, ssh_key, "echo kept > /tmp/dokploy-emulator-test-home/file").returncode == 0
    volume = emu.state_dir / "volumes" / f"{app}_home"
    assert (volume / "file").read_text() == "kept\n"
    api.ok("POST", "compose.stop", {"composeId": cid})
    api.ok("POST", "compose.start", {"composeId": cid})
    assert ssh(port, ssh_key, "cat /tmp/dokploy-emulator-test-home/file").stdout == "kept\n"
    assert api.deploy_and_wait(cid) == "done"  # redeploy keeps named volumes too
    assert ssh(port, ssh_key, "cat /tmp/dokploy-emulator-test-home/file").stdout == "kept\n"
    api.ok("POST", "compose.delete", {"composeId": cid, "deleteVolumes": False})
    assert volume.exists()

    again = api.new_compose("vol2", workspace_file(port, ssh_key, volumes=True))
    assert api.deploy_and_wait(again["composeId"]) == "done"
    kept = emu.state_dir / "volumes" / f"{again['appName']}_home"
    assert kept.exists()
    api.ok("POST", "compose.delete", {"composeId": again["composeId"], "deleteVolumes": True})
    assert not kept.exists()
    # sshd.py creates bind-mount targets on the shared filesystem; drop the empty leftover.
    with contextlib.suppress(OSError):
        os.rmdir("/tmp/dokploy-emulator-test-home")


def test_env_interpolation_and_list_environment(api: Api, ssh_key: SshKey) -> None:
    port = free_port()
    file = (
        "services:\n  ws:\n    ports:\n"
        f'      - {{target: 22, published: "{port}"}}\n'
        "    environment:\n"
        "      - DEVPOD_SSH_AUTHORIZED_KEY=${SSH_KEY}\n"
        "      - GREETING=${GREETING:-hello}\n"
    )
    compose = api.new_compose("interp", file)
    api.ok(
        "POST",
        "compose.saveEnvironment",
        {"composeId": compose["composeId"], "env": f"SSH_KEY={ssh_key.public}"},
    )
    assert api.deploy_and_wait(compose["composeId"]) == "done"
    assert ssh(port, ssh_key, "echo $GREETING").stdout.strip() == "hello"


def test_container_exiting_by_itself_shows_exited(api: Api, ssh_key: SshKey) -> None:
    port = free_port()
    compose = api.new_compose("kill1", workspace_file(port, ssh_key))
    assert api.deploy_and_wait(compose["composeId"]) == "done"
    ssh(port, ssh_key, "kill 1", timeout=10)
    wait_for(lambda: api.containers(compose["appName"])[0]["state"] == "exited", 10, "exited")
    assert api.status(compose["composeId"]) == "done"  # Dokploy does not notice
    api.ok("POST", "compose.start", {"composeId": compose["composeId"]})
    assert ssh(port, ssh_key, "echo ok").stdout.strip() == "ok"


def test_host_key_from_environment_is_used(api: Api, ssh_key: SshKey, tmp_path: Path) -> None:
    host_key = tmp_path / "host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)], check=True)
    encoded = base64.b64encode(host_key.read_bytes()).decode()
    port = free_port()
    compose = api.new_compose(
        "hostkey", workspace_file(port, ssh_key, extra_env=f'DEVPOD_SSH_HOST_KEY: "{encoded}"')
    )
    assert api.deploy_and_wait(compose["composeId"]) == "done"
    scan = subprocess.run(
        ["ssh-keyscan", "-p", str(port), "-t", "ed25519", "127.0.0.1"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    expected = host_key.with_suffix(".pub").read_text().split()[1]
    assert expected in scan.stdout
    assert "DEVPOD_SSH_HOST_KEY" not in ssh(port, ssh_key, "env").stdout
