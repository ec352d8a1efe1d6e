"""The real `dokploy-provider command` console script against a real sshd, env as DevPod sets it."""

from __future__ import annotations

import contextlib
import hashlib
import os
import select
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from dokploy_provider.keys import generate_keypair
from dokploy_provider.state import write_private_file

from .conftest import FAKE_TOKEN, Workspace, provider_executable

MiB = 1024 * 1024


class Drain(threading.Thread):
    """Read a pipe to the end in the background, counting (and optionally keeping) bytes."""

    def __init__(self, pipe: object, keep: bool = True) -> None:
        super().__init__(daemon=True)
        self.fd = pipe.fileno()  # type: ignore[attr-defined]
        self.keep = keep
        self.chunks: list[bytes] = []
        self.count = 0
        self.sha = hashlib.sha256()
        self.start()

    def run(self) -> None:
        while True:
            data = os.read(self.fd, 1 << 20)
            if not data:
                return
            self.count += len(data)
            self.sha.update(data)
            if self.keep:
                self.chunks.append(data)

    @property
    def data(self) -> bytes:
        return b"".join(self.chunks)


def read_line(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> bytes:
    """One line from the process's stdout, failing after ``timeout`` (no stall can hang us)."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    line = b""
    deadline = time.monotonic() + timeout
    while not line.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        ready, _, _ = select.select([fd], [], [], max(0.0, remaining))
        if not ready:
            raise AssertionError(f"stalled waiting for a line (got {line!r})")
        byte = os.read(fd, 1)
        if not byte:
            raise AssertionError(f"EOF while waiting for a line (got {line!r})")
        line += byte
    return line


def assert_no_leftovers(workspace: Workspace, pid: int) -> None:
    """The process is gone and nothing carrying its environment survives it."""
    assert not Path(f"/proc/{pid}").exists() or _is_zombie(pid)
    marker = f"MACHINE_FOLDER={workspace.folder.path}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        assert marker not in environ.split(b"\0"), f"leftover process {entry.name}"


def stream_zeros(
    workspace: Workspace, at_least: int
) -> tuple[subprocess.Popen[bytes], Drain, Drain]:
    """Remote ``cat /dev/zero`` through `command`, once ``at_least`` bytes came through."""
    proc = workspace.popen("cat /dev/zero")
    assert proc.stdout is not None and proc.stderr is not None
    out = Drain(proc.stdout, keep=False)
    err = Drain(proc.stderr)
    deadline = time.monotonic() + 10
    while out.count < at_least and time.monotonic() < deadline:
        time.sleep(0.01)
    if out.count < at_least:
        proc.kill()
        proc.wait()
    assert out.count >= at_least
    return proc, out, err


def _is_zombie(pid: int) -> bool:
    try:
        return " Z " in Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True


# ----------------------------------------------------------------------------- exit codes


@pytest.mark.parametrize("code", [0, 1, 42])
def test_exit_code_passes_through(workspace: Workspace, code: int) -> None:
    result = workspace.run(f"exit {code}")
    assert result.returncode == code
    assert result.stdout == b""
    assert result.stderr == b""


def test_missing_program_gives_127(workspace: Workspace) -> None:
    result = workspace.run("no-such-program-xyz")
    assert result.returncode == 127
    assert result.stdout == b""
    assert b"not found" in result.stderr


def test_remote_killed_by_signal_gives_128_plus_signo(workspace: Workspace) -> None:
    result = workspace.run("echo before; kill -TERM $$")
    assert result.returncode == 143
    assert result.stdout == b"before\n"


def test_stdout_and_stderr_stay_apart(workspace: Workspace) -> None:
    result = workspace.run("echo out; echo err >&2; printf 'a\\r\\nb\\0c'")
    assert result.returncode == 0
    assert result.stdout == b"out\na\r\nb\0c"  # binary-safe, no newline translation
    assert result.stderr == b"err\n"


def test_no_pty_is_requested(workspace: Workspace) -> None:
    result = workspace.run("test -t 0 || test -t 1 && echo tty || echo notty")
    assert result.stdout == b"notty\n"


# ----------------------------------------------------------------------------- streaming


@pytest.mark.slow
def test_64mib_roundtrip_through_cat(workspace: Workspace) -> None:
    payload = os.urandom(64 * MiB)
    result = workspace.run("cat; echo MARKER-ON-STDERR >&2", input=payload, timeout=60)
    assert result.returncode == 0
    assert len(result.stdout) == len(payload)
    assert hashlib.sha256(result.stdout).digest() == hashlib.sha256(payload).digest()
    assert result.stderr == b"MARKER-ON-STDERR\n"


def test_stdin_eof_ends_remote_cat(workspace: Workspace) -> None:
    proc = workspace.popen("cat; echo after-eof")
    assert proc.stdin is not None
    proc.stdin.write(b"hello\n")
    proc.stdin.flush()
    try:
        assert read_line(proc) == b"hello\n"
        proc.stdin.close()  # EOF must reach the remote cat
        assert read_line(proc) == b"after-eof\n"
        assert proc.wait(timeout=5) == 0
    finally:
        proc.kill()
        proc.wait()


def test_ping_pong_handshake_like_devpod_inject(workspace: Workspace) -> None:
    script = (
        'echo ping; read answer; echo "got:$answer"; '
        'i=0; while [ $i -lt 20 ]; do read line || exit 3; echo "ack:$line"; i=$((i+1)); done; '
        "echo done"
    )
    proc = workspace.popen(script)
    assert proc.stdin is not None
    try:
        assert read_line(proc) == b"ping\n"
        proc.stdin.write(b"pong\n")
        proc.stdin.flush()
        assert read_line(proc) == b"got:pong\n"
        for i in range(20):
            proc.stdin.write(f"line{i}\n".encode())
            proc.stdin.flush()
            assert read_line(proc, timeout=2) == f"ack:line{i}\n".encode()
        assert read_line(proc) == b"done\n"
        proc.stdin.close()
        assert proc.wait(timeout=5) == 0
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.slow
def test_120mb_upload_then_exit(workspace: Workspace) -> None:
    payload = os.urandom(120_000_000)
    result = workspace.run("cat > /dev/null; echo done", input=payload, timeout=60)
    assert result.returncode == 0
    assert result.stdout == b"done\n"
    assert result.stderr == b""


# ----------------------------------------------------------------------------- failures


def test_wrong_host_key_is_refused(workspace: Workspace) -> None:
    other = generate_keypair()
    workspace.with_state(host_key_public=other.public_line, host_key_fingerprint=other.fingerprint)
    result = workspace.run("echo SHOULD-NOT-RUN")
    assert result.returncode == 255
    assert result.stdout == b""
    err = result.stderr.decode()
    assert err.count("\n") == 1 and err.startswith("dokploy-provider: ")
    assert workspace.state.target in err
    assert "host key" in err and other.fingerprint in err and "—" in err


def test_wrong_client_key_is_refused(workspace: Workspace) -> None:
    write_private_file(workspace.folder.client_key_path, generate_keypair().private_openssh)
    result = workspace.run("echo SHOULD-NOT-RUN")
    assert result.returncode == 255
    assert result.stdout == b""
    err = result.stderr.decode()
    assert err.count("\n") == 1
    assert "refused this machine's client key" in err and workspace.state.target in err


def test_sshd_not_running_gives_255_with_target(workspace: Workspace) -> None:
    workspace.sshd.stop()
    result = workspace.run("true")
    assert result.returncode == 255
    assert result.stdout == b""
    err = result.stderr.decode()
    assert workspace.state.target in err and "refused" in err
    assert err.count("\n") == 1


def test_connection_dropped_mid_stream(workspace: Workspace) -> None:
    proc, out, err = stream_zeros(workspace, 4 * MiB)
    try:
        workspace.sshd.stop()  # kills the workspace's whole PID namespace
        assert proc.wait(timeout=10) == 255
        out.join(5)
        err.join(5)
    finally:
        proc.kill()
        proc.wait()
    message = err.data.decode()
    assert "connection" in message and "lost" in message
    assert workspace.state.target in message


def test_connection_dropped_during_upload(workspace: Workspace) -> None:
    """A broken socket while sending (EPIPE/SIGPIPE on the socket) is a lost connection: 255."""
    proc = workspace.popen("cat > /dev/null")
    assert proc.stdin is not None and proc.stderr is not None
    err = Drain(proc.stderr)
    chunk = b"x" * MiB
    sent = 0
    try:
        while sent < 8 * MiB:
            proc.stdin.write(chunk)
            sent += len(chunk)
        workspace.sshd.stop()
        deadline = time.monotonic() + 10
        with contextlib.suppress(BrokenPipeError, ValueError):
            while proc.poll() is None and time.monotonic() < deadline:
                proc.stdin.write(chunk)
        assert proc.wait(timeout=10) == 255
        err.join(5)
    finally:
        proc.kill()
        proc.wait()
    message = err.data.decode()
    assert workspace.state.target in message and "lost" in message


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_mid_transfer_ends_promptly(workspace: Workspace, signum: int, code: int) -> None:
    proc, _, err = stream_zeros(workspace, 2 * MiB)
    assert proc.stdin is not None
    try:
        sent = time.monotonic()
        proc.send_signal(signum)
        assert proc.wait(timeout=5) == code
        assert time.monotonic() - sent < 1.0
        err.join(2)
    finally:
        proc.kill()
        proc.wait()
    assert err.data == b""  # quiet: no traceback
    assert_no_leftovers(workspace, proc.pid)


def test_closed_stdout_ends_quietly(workspace: Workspace) -> None:
    proc = workspace.popen("cat /dev/zero")
    assert proc.stdout is not None and proc.stderr is not None
    os.read(proc.stdout.fileno(), 65536)
    proc.stdout.close()
    try:
        assert proc.wait(timeout=5) == 141
        assert proc.stderr.read() == b""
    finally:
        proc.kill()
        proc.wait()


# ----------------------------------------------------------------------------- invocation


def test_missing_machine_folder_is_usage_error(workspace: Workspace) -> None:
    env = workspace.env("true")
    del env["MACHINE_FOLDER"]
    result = subprocess.run(
        [provider_executable(), "command"], env=env, capture_output=True, timeout=10, check=False
    )
    assert result.returncode == 2
    assert result.stdout == b""
    assert b"MACHINE_FOLDER" in result.stderr and result.stderr.count(b"\n") == 1


def test_missing_command_is_usage_error(workspace: Workspace) -> None:
    env = workspace.env("true")
    del env["COMMAND"]
    result = subprocess.run(
        [provider_executable(), "command"], env=env, capture_output=True, timeout=10, check=False
    )
    assert result.returncode == 2
    assert b"COMMAND" in result.stderr and result.stdout == b""


def test_missing_state_says_run_create(workspace: Workspace, tmp_path: Path) -> None:
    empty = tmp_path / "empty-machine"
    empty.mkdir()
    result = workspace.run("true", MACHINE_FOLDER=str(empty))
    assert result.returncode == 8
    assert result.stdout == b""
    assert b"no machine state" in result.stderr and b"run create first" in result.stderr


# ----------------------------------------------------------------------------- secrets


def test_debug_output_never_leaks_secrets(workspace: Workspace) -> None:
    secrets = [FAKE_TOKEN, "PRIVATE KEY"]
    for path in (workspace.folder.client_key_path, workspace.folder.host_key_path):
        body = b"".join(path.read_bytes().splitlines()[1:-1]).decode()
        secrets += [body[i : i + 24] for i in range(0, len(body) - 24, 24)]
    ok = workspace.run("echo hi", DEVPOD_DEBUG="true")
    assert ok.returncode == 0 and ok.stdout == b"hi\n"
    assert b"debug" in ok.stderr  # debug mode did log something
    other = generate_keypair()
    workspace.with_state(host_key_public=other.public_line, host_key_fingerprint=other.fingerprint)
    bad = workspace.run("echo hi", DEVPOD_DEBUG="true")
    assert bad.returncode == 255
    for result in (ok, bad):
        text = (result.stdout + result.stderr).decode()
        for secret in secrets:
            assert secret not in text
