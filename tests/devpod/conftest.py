"""A real DevPod CLI against the emulator in real-Docker mode.

The CLI comes from ``DEVPOD_CLI`` or ``devpod`` on PATH (this repository never builds or ships
one); without it, or without a Docker engine, every test here is skipped with one line. DevPod
runs fully isolated: its own ``DEVPOD_HOME``, ``HOME`` and ``TMPDIR``, telemetry off, and the
provider's console script first on PATH, exactly as a user's ``devpod provider add`` would use it.

No registry is reachable here, so the dev container's base image is a local stand-in, loaded
into the workspace's inner engine over the provider's tunnel before the first ``devpod up``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from docker.conftest import STANDIN_TOOL, docker_engine  # noqa: F401 - re-exported fixture
from e2e.conftest import start_emulator, stop_emulator
from support.ports import free_port_block

from dokploy_emulator.process import EmulatorProcess

ROOT = Path(__file__).resolve().parents[2]
CLI_ENV = "DEVPOD_CLI"
#: The dev container's image: a registry-free Debian stand-in, built once per engine.
DEV_IMAGE = "devpod-test/base:bookworm"
#: Every DevPod call gets an outer bound: v0.6.15 can hang in its SSH handshake after a
#: failed injection (devpod-observed.md).
DEFAULT_TIMEOUT = 600.0
ANSI = re.compile(r"\x1b\[[0-9;]*m")

#: DevPod v0.6.15's own teardown race (README, "run agent command: EOF"): its local gRPC
#: tunnel server writes to a stdio SSH session whose remote command has just exited, and
#: x/crypto/ssh's ``Session.Wait`` returns that write's ``io.EOF`` although the command
#: exited 0. Both ends are DevPod's (the CLI and the agent over our tunnel, or the agent and
#: the dev container over ``docker exec`` inside the workspace), so no provider change can
#: close it; a user reruns ``devpod up``, and so does this test, once, counting each one.
DEVPOD_TEARDOWN_RACE = re.compile(r"(?m)(fatal|info) +(devcontainer up: )?run agent command: EOF$")


def is_devpod_teardown_race(output: str) -> bool:
    """Whether a failed ``devpod up`` ended with DevPod's own session-teardown EOF."""
    return "Setup container..." in output and bool(DEVPOD_TEARDOWN_RACE.search(output))


def find_cli() -> str | None:
    """The DevPod CLI to test: ``$DEVPOD_CLI``, else ``devpod`` on PATH."""
    explicit = os.environ.get(CLI_ENV)
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    return shutil.which("devpod")


@dataclass
class Run:
    """One finished DevPod call."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def text(self) -> str:
        return ANSI.sub("", self.stdout + self.stderr)

    def tail(self, lines: int = 25) -> str:
        return "\n".join(self.text.splitlines()[-lines:])


@dataclass
class DevPodCLI:
    """The real CLI in an isolated home, with this run's provider options."""

    binary: str
    root: Path
    emulator: EmulatorProcess
    env: dict[str, str]
    version: str = ""
    runs: list[Run] = field(default_factory=list)

    def __call__(
        self,
        *args: str,
        timeout: float = DEFAULT_TIMEOUT,
        stdin: bytes | None = None,
        check: bool = True,
    ) -> Run:
        started = time.monotonic()
        try:
            proc = subprocess.run(
                [self.binary, *args],
                input=stdin,
                capture_output=True,
                env=self.env,
                cwd=self.root,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            out = (exc.stdout or b"").decode(errors="replace")
            err = (exc.stderr or b"").decode(errors="replace")
            tail = "\n".join(ANSI.sub("", out + err).splitlines()[-25:])
            raise AssertionError(
                f"devpod {' '.join(args)} hung for {timeout:.0f}s:\n{tail}"
            ) from exc
        run = Run(
            list(args),
            proc.returncode,
            proc.stdout.decode(errors="replace"),
            proc.stderr.decode(errors="replace"),
            time.monotonic() - started,
        )
        self.runs.append(run)
        if check and run.returncode != 0:
            raise AssertionError(f"devpod {' '.join(args)} exited {run.returncode}:\n{run.tail()}")
        return run

    def machine_status(self, machine: str) -> str:
        """The machine's state as the provider's ``status`` reports it (through DevPod)."""
        run = self("machine", "status", machine, "--output", "json", timeout=60)
        match = re.search(r'"state"\s*:\s*"([A-Za-z]+)"', run.stdout)
        assert match, run.text
        return match.group(1)

    def wait_machine_status(self, machine: str, wanted: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        seen = self.machine_status(machine)
        while seen != wanted and time.monotonic() < deadline:
            time.sleep(2)
            seen = self.machine_status(machine)
        return seen

    def machines(self) -> list[str]:
        folder = Path(self.env["DEVPOD_HOME"]) / "contexts" / "default" / "machines"
        return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def _image_exists(name: str) -> bool:
    proc = subprocess.run(["docker", "image", "inspect", name], capture_output=True, check=False)
    return proc.returncode == 0


@pytest.fixture(scope="session")
def devpod_binary() -> str:
    """The CLI, or a skip with one line saying how to provide one."""
    binary = find_cli()
    if binary is None:
        pytest.skip(
            f"no DevPod CLI: set {CLI_ENV}=/path/to/devpod or put devpod on PATH "
            "(build it from loft-sh/devpod v0.6.15 outside this repository)"
        )
    return binary


@pytest.fixture(scope="session")
def dev_image(docker_engine: str) -> str:  # noqa: F811 - the fixture imported above
    """The dev container's base image on the host engine (built once, cached)."""
    if not _image_exists(DEV_IMAGE):
        subprocess.run(
            [str(STANDIN_TOOL), DEV_IMAGE], check=True, stdout=subprocess.DEVNULL, timeout=900
        )
    return DEV_IMAGE


def isolated_env(root: Path) -> dict[str, str]:
    """DevPod's environment: its own home, HOME and TMPDIR; our console script on PATH."""
    for name in ("devpod-home", "home", "tmp"):
        (root / name).mkdir(parents=True, exist_ok=True)
    keep = ("DOCKER_HOST", "LANG", "LC_ALL", "SSL_CERT_FILE")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env.update(
        PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        DEVPOD_HOME=str(root / "devpod-home"),
        HOME=str(root / "home"),
        TMPDIR=str(root / "tmp"),
        DEVPOD_DISABLE_TELEMETRY="true",
    )
    return env


@pytest.fixture(scope="module")
def devpod(
    request: pytest.FixtureRequest,
    devpod_binary: str,
    docker_engine: str,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[DevPodCLI]:
    """``devpod provider add`` of this repository's provider.yaml, options set, emulator running."""
    root = tmp_path_factory.mktemp("devpod")
    emu = start_emulator(root, "v0.30.2", runtime="docker")
    cli = DevPodCLI(devpod_binary, root, emu, isolated_env(root))
    cli.version = cli("version", timeout=30).stdout.strip()
    marker = request.node.get_closest_marker("provider_options")
    extra_options = [arg for opt in (marker.args if marker else ()) for arg in ("-o", opt)]
    base = free_port_block(10)
    try:
        cli(
            "provider",
            "add",
            str(ROOT / "provider.yaml"),
            "-o",
            f"DOKPLOY_SERVER_URL={emu.url}",
            "-o",
            f"DOKPLOY_API_TOKEN={emu.token}",
            "-o",
            f"DOKPLOY_SSH_PORT_RANGE={base}-{base + 9}",
            "-o",
            f"WORKSPACE_IMAGE={docker_engine}",
            "-o",
            "DOKPLOY_READY_TIMEOUT=90s",
            *extra_options,
            timeout=120,
        )
        yield cli
    finally:
        for machine in cli.machines():
            cli("machine", "delete", machine, "--force", timeout=180, check=False)
        stop_emulator(emu)
