"""A *release* build of DevPod: its agent is downloaded inside the workspace, not streamed.

A release build (``devpod version`` is not ``v0.0.0``) injects its agent by running ``curl``
in the workspace against ``AGENT_URL`` (GitHub's releases by default), and does not fall back
to streaming the binary through ``command`` when that fails. No network is reachable here, so
the workspace gets a local mirror: the context option ``AGENT_URL`` is a ``file://`` URL, and
the release binary is copied into the workspace container at that path. Proves, with the real
CLI: no mirror → the injection's download fails, with no fallback to streaming; mirror in
place → ``machine ssh``, ``up`` and ``ssh`` work, and the agent in the workspace is the release
build itself.

Runs when ``DEVPOD_RELEASE_CLI`` names a release build (built from loft-sh/devpod v0.6.15
outside this repository), else skips with one line.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from .conftest import DevPodCLI, is_devpod_teardown_race

RELEASE_ENV = "DEVPOD_RELEASE_CLI"
MACHINE = "relm"
WORKSPACE = "relws"
MIRROR = "/var/lib/devpod-agent-mirror"
NO_AGENT = "failed to download devpod"  # the inject script's words when AGENT_URL fails

pytestmark = [pytest.mark.docker, pytest.mark.devpod, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def devpod_binary() -> str:
    """Overrides the conftest's CLI for this module: the release build."""
    binary = os.environ.get(RELEASE_ENV, "")
    if not binary or not os.access(binary, os.X_OK):
        pytest.skip(f"no DevPod release build: set {RELEASE_ENV}=/path/to/devpod (v0.6.15)")
    version = subprocess.run(
        [binary, "version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout.strip()
    if version in {"", "v0.0.0"}:
        pytest.skip(f"{RELEASE_ENV}={binary} is a development build ({version or 'no version'})")
    return binary


def _output_until(cli: DevPodCLI, args: tuple[str, ...], needle: str, timeout: float) -> str:
    """Run ``devpod *args`` until its stderr shows ``needle`` (or ``timeout`` passes), then end
    it and everything it started (its own session); what it printed so far."""
    proc = subprocess.Popen(
        [cli.binary, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=cli.env,
        cwd=cli.root,
        start_new_session=True,
    )
    assert proc.stderr is not None
    stderr = proc.stderr
    lines: queue.Queue[bytes] = queue.Queue()

    def read_lines() -> None:
        for line in stderr:
            lines.put(line)

    threading.Thread(target=read_lines, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not (seen and needle in seen[-1]):
            try:
                seen.append(lines.get(timeout=1).decode(errors="replace"))
            except queue.Empty:
                if proc.poll() is not None:
                    break
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    return "".join(seen)


def _container(cli: DevPodCLI, machine: str) -> str:
    state = Path(cli.env["DEVPOD_HOME"]) / "contexts" / "default" / "machines" / machine
    app_name = json.loads((state / "dokploy-machine.json").read_text())["app_name"]
    (container,) = subprocess.run(
        ["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={app_name}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return container


def test_a_release_build_downloads_its_agent_from_agent_url(
    devpod: DevPodCLI, devpod_binary: str, dev_image: str
) -> None:
    cli = devpod
    cli("context", "set-options", "-o", f"AGENT_URL=file://{MIRROR}", timeout=60)
    cli("machine", "create", MACHINE, "--provider", "dokploy", timeout=300)

    # Without the mirror the inject script's download fails, and DevPod retries it (no
    # streaming fallback) for its 5-minute injection timeout: watch for the failure, then stop.
    missing = _output_until(
        cli, ("machine", "ssh", MACHINE, "--debug", "--command", "true"), NO_AGENT, timeout=150
    )
    assert NO_AGENT in missing, missing[-3000:]

    container = _container(cli, MACHINE)
    subprocess.run(["docker", "exec", container, "mkdir", "-p", MIRROR], check=True)
    subprocess.run(
        ["docker", "cp", devpod_binary, f"{container}:{MIRROR}/devpod-linux-amd64"],
        check=True,
        timeout=120,
    )

    saved = subprocess.run(
        ["docker", "save", dev_image], capture_output=True, check=True, timeout=300
    ).stdout
    loaded = cli("machine", "ssh", MACHINE, "--command", "docker load", stdin=saved, timeout=300)
    assert f"Loaded image: {dev_image}" in loaded.text
    agent = cli(
        "machine", "ssh", MACHINE, "--command", "/var/lib/devpod/devpod version", timeout=120
    ).stdout.strip()
    assert agent == cli.version  # the mirror's binary, i.e. the release build itself

    folder = cli.root / "release-project"
    (folder / ".devcontainer").mkdir(parents=True)
    (folder / ".devcontainer" / "devcontainer.json").write_text(json.dumps({"image": dev_image}))
    args = (
        "up",
        str(folder),
        "--provider",
        "dokploy",
        "--machine",
        MACHINE,
        "--ide",
        "none",
        "--id",
        WORKSPACE,
    )
    first = cli(*args, check=False)
    if first.returncode != 0:
        assert is_devpod_teardown_race(first.text), first.tail()
        cli(*args)  # DevPod's own teardown race (conftest): rerun once, as a user would
    assert cli("ssh", WORKSPACE, "--command", "echo release", timeout=120).stdout == "release\n"
    cli("delete", WORKSPACE, "--force", timeout=300)
