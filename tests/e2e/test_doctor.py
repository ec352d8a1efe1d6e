"""`dokploy-provider doctor` through the console script against the emulator."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import PROVIDER, DevPod, EmulatorProcess, Result, start_emulator, stop_emulator


def run_args(devpod: DevPod, args: list[str], machine_id: str | None) -> Result:
    """Run the console script with ``args`` (not only a verb) in DevPod's environment."""
    if machine_id is not None:
        devpod.machine_folder(machine_id).mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [PROVIDER, *args],
        env=devpod.env(machine_id),
        capture_output=True,
        timeout=120,
        cwd=devpod.home,
        check=False,
    )
    assert devpod.emulator.token.encode() not in proc.stdout + proc.stderr, "token leaked"
    return Result(proc.returncode, proc.stdout, proc.stderr)


def _rows(text: str) -> list[list[str]]:
    return [line.split("\t") for line in text.splitlines()]


def _checks(result) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    return {row["check"]: row for row in json.loads(result.out)}


def test_healthy_setup_and_machine_pass_every_check(emulator_latest, devpod_factory) -> None:
    devpod = devpod_factory(emulator_latest)
    assert devpod.run("create").returncode == 0

    result = run_args(devpod, ["doctor"], "ws1")
    assert result.returncode == 0, result.out + result.err
    lines = result.out.splitlines()
    # One plain (tab-separated) line per check on stdout; progress and summary on stderr.
    assert len(lines) == 14
    assert all(line.startswith("✓\t") for line in lines), result.out
    assert "All 14 checks passed" in result.err
    assert "SSH login" in result.out and "logged in to root@" in result.out

    checks = _checks(run_args(devpod, ["doctor", "--json"], "ws1"))
    assert list(checks)[:10] == [
        "url", "options", "reachable", "api_key", "version", "project", "server", "ssh_host",
        "ports", "login_shell",
    ]  # fmt: skip
    assert list(checks)[10:] == ["state", "compose", "container", "ssh"]
    assert "not affected by Dokploy #4260" in checks["login_shell"]["detail"]
    ports = checks["ports"]["data"]
    assert ports["free"] == 29
    state = json.loads((devpod.machine_folder("ws1") / "dokploy-machine.json").read_text())
    (app,) = ports["taken"][str(state["ssh_port"])]
    assert app == f"{state['app_name']} (machine ws1)"


def test_wrong_key_fails_with_a_fix_and_skips_the_rest(emulator_latest, devpod_factory) -> None:
    devpod = devpod_factory(emulator_latest, DOKPLOY_API_TOKEN="not-the-right-key")
    result = run_args(devpod, ["doctor", "--json"], None)
    assert result.returncode == 1
    checks = _checks(result)
    assert checks["reachable"]["status"] == "ok"
    assert checks["api_key"]["status"] == "fail"
    assert "API/CLI" in checks["api_key"]["fix"]
    assert {checks[k]["status"] for k in ("version", "project", "ports")} == {"skip"}
    assert "1 of 10 checks failed" in result.err


def test_full_port_range_names_who_holds_the_ports(emulator_latest, devpod_factory) -> None:
    devpod = devpod_factory(emulator_latest)
    port = int(devpod.options["DOKPLOY_SSH_PORT_RANGE"].split("-")[0])
    devpod.options["DOKPLOY_SSH_PORT_RANGE"] = str(port)
    assert devpod.run("create").returncode == 0
    result = run_args(devpod, ["doctor"], None)
    assert result.returncode == 1
    (row,) = [cells for cells in _rows(result.out) if cells[1] == "SSH ports"]
    mark, _title, detail, fix = row
    assert mark == "✗"
    assert detail.startswith(f"0 of 1 free in {port}-{port} on the Dokploy host; taken: {port} ")
    assert "(machine ws1)" in detail
    assert "DOKPLOY_SSH_PORT_RANGE=" in fix


def test_stopped_machine_fails_at_the_container_and_skips_ssh(
    emulator_latest, devpod_factory
) -> None:
    devpod = devpod_factory(emulator_latest)
    assert devpod.run("create").returncode == 0
    assert devpod.run("stop").returncode == 0
    checks = _checks(run_args(devpod, ["doctor", "--json"], "ws1"))
    assert checks["compose"]["status"] == "ok"
    assert checks["container"]["status"] == "fail"
    assert "devpod up" in checks["container"]["fix"]
    assert checks["ssh"]["status"] == "skip"


def test_machine_folder_flag_without_devpod_env(emulator_latest, devpod_factory) -> None:
    devpod = devpod_factory(emulator_latest)
    assert devpod.run("create").returncode == 0
    folder = str(devpod.machine_folder("ws1"))
    checks = _checks(run_args(devpod, ["doctor", "--json", "--machine-folder", folder], None))
    assert checks["ssh"]["status"] == "ok", checks["ssh"]


def test_env_file_supplies_the_options(emulator_latest, devpod_factory, tmp_path: Path) -> None:
    devpod = devpod_factory(emulator_latest)
    env_file = tmp_path / "dokploy.env"
    env_file.write_text(
        f"DOKPLOY_SERVER_URL={emulator_latest.url}\nDOKPLOY_API_TOKEN={emulator_latest.token}\n"
    )
    bare = DevPod(devpod.emulator, devpod.home, {})
    assert run_args(bare, ["doctor"], None).returncode == 1
    result = run_args(bare, ["doctor", "--env-file", str(env_file)], None)
    assert result.returncode == 0, result.out


def test_remote_server_checks(tmp_path: Path, devpod_factory) -> None:
    emu: EmulatorProcess = start_emulator(tmp_path, "v0.30.2", remote_servers=("edge-a",))
    try:
        (server,) = emu.api("server.all")
        good = _checks(
            run_args(
                devpod_factory(emu, DOKPLOY_SERVER_ID=server["serverId"]),
                ["doctor", "--json"],
                None,
            )
        )
        assert good["server"]["status"] == "ok"
        assert "edge-a" in good["server"]["detail"]
        assert "remote server's IP" in good["ssh_host"]["detail"]
        assert "on server edge-a" in good["ports"]["detail"]

        auto = _checks(
            run_args(devpod_factory(emu, DOKPLOY_SERVER_ID="auto"), ["doctor", "--json"], None)
        )
        assert auto["server"]["detail"].startswith("auto picks edge-a")

        bad = run_args(devpod_factory(emu, DOKPLOY_SERVER_ID="nope"), ["doctor", "--json"], None)
        assert bad.returncode == 1
        checks = _checks(bad)
        assert checks["server"]["status"] == "fail"
        assert server["serverId"] in checks["server"]["fix"]
        assert checks["ssh_host"]["status"] == "skip"
    finally:
        stop_emulator(emu)


def test_doctor_with_nothing_exported_reads_the_options_devpod_stored(
    emulator_latest, tmp_path: Path
) -> None:
    import os

    import yaml

    home = tmp_path / "user"
    (home / ".devpod").mkdir(parents=True)
    stored = {
        "DOKPLOY_SERVER_URL": {"userProvided": True, "value": emulator_latest.url},
        "DOKPLOY_API_TOKEN": {"userProvided": True, "value": emulator_latest.token},
        "DOKPLOY_SSH_HOST": {},
    }
    config = home / ".devpod" / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "contexts": {"default": {"providers": {"dokploy": {"options": stored}}}},
                "defaultContext": "default",
            }
        )
    )
    env = {"PATH": os.environ["PATH"], "HOME": str(home)}  # a plain shell: nothing exported
    proc = subprocess.run(
        [PROVIDER, "doctor", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert f"stored in {config}" in proc.stderr, proc.stderr
    assert emulator_latest.token not in proc.stdout + proc.stderr
    checks = {row["check"]: row for row in json.loads(proc.stdout)}
    assert emulator_latest.url in json.dumps(checks)
    assert any(emulator_latest.version in json.dumps(row) for row in checks.values())


@pytest.mark.parametrize(
    ("version", "mode", "blocks"),
    [
        ("v0.30.2", "cloud", True),
        ("v0.29.6", "remote_servers_only", True),
        ("v0.29.5", "remote_servers_only", False),  # the setting does not exist yet
    ],
)
def test_a_dokploy_that_needs_a_server_is_found_before_any_create(
    tmp_path: Path, devpod_factory, version: str, mode: str, blocks: bool
) -> None:
    emu: EmulatorProcess = start_emulator(tmp_path, version, remote_servers=("edge-a",))
    try:
        emu.admin("faults", {mode: True})
        (server,) = emu.api("server.all")
        devpod = devpod_factory(emu)
        checks = _checks(run_args(devpod, ["doctor", "--json"], None))
        init = devpod.run("init")
        create = devpod.run("create")
        if not blocks:
            assert checks["server"]["status"] == "ok"
            assert init.returncode == 0 and create.returncode == 0, create.err
            return
        assert checks["server"]["status"] == "fail"
        assert f"{server['serverId']} (edge-a)" in checks["server"]["fix"]
        for result in (init, create):
            assert result.returncode == 2, result.err
            assert "DOKPLOY_SERVER_ID is empty" in result.err
            assert f"{server['serverId']} (edge-a)" in result.err
            assert "Traceback" not in result.err and emu.token not in result.err
        assert emu.admin("state")["composes"] == []  # refused before compose.create
        placed = devpod_factory(emu, DOKPLOY_SERVER_ID=server["serverId"])
        assert placed.run("create").returncode == 0
    finally:
        stop_emulator(emu)


@pytest.mark.parametrize("version", ["v0.29.13", "v0.30.2"])
def test_doctor_finds_remote_deploys_failed_by_a_noisy_login_shell(
    tmp_path: Path, devpod_factory, version: str
) -> None:
    import httpx

    emu: EmulatorProcess = start_emulator(tmp_path, version, remote_servers=("edge-a",))
    try:
        (server,) = emu.api("server.all")
        emu.admin("faults", {"login_shell_stderr": True})
        devpod = devpod_factory(emu, DOKPLOY_SERVER_ID=server["serverId"])
        before = _checks(run_args(devpod, ["doctor", "--json"], None))["login_shell"]
        assert before["status"] == "ok"
        # a colleague's compose on the same server, deployed once
        headers = {"x-api-key": emu.token}
        project = httpx.post(
            f"{emu.url}/api/project.create", headers=headers, json={"name": "theirs"}
        ).json()
        created = httpx.post(
            f"{emu.url}/api/compose.create",
            headers=headers,
            json={
                "name": "their-app",
                "serverId": server["serverId"],
                "environmentId": project["environment"]["environmentId"],
            },
        ).json()
        httpx.post(
            f"{emu.url}/api/compose.update",
            headers=headers,
            json={
                "composeId": created["composeId"],
                "sourceType": "raw",
                "composeFile": "services:\n  web:\n    image: x\n",
            },
        ).raise_for_status()
        httpx.post(
            f"{emu.url}/api/compose.deploy",
            headers=headers,
            json={"composeId": created["composeId"]},
        ).raise_for_status()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(
            d["status"] != "running" for d in emu.admin("state")["deployments"]
        ):
            time.sleep(0.2)
        result = run_args(devpod, ["doctor", "--json"], None)
        check = _checks(result)["login_shell"]
        if version == "v0.30.2":  # fixed in v0.29.14: the deploy went through
            assert check["status"] == "ok" and result.returncode == 0
            return
        assert result.returncode == 1
        assert check["status"] == "fail"
        assert "Compose file not found" in check["detail"] and created["appName"] in check["detail"]
        assert "v0.29.14" in check["fix"]
    finally:
        stop_emulator(emu)
