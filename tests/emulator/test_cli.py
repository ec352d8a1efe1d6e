"""``python -m dokploy_emulator`` as a subprocess: ready line, and nothing left after SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from support.ports import free_port

from .conftest import API_KEY, Api, SshKey, ssh, wait_for, workspace_file


def _cli(api_key: str, version: str, *extra: str) -> list[str]:
    """``python -m dokploy_emulator`` on a free port with the key on the command line."""
    return [
        sys.executable,
        "-m",
        "dokploy_emulator",
        "--port",
        "0",
        "--api-key",
        api_key,
        "--version",
        version,
        *extra,
    ]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_cli_ready_line_and_sigterm_stops_sshds(tmp_path: Path, ssh_key: SshKey) -> None:
    proc = subprocess.Popen(
        _cli(
            API_KEY,
            "v0.26.0",
            "--state-dir",
            str(tmp_path / "state"),
            "--deploy-delay",
            "0.01",
            "--remote-server",
            "edge",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.fullmatch(
            r"dokploy-emulator ready url=(http://127\.0\.0\.1:(\d+)) "
            r"version=v0\.26\.0\n",
            line,
        )
        assert match, line
        url = match.group(1)
        api = Api(url)
        assert api.ok("GET", "settings.getDokployVersion") == "v0.26.0"
        assert [s["name"] for s in api.ok("GET", "server.all")] == ["edge"]
        ports = [free_port(), free_port()]
        for i, port in enumerate(ports):
            compose = api.new_compose(f"cli{i}", workspace_file(port, ssh_key))
            assert api.deploy_and_wait(compose["composeId"]) == "done"
        assert ssh(ports[0], ssh_key, "echo ok").stdout.strip() == "ok"
        state = httpx.get(f"{url}/__emulator/state").json()
        pids = [c["pid"] for c in state["containers"]]
        assert len(pids) == 2 and all(pid and _alive(pid) for pid in pids)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        wait_for(lambda: not any(_alive(pid) for pid in pids), 5, "sshds gone")
        for port in ports:
            assert ssh(port, ssh_key, "echo ok").returncode != 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_rejects_unsupported_version() -> None:
    result = subprocess.run(
        _cli("k", "v0.19.0"),
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert result.returncode == 2 and "unsupported Dokploy version" in result.stderr
