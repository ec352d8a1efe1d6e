"""Fixtures for the SSH tunnel: a machine folder with real keys and a real sshd workspace."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import paramiko
import pytest
from support.ports import start_on_free_port

from dokploy_emulator.sshd import SshdProcess, find_sshd
from dokploy_provider import paramiko_fast, pump, ssh
from dokploy_provider.keys import MachineKeys, ensure_machine_keys
from dokploy_provider.state import MachineFolder, MachineState

FAKE_TOKEN = "dkp_FAKE-token-4f1e9c2b7a6d5e3f"
MACHINE_ID = "tunnel-test"

#: The tests of the private-internals fast paths themselves (the rest run on both paths).
needs_fast_path = pytest.mark.skipif(
    not paramiko_fast.fast_path_allowed(),
    reason="fast path off (DOKPLOY_PROVIDER_SSH_FAST_PATH=0 or an untested Paramiko): "
    "only the public-API path runs",
)


def pytest_report_header() -> str:
    """Which Paramiko the tunnel runs on, and which path (CI runs several of each)."""
    path = "fast path" if paramiko_fast.fast_path_allowed() else "public API only"
    return f"paramiko {paramiko.__version__}: {path}"


def provider_executable() -> str:
    """The real console script installed in the venv (next to this interpreter)."""
    candidate = Path(sys.executable).parent / "dokploy-provider"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("dokploy-provider")
    assert found, "dokploy-provider console script not installed (pip install -e .)"
    return found


@dataclass
class Workspace:
    """A machine folder whose state points at a running sshd."""

    tmp: Path
    folder: MachineFolder
    keys: MachineKeys
    sshd: SshdProcess
    state: MachineState

    def env(self, command: str, **extra: str) -> dict[str, str]:
        """The environment DevPod gives `command` (v0.6.15, a machine provider)."""
        home = self.tmp / "devpod-home"
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.tmp),
            "LANG": "C.UTF-8",
            "DEVPOD": "/usr/local/bin/devpod",
            "DEVPOD_OS": "linux",
            "DEVPOD_ARCH": "amd64",
            "DEVPOD_LOG_LEVEL": "info",
            "MACHINE_ID": MACHINE_ID,
            "MACHINE_CONTEXT": "default",
            "MACHINE_FOLDER": str(self.folder.path),
            "MACHINE_PROVIDER": "dokploy",
            "PROVIDER_ID": "dokploy",
            "PROVIDER_CONTEXT": "default",
            "PROVIDER_FOLDER": str(home / "contexts/default/providers/dokploy"),
            "DOKPLOY_SERVER_URL": "http://127.0.0.1:1",
            "DOKPLOY_API_TOKEN": FAKE_TOKEN,
            "AGENT_PATH": "/var/lib/toolbox/devpod",
            "INACTIVITY_TIMEOUT": "10m",
            "COMMAND": command,
        }
        env.update(extra)
        return env

    def run(
        self,
        command: str,
        *,
        input: bytes | None = b"",
        timeout: float = 20,
        **extra: str,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run the real `dokploy-provider command` and capture its output."""
        return subprocess.run(
            [provider_executable(), "command"],
            input=input,
            capture_output=True,
            env=self.env(command, **extra),
            timeout=timeout,
            check=False,
        )

    def popen(self, command: str, **extra: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [provider_executable(), "command"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.env(command, **extra),
        )

    def with_state(self, **changes: object) -> None:
        """Rewrite the state file with ``changes``."""
        self.state = self.state.replace(**changes)
        self.folder.save(self.state)


def make_machine(tmp: Path) -> tuple[MachineFolder, MachineKeys]:
    folder = MachineFolder(tmp / "devpod-home/contexts/default/machines" / MACHINE_ID)
    keys = ensure_machine_keys(folder, MACHINE_ID)
    return folder, keys


def start_sshd(
    tmp: Path, folder: MachineFolder, keys: MachineKeys, name: str = "sshd"
) -> SshdProcess:
    return start_on_free_port(
        tmp / name, folder.host_key_path.read_bytes(), keys.client_public_line
    )


@pytest.fixture(scope="session", autouse=True)
def _need_sshd() -> None:
    try:
        find_sshd()
    except Exception as exc:
        pytest.skip(str(exc))
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is needed to run the emulated workspace sshd")
    if os.geteuid() != 0:
        # A user namespace is not enough: sshd's privilege separation calls setgroups.
        pytest.skip("the workspace sshd needs root (own PID namespace, sessions as root)")


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    folder, keys = make_machine(tmp_path)
    sshd = start_sshd(tmp_path, folder, keys)
    state = MachineState(
        machine_id=MACHINE_ID,
        phase="ready",
        ssh_host="127.0.0.1",
        ssh_port=sshd.spec.port,
        ssh_user="root",
        host_key_public=keys.host_public_line,
        host_key_fingerprint=keys.host_fingerprint,
        client_key_fingerprint=keys.client_fingerprint,
    )
    folder.save(state)
    try:
        yield Workspace(tmp_path, folder, keys, sshd, state)
    finally:
        sshd.stop()


def run_in_process(
    workspace: Workspace,
    command: str,
    payload: bytes,
    tmp: Path,
    *,
    direct: bool = True,
    fast_send: bool = True,
    prepare: Callable[[paramiko.Transport], None] | None = None,
) -> tuple[int, bytes, bytes, ssh.Connection, paramiko.Channel]:
    """``pump.run`` on a real connection with files as stdio; returns what came back.

    ``prepare`` gets the connected transport before the session opens.
    """
    conn = ssh.connect(
        ssh.SSHTarget.of(workspace.state), workspace.folder.client_key_path, timeout=10
    )
    if prepare is not None:
        prepare(conn.transport)
    source = tmp / "in.bin"
    source.write_bytes(payload)
    out_path, err_path = tmp / "out.bin", tmp / "err.bin"
    chan = conn.open_session()
    with source.open("rb") as stdin, out_path.open("wb") as out, err_path.open("wb") as err:
        status = pump.Pump(chan, stdin, out, err, direct=direct, fast_send=fast_send)
        paramiko_fast.install_channel_handlers(conn.transport)
        status.start(command)
        code = status.wait()
    return code, out_path.read_bytes(), err_path.read_bytes(), conn, chan
