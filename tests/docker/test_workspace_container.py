"""The workspace container on a real Docker engine, through the provider's console script.

One machine goes through its whole life, in order: create → SSH → inner Docker → limits →
data across stop/start → DevPod's auto-stop command → start → redeploy after the container
vanished → delete. Each test checks one behaviour; they share the machine (module fixture).
"""

from __future__ import annotations

import base64
import shlex
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from dokploy_provider import compose
from dokploy_provider.options import load_settings

from .conftest import ROOT, TIMINGS, Workspace, docker

pytestmark = pytest.mark.docker

PROVIDER_YAML = yaml.safe_load((ROOT / "provider.yaml").read_text())
VOLUME_FILE = f"{compose.DEVPOD_DATA_DIR}/probe.txt"
INNER_IMAGE = "dokploy-provider-probe:1"
# Stands in for DevPod's agent binary: records how the boot script starts its daemon.
FAKE_AGENT = """#!/bin/sh
echo "$*" > /var/lib/devpod/daemon-args
exec sleep 100000
"""


def _started_at(workspace: Workspace) -> float:
    container = workspace.container()
    assert container is not None
    text = container["State"]["StartedAt"]  # RFC 3339 with nanoseconds
    whole, _, fraction = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(whole + "+00:00").timestamp() + float(f"0.{fraction or 0}")


def test_create_answers_ssh(workspace: Workspace) -> None:
    started = time.monotonic()
    result = workspace.run("create", timeout=900)
    TIMINGS["create (image build included if first)"] = time.monotonic() - started
    assert result.returncode == 0, result.err
    assert result.stdout == b""
    TIMINGS["container start -> create returned (SSH ready)"] = time.time() - _started_at(
        workspace)
    assert workspace.status() == "Running"
    container = workspace.container()
    assert container is not None
    # the emulator's one deviation from Dokploy: nothing listens on public interfaces
    bindings = container["HostConfig"]["PortBindings"]["22/tcp"]
    assert [b["HostIp"] for b in bindings] == ["127.0.0.1"]


def test_inner_docker_answers_through_the_tunnel(workspace: Workspace) -> None:
    out = workspace.sh("docker info --format '{{.Driver}} {{.ServerVersion}}'")
    driver = out.split()[0]
    # overlay2 works because /var/lib/docker is a named volume (vfs on the container layer)
    assert driver == "overlay2", out


def test_sshd_is_key_only_and_quiet(workspace: Workspace) -> None:
    config = workspace.sh("sshd -T -f /etc/ssh/devpod/sshd_config")
    settings = dict(line.split(" ", 1) for line in config.splitlines() if " " in line)
    assert settings["passwordauthentication"] == "no"
    assert settings["kbdinteractiveauthentication"] == "no"
    assert settings["permitrootlogin"] == "without-password"  # = prohibit-password
    assert settings["x11forwarding"] == "no"
    assert settings["printmotd"] == "no"
    assert settings["banner"] == "none"
    assert workspace.sh("true") == ""  # nothing on stdout but the command's own output


def test_limits_are_applied(workspace: Workspace) -> None:
    container = workspace.container()
    assert container is not None
    host = container["HostConfig"]
    assert host["NanoCpus"] == 1_000_000_000
    assert host["Memory"] == 1024**3
    assert host["Privileged"] is True
    assert host["Init"] is True
    assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    mounts = {m["Destination"]: m for m in container["Mounts"]}
    for target in ("/var/lib/docker", compose.DEVPOD_DATA_DIR):
        assert mounts[target]["Type"] == "volume", target
        assert mounts[target]["Name"].startswith(workspace.app_name + "_")


def test_data_and_inner_images_survive_stop_and_start(workspace: Workspace) -> None:
    agent_path = compose.DEVPOD_DATA_DIR + "/devpod"
    workspace.sh(
        f"echo kept > {VOLUME_FILE} && echo layer > /root/layer.txt"
        f" && tar -cf - --files-from /dev/null | docker import - {INNER_IMAGE}"
        # a stand-in agent and workspace config: after a restart the boot script must start
        # the agent's inactivity daemon itself
        f" && printf %s {shlex.quote(FAKE_AGENT)} > {agent_path} && chmod +x {agent_path}"
        f" && mkdir -p {compose.AGENT_DATA_DIR}/contexts/default/workspaces/w1"
        f" && echo '{{}}' > {compose.AGENT_DATA_DIR}/contexts/default/workspaces/w1/workspace.json"
    )
    stop = workspace.run("stop", timeout=120)
    assert stop.returncode == 0, stop.err
    assert workspace.status() == "Stopped"
    container = workspace.container()
    assert container is not None and container["State"]["Status"] == "exited"
    assert container["State"]["ExitCode"] == 0

    started = time.monotonic()
    start = workspace.run("start", timeout=300)
    TIMINGS["start verb (stopped -> SSH ready)"] = time.monotonic() - started
    assert start.returncode == 0, start.err
    TIMINGS["container start -> start returned (SSH ready)"] = time.time() - _started_at(
        workspace)
    assert workspace.status() == "Running"
    assert workspace.sh(f"cat {VOLUME_FILE} /root/layer.txt") == "kept\nlayer\n"
    assert INNER_IMAGE in workspace.sh("docker images --format '{{.Repository}}:{{.Tag}}'")
    daemon = workspace.sh(
        "cat /var/lib/devpod/daemon-args; cat /var/run/devpod.pid /tmp/daemon.pid")
    args, pid_a, pid_b = daemon.splitlines()
    assert args == f"agent daemon --agent-dir {compose.AGENT_DATA_DIR}"
    assert pid_a == pid_b
    assert workspace.sh(f"kill -0 {pid_a} && echo alive") == "alive\n"


def test_auto_stop_command_stops_the_workspace(workspace: Workspace) -> None:
    shutdown = PROVIDER_YAML["agent"]["exec"]["shutdown"]
    assert isinstance(shutdown, str)
    # DevPod's daemon runs it as root in the workspace, through a shell; the session dies
    # with the container, so its exit status is not meaningful.
    started = time.monotonic()
    workspace.run("command", command=f"sh -c {shlex.quote(shutdown)}", timeout=60)
    seen = workspace.wait_status("Stopped")
    TIMINGS["auto-stop command -> status Stopped"] = time.monotonic() - started
    assert seen == "Stopped"
    time.sleep(2)  # a restart policy would have restarted it by now
    container = workspace.container()
    assert container is not None
    assert container["State"]["Status"] == "exited"
    assert container["State"]["ExitCode"] == 0
    assert container["RestartCount"] == 0
    assert workspace.status() == "Stopped"


def test_start_after_auto_stop(workspace: Workspace) -> None:
    start = workspace.run("start", timeout=300)
    assert start.returncode == 0, start.err
    assert workspace.status() == "Running"
    assert workspace.sh(f"cat {VOLUME_FILE}") == "kept\n"


def test_redeploy_after_the_container_vanished_keeps_the_volumes(workspace: Workspace) -> None:
    container = workspace.container()
    assert container is not None
    docker("rm", "-f", container["Id"])
    assert workspace.status() == "Stopped"
    started = time.monotonic()
    start = workspace.run("start", timeout=600)
    TIMINGS["start verb redeploying (up --build, image cached)"] = time.monotonic() - started
    assert start.returncode == 0, start.err
    assert workspace.container() is not None
    assert workspace.sh(f"cat {VOLUME_FILE}") == "kept\n"
    assert INNER_IMAGE in workspace.sh("docker images --format '{{.Repository}}:{{.Tag}}'")


def test_delete_leaves_no_container_and_no_volume(workspace: Workspace) -> None:
    app_name = workspace.app_name
    result = workspace.run("delete", timeout=120)
    assert result.returncode == 0, result.err
    label = f"label=com.docker.compose.project={app_name}"
    assert docker("ps", "-aq", "--filter", label).split() == []
    assert docker("volume", "ls", "-q", "--filter", label).split() == []
    assert docker("network", "ls", "-q", "--filter", label).split() == []
    assert workspace.status() == "NotFound"


def test_gpu_reservation_reaches_the_engine(docker_engine: str, tmp_path: Path) -> None:
    """No GPU here: compose must accept the file and hand the engine an NVIDIA request."""
    settings = load_settings({
        "DOKPLOY_SERVER_URL": "http://127.0.0.1:3000", "DOKPLOY_API_TOKEN": "unused",
        "WORKSPACE_IMAGE": docker_engine, "WORKSPACE_GPU": "all",
    })
    key = base64.b64encode(b"not a key").decode()
    text = compose.render(settings, compose.WorkspaceSpec("gpu-probe", 1, "ssh-ed25519 AAAA x", key))
    (tmp_path / "docker-compose.yml").write_text(text)
    project = f"gpu-probe-{tmp_path.name[-8:].lower().replace('_', '')}"
    config = subprocess.run(
        ["docker", "compose", "-p", project, "config", "--format", "json"],
        cwd=tmp_path, capture_output=True, text=True, check=False, timeout=60,
    )
    assert config.returncode == 0, config.stderr
    assert '"driver": "nvidia"' in config.stdout.replace('":"', '": "')
    try:
        create = subprocess.run(
            ["docker", "compose", "-p", project, "up", "--no-start"],
            cwd=tmp_path, capture_output=True, text=True, check=False, timeout=600,
        )
        assert create.returncode == 0, create.stderr
        container = docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={project}")
        requests = docker("inspect", "-f", "{{json .HostConfig.DeviceRequests}}",
                          container.split()[0])
        assert '"Driver":"nvidia"' in requests and '"Count":-1' in requests, requests
        assert '"gpu"' in requests, requests
    finally:
        subprocess.run(["docker", "compose", "-p", project, "down", "-v"], cwd=tmp_path,
                       capture_output=True, check=False, timeout=120)
