"""SSH to the workspace: a tuned Paramiko transport with a pinned host key.

Only the ed25519 host key that ``create`` generated is accepted (no known_hosts, no
trust-on-first-use, no AutoAddPolicy), and only the machine's ed25519 client key is offered.
Socket and Paramiko errors are converted to the :class:`~dokploy_provider.errors.SSHError`
branch, every one carrying ``target`` (``user@host:port``).

Performance choices (measured on loopback against OpenSSH 9): AES-GCM first (AEAD: one
cryptography call per packet, no separate MAC), no compression, ``TCP_NODELAY``, and
``TCP_QUICKACK`` re-armed after every read (without it, opening the session channel waited
~40 ms on sshd's Nagle + our delayed ACK), a socket wrapper that ``recv``'s 256 KiB at a time
(Paramiko asks the socket for a few bytes at a time otherwise), and an 8 MiB channel window.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paramiko

from dokploy_provider.errors import (
    HostKeyMismatch,
    SSHAuthRefused,
    SSHConnectFailed,
    StateError,
)
from dokploy_provider.keys import KEY_TYPE, fingerprint_of_blob, public_key_blob
from dokploy_provider.state import MachineState

#: Ciphers in our order of preference; only those this Paramiko knows are offered.
PREFERRED_CIPHERS = (
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-ctr",
    "aes256-ctr",
)
#: Seconds between SSH keepalives (keeps NAT mappings of idle IDE sessions alive).
KEEPALIVE_INTERVAL = 15
#: Bytes asked of the kernel per socket read.
SOCKET_RECV_SIZE = 256 * 1024
#: Our receive window per channel (OpenSSH's default is 2 MiB): room for ~160 MB/s at 50 ms RTT.
WINDOW_SIZE = 8 * 1024 * 1024
#: Largest packet we accept; 32 KiB is what OpenSSH sends for session channels.
MAX_PACKET_SIZE = 32 * 1024

_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)


class SSHPortClosed(SSHConnectFailed):
    """Nothing accepted the TCP connection (refused, unreachable, or timed out)."""


class SSHNoBanner(SSHConnectFailed):
    """TCP connected but no SSH server answered (no banner, or the handshake failed)."""


class _BufferedSocket:
    """A socket for Paramiko that reads ``SOCKET_RECV_SIZE`` from the kernel at a time.

    Paramiko's transport reads each packet as several small ``recv(n)`` calls (header, then
    body); serving them from a buffer cuts system calls several-fold on bulk transfers. Only
    the transport thread reads, so no lock is needed.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buf = b""
        self._pos = 0

    @property
    def _closed(self) -> bool:  # Paramiko peeks at this
        return bool(getattr(self.sock, "_closed", False))

    def recv(self, n: int) -> bytes:
        if self._pos < len(self._buf):
            end = self._pos + n
            chunk = self._buf[self._pos : end]
            self._pos = end
            return chunk
        data = self.sock.recv(max(n, SOCKET_RECV_SIZE))
        if _QUICKACK is not None:
            # Linux turns quick-ack off again on its own; re-arm it after every read so our ACKs
            # never sit in the 40 ms delayed-ACK timer while sshd's Nagle waits for them.
            with contextlib.suppress(OSError):
                self.sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
        if len(data) <= n:
            return data
        self._buf = data
        self._pos = n
        return data[:n]

    def send(self, data: bytes) -> int:
        return self.sock.send(data)

    def sendall(self, data: bytes) -> None:
        self.sock.sendall(data)

    def settimeout(self, timeout: float | None) -> None:
        self.sock.settimeout(timeout)

    def gettimeout(self) -> float | None:
        return self.sock.gettimeout()

    def fileno(self) -> int:
        return self.sock.fileno()

    def getpeername(self) -> Any:
        return self.sock.getpeername()

    def close(self) -> None:
        self.sock.close()


@dataclass
class Connection:
    """An authenticated SSH connection to the workspace."""

    transport: paramiko.Transport
    target: str
    connect_seconds: float

    def open_session(self, timeout: float = 30.0) -> paramiko.Channel:
        """A new session channel with our window and packet sizes."""
        try:
            return self.transport.open_session(
                window_size=WINDOW_SIZE, max_packet_size=MAX_PACKET_SIZE, timeout=timeout
            )
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise SSHConnectFailed(
                f"the workspace at {self.target} refused to open a session: {describe(exc)}",
                target=self.target,
                hint="check the workspace's sshd (MaxSessions) and try again",
            ) from exc

    @property
    def cipher(self) -> str:
        """The negotiated cipher (for debug logs)."""
        return str(getattr(self.transport, "local_cipher", "") or "?")

    def close(self) -> None:
        """Close the transport (and its socket); never raises."""
        with contextlib.suppress(Exception):
            self.transport.close()


def describe(exc: BaseException) -> str:
    """An exception's message, or its class name when the message is empty."""
    text = str(exc).strip()
    return text or type(exc).__name__


def _tune_socket(sock: socket.socket) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    # Linux-only options; each is skipped where the platform lacks it.
    for name, value in (
        ("TCP_QUICKACK", 1),
        ("TCP_KEEPIDLE", 30),
        ("TCP_KEEPINTVL", 10),
        ("TCP_KEEPCNT", 3),
        # Give up on a peer that acknowledges nothing for 60 s (dead host behind NAT).
        ("TCP_USER_TIMEOUT", 60_000),
    ):
        option = getattr(socket, name, None)
        if option is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, option, value)


def _tcp_connect(host: str, port: int, timeout: float, target: str) -> socket.socket:
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except socket.gaierror as exc:
        raise SSHPortClosed(
            f"cannot resolve {host} ({describe(exc)})",
            target=target,
            hint="check the Dokploy server's address in the machine state / provider options",
        ) from exc
    except ConnectionRefusedError as exc:
        raise SSHPortClosed(
            f"connection to {target} refused (nothing listens on port {port})",
            target=target,
            hint="the workspace container is not running or its port is not published; "
            "start it with `devpod machine start` or `devpod up`",
        ) from exc
    except TimeoutError as exc:
        raise SSHPortClosed(
            f"TCP connect to {target} timed out after {timeout:.0f}s",
            target=target,
            hint=f"check that the server is up and that a firewall lets port {port} through",
        ) from exc
    except OSError as exc:
        raise SSHPortClosed(
            f"cannot connect to {target}: {exc.strerror or describe(exc)}",
            target=target,
            hint="check the network path to the Dokploy server",
        ) from exc
    with contextlib.suppress(OSError):
        _tune_socket(sock)
    return sock


def _pinned_blob(host_key_public: str | None) -> bytes | None:
    if not host_key_public:
        return None
    try:
        return public_key_blob(host_key_public)
    except ValueError as exc:
        raise StateError(
            f"the pinned host key in the machine state is malformed ({exc})",
            hint="recreate the machine with `devpod machine delete --force` and `devpod up`",
        ) from exc


def _check_host_key(transport: paramiko.Transport, pinned: SSHTarget) -> None:
    target = pinned.address
    key = transport.get_remote_server_key()
    blob = key.asbytes()
    got = fingerprint_of_blob(blob)
    expected = pinned.host_key_fingerprint
    matches = key.get_name() == KEY_TYPE and got == expected
    if pinned.host_key_blob is not None:
        matches = matches and blob == pinned.host_key_blob
    if not matches:
        raise HostKeyMismatch(
            f"the workspace at {target} presented host key {key.get_name()} {got}, "
            f"not the {KEY_TYPE} key {expected} generated for this machine at create: the "
            "container was re-created without its key, or something is intercepting the "
            "connection (man-in-the-middle)",
            target=target,
            hint="nothing was sent; if you did not re-create the workspace yourself, check the "
            "server, otherwise recreate the machine (`devpod machine delete` then `devpod up`)",
        )


@dataclass(frozen=True)
class SSHTarget:
    """All :func:`connect` needs: where, as whom, and the one host key to accept."""

    host: str
    port: int
    user: str
    #: ``SHA256:...`` of the pinned ed25519 host key.
    host_key_fingerprint: str
    #: The pinned public key itself, when the state holds it (compared byte for byte).
    host_key_blob: bytes | None

    @classmethod
    def of(cls, state: MachineState) -> SSHTarget:
        """The target a machine state records; ``StateError`` (before any network) when the
        state has no SSH address yet or no usable pinned host key."""
        if not state.ssh_host or not state.ssh_port:
            raise StateError(
                "the machine state has no SSH address yet (create did not finish)",
                hint="run `devpod up` (or the provider's create) again",
            )
        if not state.host_key_public and not state.host_key_fingerprint:
            raise StateError(
                "the machine state has no pinned workspace host key",
                hint="recreate the machine with `devpod machine delete --force` and `devpod up`",
            )
        blob = _pinned_blob(state.host_key_public)
        fingerprint = state.host_key_fingerprint or (
            fingerprint_of_blob(blob) if blob is not None else ""
        )
        return cls(state.ssh_host, state.ssh_port, state.ssh_user, fingerprint, blob)

    @property
    def address(self) -> str:
        """``user@host:port``, for messages."""
        return f"{self.user}@{self.host}:{self.port}"


def connect(target: SSHTarget, client_key_path: str | Path, *, timeout: float) -> Connection:
    """Connect, verify the pinned host key and log in with the machine's client key.

    ``timeout`` bounds each phase (TCP connect, banner + key exchange, authentication).
    Raises :class:`SSHPortClosed`/:class:`SSHNoBanner` (both ``SSHConnectFailed``),
    ``HostKeyMismatch``, ``SSHAuthRefused`` or ``StateError``.
    """
    try:
        client_key = paramiko.Ed25519Key.from_private_key_file(str(client_key_path))
    except (OSError, paramiko.SSHException, ValueError) as exc:
        raise StateError(
            f"cannot load the machine's client key {client_key_path}: {describe(exc)}",
            hint="recreate the machine with `devpod machine delete --force` and `devpod up`",
        ) from exc

    started = time.monotonic()
    sock = _tcp_connect(target.host, target.port, timeout, target.address)
    transport = paramiko.Transport(
        _BufferedSocket(sock),  # type: ignore[arg-type]
        default_window_size=WINDOW_SIZE,
        default_max_packet_size=MAX_PACKET_SIZE,
    )
    try:
        _negotiate(transport, target, timeout)
        _authenticate(transport, target, client_key, timeout)
    except BaseException:
        with contextlib.suppress(Exception):
            transport.close()
        with contextlib.suppress(Exception):
            sock.close()
        raise
    transport.set_keepalive(KEEPALIVE_INTERVAL)
    return Connection(transport, target.address, time.monotonic() - started)


def _negotiate(transport: paramiko.Transport, pinned: SSHTarget, timeout: float) -> None:
    target = pinned.address
    options = transport.get_security_options()
    known = set(options.ciphers)
    ciphers = [c for c in PREFERRED_CIPHERS if c in known]
    options.ciphers = tuple(ciphers + [c for c in options.ciphers if c not in ciphers])
    keys = list(options.key_types)
    if KEY_TYPE in keys:
        keys.remove(KEY_TYPE)
        options.key_types = (KEY_TYPE, *keys)
    options.compression = ("none",)
    transport.banner_timeout = timeout
    transport.handshake_timeout = timeout
    transport.auth_timeout = timeout

    done = threading.Event()
    try:
        transport.start_client(event=done)
    except (paramiko.SSHException, OSError, EOFError) as exc:
        raise SSHNoBanner(
            f"SSH handshake with {target} failed: {describe(exc)}",
            target=target,
            hint="the port is open but no SSH server answered",
        ) from exc
    deadline = time.monotonic() + timeout + 1
    while not done.wait(0.05):
        if time.monotonic() > deadline:
            break
    if not done.is_set() or not transport.is_active():
        failure = transport.get_exception()
        detail = describe(failure) if failure is not None else "no answer"
        if "banner" in detail.lower() or not done.is_set():
            message = f"{target} accepted TCP but sent no SSH banner ({detail})"
            hint = "the workspace's sshd is not up yet or another service holds the port"
        else:
            message = f"SSH handshake with {target} failed: {detail}"
            hint = "the workspace's sshd does not speak a protocol this provider supports"
        raise SSHNoBanner(message, target=target, hint=hint) from failure
    _check_host_key(transport, pinned)


def _authenticate(
    transport: paramiko.Transport, login: SSHTarget, key: paramiko.PKey, timeout: float
) -> None:
    target = login.address
    try:
        transport.auth_publickey(login.user, key)
    except paramiko.AuthenticationException as exc:
        raise SSHAuthRefused(
            f"the workspace at {target} refused this machine's client key "
            f"({key.get_name()} {key.fingerprint})",
            target=target,
            hint="its authorized_keys does not hold the key generated at create; recreate the "
            "machine (`devpod machine delete` then `devpod up`)",
        ) from exc
    except (paramiko.SSHException, OSError, EOFError) as exc:
        raise SSHConnectFailed(
            f"connection to {target} dropped during login: {describe(exc)}",
            target=target,
            hint="check the workspace's sshd logs; try again",
        ) from exc
    if not transport.is_authenticated():
        raise SSHAuthRefused(
            f"the workspace at {target} did not accept the login within {timeout:.0f}s",
            target=target,
            hint="check the workspace's sshd",
        )
