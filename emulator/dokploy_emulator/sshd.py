"""Run a real OpenSSH ``sshd`` as an emulated workspace container.

Each sshd runs as PID 1 of its own PID namespace (``unshare --pid --fork --kill-child
--mount-proc``), so a ``kill 1`` from a session ends only that workspace, and killing the
``unshare`` process (the only PID we hold) takes the whole namespace down with it. It listens
on 127.0.0.1 only, accepts keys only, and runs sessions as root, like the real workspace.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

LISTEN_ADDRESS = "127.0.0.1"


class SshdError(RuntimeError):
    """sshd could not be started; the message carries the tail of its log."""


def find_sshd() -> str:
    """Absolute path of the ``sshd`` binary, or raise with the install hint."""
    for candidate in (shutil.which("sshd"), "/usr/sbin/sshd", "/usr/local/sbin/sshd"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise SshdError("sshd not found: install it with `apt-get install -y openssh-server`")


@dataclass(frozen=True)
class SshdSpec:
    """What a workspace container gives its sshd.

    ``binds`` are ``(host_dir, target_path)`` pairs bind-mounted inside the workspace's own
    mount namespace (emulated named volumes); ``environment`` is exported to every session.
    The filesystem itself is the host's, so a missing target directory is created (empty) on
    the host as the mount point; the mount is visible only inside the workspace.
    """

    port: int
    host_key_pem: bytes
    authorized_keys: str
    environment: Mapping[str, str] = field(default_factory=dict)
    binds: Sequence[tuple[Path, str]] = ()


def _sshd_config(spec: SshdSpec, workdir: Path) -> str:
    env_line = " ".join(
        f'{name}="{value}"'
        for name, value in {"SHLVL": "1", **dict(spec.environment)}.items()
        if '"' not in value and "\n" not in value
    )
    return "\n".join(
        [
            f"Port {spec.port}",
            f"ListenAddress {LISTEN_ADDRESS}",
            f"HostKey {workdir / 'ssh_host_ed25519_key'}",
            f"AuthorizedKeysFile {workdir / 'authorized_keys'}",
            "PidFile none",
            # Test state lives under /tmp (sticky, world-writable), which StrictModes refuses.
            "StrictModes no",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "X11Forwarding no",
            "PrintMotd no",
            "PrintLastLog no",
            "Banner none",
            "MaxStartups 200:30:400",
            "MaxSessions 100",
            "ClientAliveInterval 30",
            f"SetEnv {env_line}",
            "",
        ]
    )


class SshdProcess:
    """One emulated workspace: an sshd in its own PID and mount namespace."""

    def __init__(self, workdir: Path, spec: SshdSpec) -> None:
        self.workdir = workdir
        self.spec = spec
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        """sshd's own log (stderr)."""
        return self.workdir / "sshd.log"

    @property
    def pid(self) -> int | None:
        """PID of the ``unshare`` process we started (the namespace dies with it)."""
        return self._proc.pid if self._proc else None

    def start(self, ready_timeout: float = 10.0) -> None:
        """Start sshd and return once it accepts TCP connections; raise SshdError if it dies."""
        sshd = find_sshd()
        self.workdir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.workdir, 0o700)
        host_key = self.workdir / "ssh_host_ed25519_key"
        host_key.write_bytes(self.spec.host_key_pem)
        os.chmod(host_key, 0o600)
        authorized = self.workdir / "authorized_keys"
        authorized.write_text(self.spec.authorized_keys.strip() + "\n", encoding="utf-8")
        os.chmod(authorized, 0o600)
        config = self.workdir / "sshd_config"
        config.write_text(_sshd_config(self.spec, self.workdir), encoding="utf-8")
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation dir

        mounts = [
            f"mkdir -p {shlex.quote(target)} && mount --bind {shlex.quote(str(src))} "
            f"{shlex.quote(target)}"
            for src, target in self.spec.binds
        ]
        script = " && ".join(
            [*mounts, f"exec {shlex.quote(sshd)} -D -e -f {shlex.quote(str(config))}"]
        )
        log = self.log_path.open("ab")
        try:
            self._proc = subprocess.Popen(
                ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc", "sh", "-c", script],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                close_fds=True,
            )
        finally:
            log.close()
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise SshdError(f"sshd exited at start: {self.log_tail()}")
            if _port_accepts(self.spec.port):
                return
            time.sleep(0.02)
        self.stop()
        raise SshdError(f"sshd did not listen on port {self.spec.port}: {self.log_tail()}")

    def alive(self) -> bool:
        """Whether the namespace's sshd is still running."""
        return self._proc is not None and self._proc.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        """Kill the namespace (by the PID we started) and wait for it."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout)
        self._proc = None

    def log_tail(self, lines: int = 5) -> str:
        """The last lines of sshd's log, one string."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no sshd log)"
        return " | ".join(text.strip().splitlines()[-lines:]) or "(empty sshd log)"


def _port_accepts(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        try:
            sock.connect((LISTEN_ADDRESS, port))
        except OSError:
            return False
        return True


def port_bindable(port: int) -> bool:
    """Whether a listener could bind 127.0.0.1:``port`` now (TIME_WAIT leftovers don't count,
    as sshd and docker-proxy set SO_REUSEADDR too)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LISTEN_ADDRESS, port))
        except OSError:
            return False
        return True
