"""Fault injection through ``emu.faults`` and through the ``/__emulator`` admin endpoints."""

from __future__ import annotations

import time

import httpx
import pytest
from support.ports import free_port

from dokploy_emulator import Emulator

from .conftest import Api, SshKey, ssh, wait_for, workspace_file


def test_fail_next_deploy_with_message(api: Api, emu: Emulator, ssh_key: SshKey) -> None:
    compose = api.new_compose("fail", workspace_file(free_port(), ssh_key))
    emu.faults.set(fail_next_deploys=1, deploy_error="disk full on build host")
    assert api.deploy_and_wait(compose["composeId"]) == "error"
    log = api.last_log(compose["composeId"])
    assert "disk full on build host" in log and "Error occurred ❌" in log
    assert api.deploy_and_wait(compose["composeId"]) == "done"  # consumed


def test_stuck_deploy_stays_running(api: Api, emu: Emulator, ssh_key: SshKey) -> None:
    compose = api.new_compose("stuck", workspace_file(free_port(), ssh_key))
    cid = compose["composeId"]
    httpx.post(f"{emu.url}/__emulator/faults", json={"stuck_deploys": 1}).raise_for_status()
    api.ok("POST", "compose.deploy", {"composeId": cid})
    wait_for(lambda: api.ok("GET", "deployment.allByCompose", {"composeId": cid}), 5, "row")
    time.sleep(0.3)  # give a (wrong) completion the chance to happen
    assert api.status(cid) == "running"
    assert api.ok("GET", "deployment.allByCompose", {"composeId": cid})[0]["status"] == "running"
    # The documented recovery path works.
    api.ok("POST", "compose.update", {"composeId": cid, "composeStatus": "idle"})
    assert api.deploy_and_wait(cid) == "done"


def test_http_500_then_recovers(api: Api, emu: Emulator) -> None:
    emu.faults.set(http_500=2)
    for _ in range(2):
        response = api.get("settings.health")
        assert response.status_code == 500
        assert response.json() == {
            "message": "Internal server error",
            "code": "INTERNAL_SERVER_ERROR",
        }
    assert api.get("settings.health").status_code == 200


def test_delay(api: Api, emu: Emulator) -> None:
    httpx.post(f"{emu.url}/__emulator/faults", json={"delay_ms": 300}).raise_for_status()
    started = time.monotonic()
    assert api.get("settings.health").status_code == 200
    assert time.monotonic() - started >= 0.3
    with pytest.raises(httpx.ReadTimeout):
        api.http.get("/settings.health", timeout=0.05)


def test_revoke_key_mid_session(api: Api, emu: Emulator) -> None:
    assert api.get("project.all").status_code == 200
    httpx.post(f"{emu.url}/__emulator/faults", json={"revoke_key": True}).raise_for_status()
    response = api.get("project.all")
    assert response.status_code == 401 and response.content == b'{"message":"Unauthorized"}'
    httpx.post(f"{emu.url}/__emulator/reset").raise_for_status()
    assert api.get("project.all").status_code == 200


def test_empty_containers(api: Api, emu: Emulator, ssh_key: SshKey) -> None:
    compose = api.new_compose("empty", workspace_file(free_port(), ssh_key))
    assert api.deploy_and_wait(compose["composeId"]) == "done"
    assert len(api.containers(compose["appName"])) == 1
    emu.faults.set(empty_containers=True)
    assert api.containers(compose["appName"]) == []


def test_exit_after_start(api: Api, emu: Emulator, ssh_key: SshKey) -> None:
    port = free_port()
    compose = api.new_compose("exit", workspace_file(port, ssh_key))
    emu.faults.set(exit_after_start=1)
    assert api.deploy_and_wait(compose["composeId"]) == "done"  # up -d returned 0
    wait_for(lambda: api.containers(compose["appName"])[0]["state"] == "exited", 5, "exited")
    assert ssh(port, ssh_key, "echo ok").returncode != 0


def test_admin_endpoints(emu: Emulator) -> None:
    bad = httpx.post(f"{emu.url}/__emulator/faults", json={"no_such_fault": 1})
    assert bad.status_code == 400
    snapshot = httpx.post(f"{emu.url}/__emulator/faults", json={"http_500": 3}).json()
    assert snapshot["http_500"] == 3
    state = httpx.get(f"{emu.url}/__emulator/state").json()
    assert state["faults"]["http_500"] == 3 and state["version"] == "v0.30.2"
    assert {"projects", "environments", "composes", "deployments", "containers"} <= set(state)
    assert httpx.post(f"{emu.url}/__emulator/reset").json()["faults"]["http_500"] == 0


def test_forbid_and_report_version_faults(api: Api, emu: Emulator) -> None:
    emu.faults.set(forbid="You are not authorized to access this compose")
    denied = api.get("project.all")
    assert denied.status_code == 401
    assert denied.json()["code"] == "UNAUTHORIZED"
    assert denied.json()["message"] == "You are not authorized to access this compose"
    assert api.get("settings.health").status_code == 200
    emu.faults.set(forbid="", report_version="v0.21.0")
    assert api.get("settings.getDokployVersion").json() == "v0.21.0"
    assert api.get("project.all").status_code == 200


def test_ignore_sigterm_holds_stop_and_delete_answers(
    api: Api, emu: Emulator, ssh_key: SshKey
) -> None:
    import threading

    compose = api.new_compose("slowstop", workspace_file(free_port(), ssh_key))
    cid, app = compose["composeId"], compose["appName"]
    assert api.deploy_and_wait(cid) == "done"
    emu.faults.set(ignore_sigterm_seconds=2)
    for procedure, body in (
        ("compose.stop", {"composeId": cid}),
        ("compose.delete", {"composeId": cid, "deleteVolumes": True}),
    ):
        if procedure == "compose.delete":
            api.ok("POST", "compose.start", {"composeId": cid})
        answers: list[int] = []
        call = threading.Thread(
            target=lambda p=procedure, b=body, a=answers: a.append(api.post(p, b).status_code)
        )
        call.start()
        time.sleep(0.5)
        # no answer yet, and the workspace is still up: the stop is still under way
        assert answers == [] and api.containers(app)[0]["state"] == "running"
        call.join(10)
        assert answers == [200]
    assert api.containers(app) == []


@pytest.mark.parametrize(
    ("version", "fails"),
    [("v0.28.1", False), ("v0.28.2", True), ("v0.29.13", True), ("v0.29.14", False)],
)
def test_login_shell_stderr_fails_remote_deploys_on_the_versions_that_read_back(
    make_emulator, ssh_key: SshKey, version: str, fails: bool
) -> None:
    emu = make_emulator(version=version, remote_servers=["edge-1"])
    api = Api(emu.url)
    (server,) = api.ok("GET", "server.all")
    emu.faults.set(login_shell_stderr=True)
    local = api.new_compose("local", workspace_file(free_port(), ssh_key))
    assert api.deploy_and_wait(local["composeId"]) == "done"  # the Dokploy host: no SSH read
    remote = api.new_compose(
        "remote", workspace_file(free_port(), ssh_key), server_id=server["serverId"]
    )
    assert api.deploy_and_wait(remote["composeId"]) == ("error" if fails else "done")
    if fails:
        assert "Compose file not found" in api.last_log(remote["composeId"])
        assert api.containers(remote["appName"]) == []
        row = api.ok("GET", "deployment.allByCompose", {"composeId": remote["composeId"]})[0]
        assert row["errorMessage"] is None  # as Dokploy: the reason is only in the log


def test_converted_compose_is_the_file_on_disk(api: Api, emu: Emulator, ssh_key: SshKey) -> None:
    git = api.new_compose("git")
    cid = git["composeId"]
    assert (
        api.ok("GET", "compose.getConvertedCompose", {"composeId": cid}) == "null\n"
    )  # no clone yet
    text = "services:\n  web:\n    image: x\n    ports:\n      - 8080:80\n"
    httpx.post(
        f"{emu.url}/__emulator/clone", json={"composeId": cid, "composeFile": text}
    ).raise_for_status()
    assert api.ok("GET", "compose.getConvertedCompose", {"composeId": cid}) == text
    missing = httpx.post(
        f"{emu.url}/__emulator/clone", json={"composeId": "nope", "composeFile": ""}
    )
    assert missing.status_code == 404
