"""The provider as a user meets it: a real DevPod CLI, ``devpod up`` to ``devpod delete``.

One workspace goes through its whole life, in order, the tests sharing it (module fixture):
provider add with options → ``devpod up`` (which creates the machine) → ``devpod ssh`` →
ten stop → Stopped → up → ssh cycles → idle until DevPod's own inactivity daemon stops the
machine → ``devpod up`` brings it back with its data → delete leaves nothing behind.
"""

from __future__ import annotations

import json
import subprocess
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .conftest import DevPodCLI, is_devpod_teardown_race

WORKSPACE = "dpws"
DATA = "kept across stops\n"
CYCLES = 10
#: DevPod freezes a machine's options when it creates it (``machine.json``), so the machine is
#: made with this timeout: short enough for a test, long enough that the cycles' own
#: ``up``/``ssh`` calls keep it active.
INACTIVITY_TIMEOUT = "45s"
INACTIVITY_SECONDS = 45

pytestmark = [
    pytest.mark.docker,
    pytest.mark.devpod,
    pytest.mark.timeout(900),
    pytest.mark.provider_options(f"INACTIVITY_TIMEOUT={INACTIVITY_TIMEOUT}"),
]
#: DevPod's hidden test flag: how often its daemon looks for inactivity (60 s otherwise).
DAEMON_INTERVAL = "5s"
#: Lines DevPod prints when its daemon install and ours fight over the pid files.
DAEMON_RACE_SIGNS = ("Error starting service", "Install DevPod Daemon", "still exists")


@dataclass
class Workspace:
    cli: DevPodCLI
    folder: Path
    machine: str = ""
    teardown_races: list[str] = field(default_factory=list)

    def up(self, *extra: str) -> str:
        args = ("up", WORKSPACE, "--ide", "none", "--daemon-interval", DAEMON_INTERVAL, *extra)
        first = self.cli(*args, check=False)
        if first.returncode == 0:
            return first.text
        assert is_devpod_teardown_race(first.text), (
            f"devpod up exited {first.returncode}:\n{first.tail()}"
        )
        self.teardown_races.append(first.tail(4))
        warnings.warn(
            f"DevPod's teardown race ended an up (rerun once):\n{first.tail(4)}", stacklevel=2
        )
        return self.cli(*args).text

    def ssh(self, command: str) -> str:
        return self.cli("ssh", WORKSPACE, "--command", command, timeout=120).stdout


@pytest.fixture(scope="module")
def workspace(devpod: DevPodCLI, dev_image: str) -> Iterator[Workspace]:
    folder = devpod.root / "project"
    (folder / ".devcontainer").mkdir(parents=True)
    (folder / ".devcontainer" / "devcontainer.json").write_text(json.dumps({"image": dev_image}))
    (folder / "data.txt").write_text(DATA)
    yield Workspace(devpod, folder)


def _load_image(ws: Workspace, image: str) -> None:
    """No registry here: copy the dev container's image into the workspace's inner engine."""
    saved = subprocess.run(
        ["docker", "save", image], capture_output=True, check=True, timeout=300
    ).stdout
    out = ws.cli(
        "machine", "ssh", ws.machine, "--command", "docker load", stdin=saved, timeout=300
    ).text
    assert f"Loaded image: {image}" in out


@pytest.mark.parametrize(
    ("tail", "is_race"),
    [
        # the CLI's session to the agent (over the provider's tunnel), seen here
        (
            "info Setup container...\nerror Error configuring git credentials: git not found\n"
            "fatal run agent command: EOF",
            True,
        ),
        # the agent's session to the dev container (docker exec in the workspace): the issue's
        (
            "info Setup container...\ninfo devcontainer up: run agent command: EOF\n"
            "fatal run agent command: Process exited with status 1",
            True,
        ),
        # a tunnel that died, an injection failure, a failure before the setup: not the race
        (
            "info Setup container...\nfatal run agent command: wait: remote command exited "
            "without exit status or exit signal",
            False,
        ),
        ("info Creating devcontainer...\nfatal executing agent command: EOF", False),
        ("fatal run agent command: EOF", False),
    ],
)
def test_only_devpods_teardown_race_is_rerun(tail: str, is_race: bool) -> None:
    assert is_devpod_teardown_race(tail) is is_race


def test_doctor_with_nothing_exported_uses_devpods_stored_options(devpod: DevPodCLI) -> None:
    # after `devpod provider add -o …`, a person runs doctor in a plain shell
    env = {k: v for k, v in devpod.env.items() if k in {"PATH", "HOME", "DEVPOD_HOME", "TMPDIR"}}
    proc = subprocess.run(
        ["dokploy-provider", "doctor", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    config = Path(devpod.env["DEVPOD_HOME"]) / "config.yaml"
    assert f"stored in {config}" in proc.stderr, proc.stderr
    assert devpod.emulator.url in proc.stdout + proc.stderr  # it checked our server
    assert devpod.emulator.token not in proc.stdout + proc.stderr
    rows = json.loads(proc.stdout)
    assert any("v0.30.2" in json.dumps(row) for row in rows), rows


def test_up_creates_the_machine_and_the_workspace(workspace: Workspace, dev_image: str) -> None:
    cli = workspace.cli
    first = cli(
        "up",
        str(workspace.folder),
        "--provider",
        "dokploy",
        "--ide",
        "none",
        "--id",
        WORKSPACE,
        "--daemon-interval",
        DAEMON_INTERVAL,
        check=False,
    )
    (workspace.machine,) = cli.machines()  # DevPod named it <workspace>-<5 hex>
    assert workspace.machine.startswith(f"{WORKSPACE}-")
    assert cli.machine_status(workspace.machine) == "Running"
    if first.returncode != 0:
        # the inner engine could not pull the dev image (no registry): load it, up again
        assert dev_image in first.text, first.tail()
        _load_image(workspace, dev_image)
        workspace.up()
    assert workspace.ssh(f"cat /workspaces/{WORKSPACE}/data.txt") == DATA


@pytest.mark.parametrize("cycle", range(1, CYCLES + 1))
def test_stop_then_up_brings_the_workspace_back(workspace: Workspace, cycle: int) -> None:
    cli = workspace.cli
    cli("stop", WORKSPACE)
    assert cli.machine_status(workspace.machine) == "Stopped"
    out = workspace.up()
    for sign in DAEMON_RACE_SIGNS:
        assert sign not in out, out
    assert cli.machine_status(workspace.machine) == "Running"
    seen = workspace.ssh(f"echo {cycle} >> /root/cycles && cat /workspaces/{WORKSPACE}/data.txt")
    assert seen == DATA


def test_one_inactivity_daemon_runs_and_it_is_devpods(workspace: Workspace) -> None:
    # DevPod's agent owns the daemon (its SysV service, started by `up` or by the boot script
    # after a restart); nothing else starts a second one.
    out = workspace.cli(
        "machine",
        "ssh",
        workspace.machine,
        "--command",
        "ps -eo args | grep -c '[a]gent daemon'; cat /etc/init.d/devpod",
        timeout=120,
    ).stdout
    count, _, service = out.partition("\n")
    assert count.strip() == "1", out
    assert f"--interval {DAEMON_INTERVAL}" in service


def test_devpods_daemon_stops_an_idle_machine(workspace: Workspace) -> None:
    cli = workspace.cli
    workspace.up()
    idle_since = time.monotonic()
    # no activity from here on: only the provider's status, which never touches the machine
    seen = cli.wait_machine_status(workspace.machine, "Stopped", timeout=240)
    idle = time.monotonic() - idle_since
    assert seen == "Stopped", f"still {seen} {idle:.0f}s after the last up"
    assert idle >= INACTIVITY_SECONDS - 5  # stopped by the timeout, not by something else


def test_up_after_auto_stop_keeps_the_data(workspace: Workspace) -> None:
    cli = workspace.cli
    workspace.up()
    assert cli.machine_status(workspace.machine) == "Running"
    seen = workspace.ssh(f"cat /workspaces/{WORKSPACE}/data.txt /root/cycles | wc -l")
    assert seen.strip() == str(1 + CYCLES)


def test_delete_leaves_nothing(workspace: Workspace) -> None:
    cli = workspace.cli
    app_name = json.loads(
        (
            Path(cli.env["DEVPOD_HOME"])
            / "contexts"
            / "default"
            / "machines"
            / workspace.machine
            / "dokploy-machine.json"
        ).read_text()
    )["app_name"]
    cli("delete", WORKSPACE, "--force", timeout=300)
    assert cli.machines() == []
    assert cli.emulator.admin("state")["composes"] == []
    label = f"label=com.docker.compose.project={app_name}"
    left = subprocess.run(
        ["docker", "ps", "-aq", "--filter", label], capture_output=True, text=True, check=True
    ).stdout.split()
    assert left == []
    volumes = subprocess.run(
        ["docker", "volume", "ls", "-q", "--filter", label],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert volumes == []


def test_a_machine_whose_name_spells_arm_gets_the_amd64_agent(devpod: DevPodCLI) -> None:
    # DevPod's inject script takes `uname -a` matching *arm* for ARM, host name included: a
    # container called devpod-warm got the arm64 agent, which a dev build cannot stream, and
    # `machine ssh` retried for ever ("Waiting for devpod agent to come up...")
    devpod("machine", "create", "warm", "--provider", "dokploy", timeout=300)
    try:
        out = devpod(
            "machine", "ssh", "warm", "--command", "uname -m; hostname", timeout=120
        ).stdout
        arch, hostname = out.split()
        assert arch == "x86_64" or arch == "aarch64"
        assert "arm" not in hostname
    finally:
        devpod("machine", "delete", "warm", "--force", timeout=180)
