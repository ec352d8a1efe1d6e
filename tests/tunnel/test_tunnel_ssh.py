"""connect / probe / wait_until_ready against a real sshd."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
from support.ports import free_port

from dokploy_emulator.sshd import SshdProcess, SshdSpec
from dokploy_provider import ssh, ssh_ready
from dokploy_provider.errors import HostKeyMismatch, ReadyTimeout, SSHAuthRefused, StateError
from dokploy_provider.keys import generate_keypair
from dokploy_provider.state import MachineState, write_private_file

from .conftest import Workspace, make_machine, start_sshd


def test_connect_ok_uses_gcm_and_runs_a_command(workspace: Workspace) -> None:
    conn = ssh.connect(
        ssh.SSHTarget.of(workspace.state), workspace.folder.client_key_path, timeout=5
    )
    try:
        assert conn.cipher == "aes128-gcm@openssh.com"
        assert conn.transport.is_authenticated()
        chan = conn.open_session()
        chan.exec_command("echo hello")
        assert chan.makefile("rb").read() == b"hello\n"
        assert chan.recv_exit_status() == 0
    finally:
        conn.close()


def test_probe_ok(workspace: Workspace) -> None:
    result = ssh_ready.probe(workspace.state, workspace.folder.client_key_path, 5)
    assert result.kind == ssh_ready.OK and result.ok


def test_probe_port_closed(workspace: Workspace) -> None:
    state = workspace.state.replace(ssh_port=free_port())
    result = ssh_ready.probe(state, workspace.folder.client_key_path, 2)
    assert result.kind == ssh_ready.PORT_CLOSED
    assert "refused" in result.detail and state.target in result.detail


def test_probe_no_banner(workspace: Workspace) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        port = listener.getsockname()[1]
        state = workspace.state.replace(ssh_port=port)
        started = time.monotonic()
        result = ssh_ready.probe(state, workspace.folder.client_key_path, 0.5)
        assert time.monotonic() - started < 5
    assert result.kind == ssh_ready.NO_BANNER
    assert "banner" in result.detail


def test_probe_and_connect_wrong_host_key(workspace: Workspace) -> None:
    other = generate_keypair()
    state = workspace.state.replace(
        host_key_public=other.public_line, host_key_fingerprint=other.fingerprint
    )
    result = ssh_ready.probe(state, workspace.folder.client_key_path, 5)
    assert result.kind == ssh_ready.HOST_KEY_MISMATCH
    with pytest.raises(HostKeyMismatch) as info:
        ssh.connect(ssh.SSHTarget.of(state), workspace.folder.client_key_path, timeout=5)
    err = info.value
    assert err.target == state.target and err.exit_code == 255
    assert workspace.keys.host_fingerprint in str(err)  # what was presented
    assert other.fingerprint in str(err)  # what was pinned
    assert "man-in-the-middle" in str(err)


def test_probe_and_connect_auth_refused(workspace: Workspace, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong_key"
    write_private_file(wrong, generate_keypair().private_openssh)
    result = ssh_ready.probe(workspace.state, wrong, 5)
    assert result.kind == ssh_ready.AUTH_REFUSED
    with pytest.raises(SSHAuthRefused) as info:
        ssh.connect(ssh.SSHTarget.of(workspace.state), wrong, timeout=5)
    assert info.value.target == workspace.state.target
    assert "refused" in str(info.value)


def test_wait_until_ready_times_out_with_precise_message(workspace: Workspace) -> None:
    state = workspace.state.replace(ssh_port=free_port())
    progress: list[tuple[float, str]] = []
    started = time.monotonic()
    with pytest.raises(ReadyTimeout) as info:
        ssh_ready.wait_until_ready(
            state,
            workspace.folder.client_key_path,
            timeout=1.5,
            on_progress=lambda elapsed, r: progress.append((elapsed, r.kind)),
            progress_interval=0.5,
        )
    elapsed = time.monotonic() - started
    assert 1.4 <= elapsed < 4
    message = str(info.value)
    assert state.target in message
    assert "never accepted" in message and "refused" in message
    assert progress and all(kind == ssh_ready.PORT_CLOSED for _, kind in progress)
    assert len(progress) <= 4  # throttled


def test_wait_until_ready_reports_host_key_mismatch(workspace: Workspace) -> None:
    other = generate_keypair()
    state = workspace.state.replace(
        host_key_public=other.public_line, host_key_fingerprint=other.fingerprint
    )
    with pytest.raises(ReadyTimeout, match="host key other than the pinned one"):
        ssh_ready.wait_until_ready(state, workspace.folder.client_key_path, timeout=1.0)


def test_wait_until_ready_succeeds_once_sshd_starts(tmp_path: Path) -> None:
    folder, keys = make_machine(tmp_path)
    # Learn a port from a first sshd, stop it, and start a second one on it later.
    first = start_sshd(tmp_path, folder, keys, "sshd1")
    port = first.spec.port
    first.stop()

    state = MachineState(
        machine_id="m",
        ssh_host="127.0.0.1",
        ssh_port=port,
        host_key_public=keys.host_public_line,
        host_key_fingerprint=keys.host_fingerprint,
    )
    later = SshdProcess(
        tmp_path / "sshd2",
        SshdSpec(port, folder.host_key_path.read_bytes(), keys.client_public_line),
    )
    timer = threading.Timer(0.7, later.start)
    timer.start()
    try:
        started = time.monotonic()
        ssh_ready.wait_until_ready(state, folder.client_key_path, timeout=15)
        assert time.monotonic() - started < 10
    finally:
        timer.join()
        later.stop()


def test_malformed_pin_is_a_state_error_before_any_network(workspace: Workspace) -> None:
    state = workspace.state.replace(ssh_port=free_port(), host_key_public="ssh-ed25519 !!!")
    with pytest.raises(StateError, match="pinned host key"):  # not SSHPortClosed
        ssh.connect(ssh.SSHTarget.of(state), workspace.folder.client_key_path, timeout=2)
