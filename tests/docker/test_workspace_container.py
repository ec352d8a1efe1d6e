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
# Stands in for DevPod's agent binary: records how its daemon was started.
FAKE_AGENT = """#!/bin/sh
echo "$*" > /var/lib/devpod/daemon-args
exec sleep 100000
"""
# What DevPod v0.6.15's agent installs as /etc/init.d/devpod when there is no systemd
# (takama/daemon's SysV template, reduced to what decides "running or not"; the real one
# goes through tests/devpod with a real DevPod).
AGENT_SERVICE = """#! /bin/sh
if [ -f /etc/rc.d/init.d/functions ]; then . /etc/rc.d/init.d/functions; fi
pidfile=/var/run/devpod.pid
case "$1" in
  start)
    status -p $pidfile devpod >/dev/null 2>&1 && exit 0
    if [ -f $pidfile ] && [ -d "/proc/$(cat $pidfile)" ]; then exit 7; fi
    /var/lib/devpod/devpod agent daemon --agent-dir /var/lib/devpod/agent >>/var/log/devpod.log 2>&1 &
    echo $! > $pidfile; success; echo ;;
  status) status -p $pidfile devpod ;;
esac
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
    TIMINGS["container start -> create returned (SSH ready)"] = time.time() - _started_at(workspace)
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


def test_successor_agents_daemon_json_merge_is_refused_safely(workspace: Workspace) -> None:
    # What skevetter/devpod v0.26 and Devsy v1.1 agents do even with agent.local "false":
    # merge the containerd snapshotter into /etc/docker/daemon.json and SIGHUP dockerd.
    driver = workspace.sh("docker info --format '{{.Driver}}'").strip()
    workspace.sh(
        'sed -i \'s/^{/{ "features": { "containerd-snapshotter": true },/\''
        " /etc/docker/daemon.json && pkill -HUP dockerd && sleep 1"
    )
    assert "containerd-snapshotter" in workspace.sh("cat /etc/docker/daemon.json")
    # the inner engine keeps answering, with the same store (its own config copy is unchanged)
    assert workspace.sh("docker info --format '{{.Driver}}'").strip() == driver
    assert "containerd-snapshotter" not in workspace.sh(f"cat {compose.INNER_DOCKERD_CONFIG}")
    # (the next test restarts the workspace with the merged file in place and finds its
    # inner images where they were)


def test_command_relays_the_agents_version_call(workspace: Workspace) -> None:
    # The newer CLIs call `<agent> --version` through `command` after injecting, stdin at EOF.
    result = workspace.run("command", command="sh -c 'echo v0.26.1; exit 3'", timeout=60)
    assert result.returncode == 3
    assert result.out == "v0.26.1\n"


def test_data_and_inner_images_survive_stop_and_start(workspace: Workspace) -> None:
    agent_path = compose.DEVPOD_DATA_DIR + "/devpod"
    workspace.sh(
        f"echo kept > {VOLUME_FILE} && echo layer > /root/layer.txt"
        f" && tar -cf - --files-from /dev/null | docker import - {INNER_IMAGE}"
        # a stand-in agent and the service DevPod's agent installs for its daemon: after a
        # restart the boot script must start that service again, once
        f" && printf %s {shlex.quote(FAKE_AGENT)} > {agent_path} && chmod +x {agent_path}"
        f" && printf %s {shlex.quote(AGENT_SERVICE)} > /etc/init.d/devpod"
        " && chmod +x /etc/init.d/devpod"
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
    TIMINGS["container start -> start returned (SSH ready)"] = time.time() - _started_at(workspace)
    assert workspace.status() == "Running"
    assert workspace.sh(f"cat {VOLUME_FILE} /root/layer.txt") == "kept\nlayer\n"
    assert INNER_IMAGE in workspace.sh("docker images --format '{{.Repository}}:{{.Tag}}'")
    _assert_one_agent_daemon(workspace)


def _assert_one_agent_daemon(workspace: Workspace) -> None:
    """The agent's service runs once, and its status check says so (what the agent asks)."""
    args, pid = workspace.sh("cat /var/lib/devpod/daemon-args /var/run/devpod.pid").splitlines()
    assert args == f"agent daemon --agent-dir {compose.AGENT_DATA_DIR}"
    status = workspace.sh("/etc/init.d/devpod status")
    assert status == f"devpod (pid  {pid}) is running...\n"
    workspace.sh("/etc/init.d/devpod start")  # what `devpod up` does next: nothing new
    assert workspace.sh("cat /var/run/devpod.pid").strip() == pid
    # the stand-in daemon execs `sleep 100000`: one such process means one daemon
    daemons = workspace.sh("ps -eo args | grep -c '^sleep 100000' || true")
    assert daemons.strip() == "1"


def test_auto_stop_command_stops_the_workspace(workspace: Workspace) -> None:
    shutdown = PROVIDER_YAML["agent"]["exec"]["shutdown"]
    assert isinstance(shutdown, str) and shutdown.split()[0] == "kill"
    # DevPod v0.6.15's daemon runs it through a real shell (tests/devpod runs that); the fork
    # and Devsy run it in an emulated shell that turns `kill` into `/bin/kill`: run that form,
    # with no shell at all. The session dies with the container, so its status is moot.
    as_successors_run_it = "/bin/kill " + shutdown.split(" ", 1)[1]
    started = time.monotonic()
    workspace.run("command", command=as_successors_run_it, timeout=60)
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
    # a new container: the agent's service script came back from the volume, and runs
    _assert_one_agent_daemon(workspace)


def test_start_after_dokploys_nightly_prune_rebuilds_with_the_data(workspace: Workspace) -> None:
    # Dokploy's cleanup removes stopped containers and unused images, never named volumes
    assert workspace.run("stop", timeout=120).returncode == 0
    container = workspace.container()
    assert container is not None
    image = container["Config"]["Image"]
    docker("rm", "-f", container["Id"])
    docker("image", "rm", "-f", image)
    assert workspace.status() == "Stopped"
    started = time.monotonic()
    start = workspace.run("start", timeout=900)
    TIMINGS["start verb after a prune (image rebuilt)"] = time.monotonic() - started
    assert start.returncode == 0, start.err
    assert workspace.sh(f"cat {VOLUME_FILE}") == "kept\n"
    assert INNER_IMAGE in workspace.sh("docker images --format '{{.Repository}}:{{.Tag}}'")
    _assert_one_agent_daemon(workspace)


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
    settings = load_settings(
        {
            "DOKPLOY_SERVER_URL": "http://127.0.0.1:3000",
            "DOKPLOY_API_TOKEN": "unused",
            "WORKSPACE_IMAGE": docker_engine,
            "WORKSPACE_GPU": "all",
        }
    )
    key = base64.b64encode(b"not a key").decode()
    text = compose.render(
        settings, compose.WorkspaceSpec("gpu-probe", 1, "ssh-ed25519 AAAA x", key)
    )
    (tmp_path / "docker-compose.yml").write_text(text)
    project = f"gpu-probe-{tmp_path.name[-8:].lower().replace('_', '')}"
    config = subprocess.run(
        ["docker", "compose", "-p", project, "config", "--format", "json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert config.returncode == 0, config.stderr
    assert '"driver": "nvidia"' in config.stdout.replace('":"', '": "')
    try:
        create = subprocess.run(
            ["docker", "compose", "-p", project, "up", "--no-start"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        assert create.returncode == 0, create.stderr
        container = docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={project}")
        requests = docker(
            "inspect", "-f", "{{json .HostConfig.DeviceRequests}}", container.split()[0]
        )
        assert '"Driver":"nvidia"' in requests and '"Count":-1' in requests, requests
        assert '"gpu"' in requests, requests
    finally:
        subprocess.run(
            ["docker", "compose", "-p", project, "down", "-v"],
            cwd=tmp_path,
            capture_output=True,
            check=False,
            timeout=120,
        )
