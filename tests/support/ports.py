"""Loopback ports for tests: a free one, a free block, and an sshd started on a free one."""

from __future__ import annotations

import random
import socket
from pathlib import Path

from dokploy_emulator.sshd import LISTEN_ADDRESS, SshdError, SshdProcess, SshdSpec, port_bindable


def free_port() -> int:
    """A port nothing listened on a moment ago (the kernel's pick for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LISTEN_ADDRESS, 0))
        return int(sock.getsockname()[1])


def free_port_block(size: int, attempts: int = 200) -> int:
    """The first of ``size`` consecutive ports that are all bindable now, e.g. for a test's
    DOKPLOY_SSH_PORT_RANGE."""
    rng = random.Random()
    for _ in range(attempts):
        base = rng.randint(20000, 60000 - size)
        if all(port_bindable(base + i) for i in range(size)):
            return base
    raise RuntimeError(f"no block of {size} free ports on {LISTEN_ADDRESS}")


def start_on_free_port(
    workdir: Path, host_key_pem: bytes, authorized_keys: str, attempts: int = 3
) -> SshdProcess:
    """Start an sshd on a port :func:`free_port` picked, picking again when another process
    took it between the pick and sshd's listen; raise :class:`SshdError` after ``attempts``."""
    last: SshdError | None = None
    for _ in range(attempts):
        sshd = SshdProcess(workdir, SshdSpec(free_port(), host_key_pem, authorized_keys))
        try:
            sshd.start()
        except SshdError as exc:
            last = exc
            continue
        return sshd
    raise SshdError(f"sshd did not start in {attempts} attempts: {last}")
