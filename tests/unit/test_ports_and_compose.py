"""Port allocation from compose files, and the workspace compose file itself."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from dokploy_provider import compose, marker
from dokploy_provider.errors import PortRangeExhausted
from dokploy_provider.options import PortRange, load_settings
from dokploy_provider.ports import candidate_ports, choose_port, preferred_start, published_ports

ROOT = Path(__file__).resolve().parents[2]
BASE = {"DOKPLOY_SERVER_URL": "http://203.0.113.10:3000", "DOKPLOY_API_TOKEN": "tok-secret-123"}


def test_published_ports_reads_every_syntax() -> None:
    text = """
services:
  a:
    ports: ["2222:22", "127.0.0.1:2223:22/tcp", 8080, "3000-3002:3000-3002"]
  b:
    ports:
      - target: 22
        published: 2224
      - target: 80
        published: "2225"
  c: {}
"""
    assert published_ports(text) == {2222, 2223, 2224, 2225, 3000, 3001, 3002}


@pytest.mark.parametrize("text", [None, "", ":\n: bad yaml [", "just a string", "services: []"])
def test_published_ports_tolerates_odd_files(text: str | None) -> None:
    assert published_ports(text) == set()


def test_choose_port_skips_taken_and_wraps() -> None:
    rng = PortRange(2222, 2225)
    start = preferred_start("ws1", rng)
    assert choose_port(rng, set(), machine_id="ws1", server_label="x") == start
    taken = {p for p in range(2222, 2226) if p != 2222}
    assert choose_port(rng, taken, machine_id="ws1", server_label="x") == 2222


def test_candidate_ports_walk_the_range_once_from_the_preferred_port() -> None:
    rng = PortRange(2222, 2226)
    walk = list(candidate_ports("ws1", rng))
    start = preferred_start("ws1", rng)
    assert walk[0] == start
    assert sorted(walk) == list(range(2222, 2227))
    assert walk == list(range(start, 2227)) + list(range(2222, start))


def test_full_range_is_a_clear_error() -> None:
    rng = PortRange(2222, 2223)
    with pytest.raises(PortRangeExhausted) as info:
        choose_port(rng, {2222, 2223}, machine_id="ws", server_label="server s1")
    assert "2222-2223" in str(info.value)
    assert "DOKPLOY_SSH_PORT_RANGE" in str(info.value)


def test_preferred_start_spreads_machines() -> None:
    rng = PortRange(2222, 2250)
    starts = {preferred_start(f"ws-{i}", rng) for i in range(20)}
    assert len(starts) > 8


def _render(**env: str) -> dict:
    settings = load_settings({**BASE, **env})
    text = compose.render(
        settings,
        compose.WorkspaceSpec("ws1", 2230, "ssh-ed25519 AAAAC3Nza key", "SE9TVEtFWQ=="),
    )
    return yaml.safe_load(text)


def test_compose_file_shape() -> None:
    doc = _render()
    service = doc["services"]["workspace"]
    assert service["privileged"] is True
    assert service["ports"] == ["2230:22"]
    assert "container_name" not in service
    assert "networks" not in service
    assert all(not v.startswith(".") for v in service["volumes"])
    assert set(doc["volumes"]) == {"docker-data", "devpod-data"}
    assert service["environment"]["DEVPOD_SSH_HOST_KEY"] == "SE9TVEtFWQ=="
    assert service["environment"]["DEVPOD_SSH_AUTHORIZED_KEY"].startswith("ssh-ed25519 ")
    assert "FROM cruizba/ubuntu-dind:noble-27.0.3-r0" in service["build"]["dockerfile_inline"]
    assert service["image"].startswith("dokploy-provider-workspace:")
    # compose would interpolate a single `$`; the script must carry only doubled ones
    script = service["entrypoint"][2]
    assert "$$DEVPOD_SSH_AUTHORIZED_KEY" in script
    assert "PasswordAuthentication no" in script
    assert published_ports(yaml.safe_dump(doc)) == {2230}


def test_image_tag_follows_the_recipe() -> None:
    one = _render()["services"]["workspace"]["image"]
    same = _render()["services"]["workspace"]["image"]
    other = _render(WORKSPACE_IMAGE="debian:12")["services"]["workspace"]["image"]
    assert one == same != other


def test_sizes_map_to_compose_keys() -> None:
    service = _render(WORKSPACE_CPUS="1.5", WORKSPACE_MEMORY="2g", WORKSPACE_GPU="all")["services"][
        "workspace"
    ]
    assert service["cpus"] == 1.5
    assert service["mem_limit"] == 2 * 1024**3
    device = service["deploy"]["resources"]["reservations"]["devices"][0]
    assert device == {"driver": "nvidia", "capabilities": ["gpu"], "count": "all"}
    counted = _render(WORKSPACE_GPU="2")["services"]["workspace"]
    assert counted["deploy"]["resources"]["reservations"]["devices"][0]["count"] == 2


def test_marker_round_trip_and_masking() -> None:
    desc = compose.description("ws-1", "a1b2c3")
    assert marker.owner_of(desc) == "ws-1"
    assert marker.parse_marker(desc) == marker.Marker("ws-1", "a1b2c3")
    assert marker.parse_marker("x [dokploy-provider machine=old]") == marker.Marker("old", None)
    assert marker.owner_of("someone else's compose") is None
    assert marker.owner_of(None) is None
    settings = load_settings(BASE)
    text = compose.render(
        settings, compose.WorkspaceSpec("ws1", 2230, "ssh-ed25519 K", "SECRETB64")
    )
    assert "DEVPOD_SSH_HOST_KEY: SECRETB64" in text
    masked = compose.render(
        settings, compose.WorkspaceSpec("ws1", 2230, "ssh-ed25519 K", compose.MASKED)
    )
    assert "SECRETB64" not in masked
    assert "DEVPOD_SSH_HOST_KEY: '***'" in masked


def test_container_life_matches_auto_stop() -> None:
    service = _render(AGENT_PATH="/var/lib/devpod/bin/devpod")["services"]["workspace"]
    # `kill 1` (auto-stop) and compose.stop end in exit 0: on-failure must not restart those,
    # and unless-stopped/always would undo the auto-stop.
    assert service["restart"] == "on-failure:3"
    assert service["init"] is True
    assert service["stop_grace_period"] == compose.STOP_GRACE_PERIOD
    # DevPod's agent owns its daemon; the compose names no agent binary or subcommand
    assert "DEVPOD_AGENT_PATH" not in service["environment"]
    provider = yaml.safe_load((ROOT / "provider.yaml").read_text())
    assert provider["agent"]["exec"]["shutdown"] == compose.SHUTDOWN_COMMAND
    assert provider["agent"]["dataPath"] == compose.AGENT_DATA_DIR
    assert provider["agent"]["dataPath"].startswith(compose.DEVPOD_DATA_DIR + "/")
    assert provider["agent"]["local"] == "false"  # else the agent rewrites daemon.json


def test_boot_script_is_posix_and_self_sufficient(tmp_path: Path) -> None:
    script = compose.boot_script()
    path = tmp_path / "boot.sh"
    path.write_text(script)
    assert subprocess.run(["sh", "-n", str(path)], check=False).returncode == 0
    # it starts dockerd itself rather than relying on one image's helper scripts
    assert "start-docker.sh" not in script and "entrypoint.sh" not in script
    assert "\ndockerd " in script
    assert "apt-get" not in script  # nothing is installed at boot
    assert "trap stop_workspace TERM INT" in script
    stop = script.split("stop_workspace() {", 1)[1].split("\n}", 1)[0]
    assert stop.rstrip().endswith("exit 0")
    # the daemon is the agent's: no subcommand name of any DevPod generation is assumed
    assert "agent daemon" not in script
    assert "> /tmp/daemon.pid" not in script and "> /var/run/devpod.pid" not in script
    assert "for name in devpod devsy; do" in script


#: What DevPod's SysV service script (takama/daemon's template, as DevPod v0.6.15 installs it
#: for its inactivity daemon) does, reduced to the parts that decide "running or not".
SYSV_SERVICE = """#! /bin/sh
if [ -f /etc/rc.d/init.d/functions ]; then . /etc/rc.d/init.d/functions; fi
exec="$ROOT/daemon"
pidfile="$ROOT/devpod.pid"
start() {
    if [ -f $pidfile ]; then
        if ! [ -d "/proc/$(cat $pidfile)" ]; then rm $pidfile; fi
    fi
    if ! [ -f $pidfile ]; then
        $exec >> "$ROOT/log" 2>&1 &
        echo $! > $pidfile
        success
        echo
    else
        printf "$pidfile still exists...\\n"
        exit 7
    fi
}
rh_status() { status -p $pidfile devpod; }
case "$1" in
    start) rh_status >/dev/null 2>&1 && exit 0; start ;;
    status) rh_status ;;
esac
exit $?
"""


@pytest.mark.parametrize("with_functions", [True, False])
def test_init_functions_keep_the_agent_to_one_daemon(tmp_path: Path, with_functions: bool) -> None:
    shell = shutil.which("dash") or "sh"
    functions = tmp_path / "functions"
    functions.write_text(compose.INIT_FUNCTIONS)
    service = SYSV_SERVICE.replace("/etc/rc.d/init.d/functions", str(functions))
    if not with_functions:
        service = service.replace(str(functions), str(tmp_path / "absent"))
    (tmp_path / "service").write_text(service)
    (tmp_path / "daemon").write_text("#!/bin/sh\nexec sleep 30\n")
    (tmp_path / "daemon").chmod(0o755)
    env = {"ROOT": str(tmp_path), "PATH": "/usr/bin:/bin"}

    def service_call(verb: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [shell, str(tmp_path / "service"), verb],
            env=env,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )

    pids: list[str] = []
    try:
        assert service_call("start").returncode == 0
        pids.append((tmp_path / "devpod.pid").read_text().strip())
        # the agent's check (takama/daemon checkRunning): `service devpod status` output
        # naming the service, then ErrAlreadyRunning; anything else means "start it again"
        checked = service_call("status")
        again = service_call("start")
        pids.append((tmp_path / "devpod.pid").read_text().strip())
        if with_functions:
            assert checked.returncode == 0
            assert re.search(r"devpod \(pid  \d+\) is running", checked.stdout)
            assert again.returncode == 0 and pids[0] == pids[1]
        else:
            # Debian/Ubuntu without the shim: what DevPod logs as "exit status 7", after
            # which the agent starts a second daemon of its own
            assert checked.returncode != 0
            assert again.returncode == 7
    finally:
        for pid in set(pids):
            subprocess.run(["kill", pid], check=False)


@pytest.mark.parametrize(
    ("ports_yaml", "expected"),
    [
        ("- 2222:22", {2222}),  # YAML 1.1 would read the base-60 integer 133342
        ("- 2223:22/tcp", {2223}),
        ("- 127.0.0.1:2224:22", {2224}),
        ('- "[::1]:2225:22"', {2225}),
        ("- 2226-2228:22-24", {2226, 2227, 2228}),
        ("- 22", set()),
        ("- 2229", set()),  # a container port: Docker picks the host port
        ('- "${SSH_PORT:-2230}:22"', {2230}),
        ("- ${SSH_PORT-2231}:22", {2231}),
        ("- target: 22\n  published: 2232\n  host_ip: 0.0.0.0", {2232}),
        ('- target: 22\n  published: "2233-2234"', {2233, 2234}),
        ("- target: 22", set()),
    ],
)
def test_published_ports_read_as_compose_reads_them(ports_yaml: str, expected: set[int]) -> None:
    body = "\n".join("      " + line for line in ports_yaml.splitlines())
    text = f"services:\n  app:\n    image: x\n    ports:\n{body}\n"
    assert published_ports(text) == expected


def test_published_ports_use_the_composes_variables() -> None:
    text = "services:\n  app:\n    ports:\n      - ${SSH_PORT:-2222}:22\n"
    assert published_ports(text, {"SSH_PORT": "2300"}) == {2300}


def test_compose_variables_read_the_env_lines() -> None:
    from dokploy_provider.ports import compose_variables

    assert compose_variables("# c\nSSH_PORT=2300\nexport NAME='x'\nBAD\n") == {
        "SSH_PORT": "2300",
        "NAME": "x",
    }
    assert compose_variables(None) == {}


@pytest.mark.parametrize("machine_id", ["warm", "swarm-1", "my-farm", "aarch-box", "ARMADA"])
def test_hostname_never_spells_arm_for_devpods_architecture_check(machine_id: str) -> None:
    from dokploy_provider.compose import container_hostname

    # DevPod's inject script: `case "$(uname -a)" in *arm*|*aarch*) ARM`; uname -a has the host name
    name = container_hostname(machine_id)
    assert "arm" not in name.lower() and "aarch" not in name.lower()
    assert name.startswith("devpod-") and len(name) <= 63
    assert container_hostname(machine_id) == name  # stable across renders


def test_hostname_names_the_machine_when_it_can() -> None:
    from dokploy_provider.compose import container_hostname

    assert container_hostname("ws1") == "devpod-ws1"
