"""The byte pump: run one remote command on a Paramiko channel and relay raw stdio.

Three daemon threads, no ``select`` on pipes (works the same on Linux, macOS and Windows):

* stdin → channel: ``os.read`` chunks sent in full packets
  (:class:`~dokploy_provider.paramiko_fast.ChannelWriter`); on local EOF ``shutdown_write()``
  (half-close: the remote sees EOF, its output keeps flowing);
* channel stdout → our stdout and channel stderr → our stderr: written with ``os.write`` on
  the file descriptor (no Python buffering, no newline translation) by Paramiko's transport
  thread as each packet is decrypted (see :class:`DirectOutput`); the two output threads then
  only wait for the remote's EOF. With an untested Paramiko they ``recv`` the data instead.

No PTY is requested. :func:`run` returns the remote exit status. A remote killed by a signal
gives ``128 + signo`` (Linux numbering, as the remote's own shell would report it): OpenSSH
sends ``exit-signal`` with the signal's name, which Paramiko ignores, so a handler for it is
added on the transport (:func:`~dokploy_provider.paramiko_fast.install_channel_handlers`).
An unknown signal name gives 255.

This module uses Paramiko's public API only; everything that reaches into its internals is
in :mod:`dokploy_provider.paramiko_fast`, which runs it only on the Paramiko releases it was
tested with.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from typing import IO, Any

import paramiko

from dokploy_provider import paramiko_fast
from dokploy_provider.errors import SSHConnectionLost
from dokploy_provider.ssh import describe

#: Bytes asked of the channel per ``recv``: at least the channel window, so one call takes
#: everything buffered. Paramiko's BufferedPipe deletes a partial read's prefix from an array
#: (a memmove of the rest), so one-packet reads (32,704 bytes) of a full 8 MiB window were
#: quadratic: 140 MB/s against 600-800 MB/s for take-everything reads (256 MiB, loopback).
CHANNEL_READ_SIZE = 8 * 1024 * 1024
#: Bytes read from local stdin per call.
STDIN_READ_SIZE = 256 * 1024

FileLike = int | IO[bytes] | IO[Any]


class StdoutClosed(Exception):
    """Our stdout was closed by whoever reads it (EPIPE): end quietly."""


def _fd(obj: FileLike) -> int:
    return obj if isinstance(obj, int) else obj.fileno()


def set_binary_mode(*fds: int) -> None:
    """Put file descriptors in binary mode on Windows (a no-op elsewhere)."""
    if sys.platform == "win32":
        import msvcrt

        for fd in fds:
            with contextlib.suppress(OSError):
                msvcrt.setmode(fd, os.O_BINARY)


def _reader_gone(exc: OSError) -> bool:
    """Whether a failed write means the reader of the fd went away."""
    return isinstance(exc, BrokenPipeError | ConnectionResetError) or exc.errno in (
        32,
        232,  # EPIPE, Windows ERROR_NO_DATA
    )


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class DirectOutput:
    """Writes a channel's stdout/stderr to our fds, called by Paramiko's transport thread.

    The :class:`~dokploy_provider.paramiko_fast.OutputSink` :meth:`Pump.start` attaches on a
    tested Paramiko (see :func:`~dokploy_provider.paramiko_fast.attach_output`): each packet
    is ``os.write``-n as soon as it is decrypted, with no hand-off to a reader thread.
    """

    def __init__(self, pump: Pump) -> None:
        self.pump = pump
        self._stdout_ok = True
        self._stderr_ok = True

    def on_stdout(self, data: bytes) -> None:
        """The remote's stdout: write it to ours."""
        if self._stdout_ok:
            try:
                _write_all(self.pump.stdout_fd, data)
            except OSError as exc:
                self._stdout_ok = False  # later output is dropped
                if _reader_gone(exc):
                    self.pump._stdout_gone()

    def on_stderr(self, data: bytes) -> None:
        """The remote's stderr: write it to ours."""
        if self._stderr_ok:
            try:
                _write_all(self.pump.stderr_fd, data)
            except OSError:
                self._stderr_ok = False


class Pump:
    """One remote command with its stdio relayed; see :func:`run`.

    With ``direct`` (the default) the output is written by the transport thread when this
    Paramiko allows it (:class:`DirectOutput`; the output threads then only wait for EOF), and
    with ``fast_send`` stdin goes through :class:`~dokploy_provider.paramiko_fast.ChannelWriter`
    (also only on a tested Paramiko). ``False`` for either keeps Paramiko's plain
    ``recv``/``sendall``.
    """

    def __init__(
        self,
        channel: paramiko.Channel,
        stdin: FileLike,
        stdout: FileLike,
        stderr: FileLike,
        *,
        target: str = "the workspace",
        direct: bool = True,
        fast_send: bool = True,
    ) -> None:
        self.channel = channel
        self.direct = direct
        self.fast_send = fast_send
        self.stdin_fd = _fd(stdin)
        self.stdout_fd = _fd(stdout)
        self.stderr_fd = _fd(stderr)
        self.target = target
        self.stdout_closed = threading.Event()
        self._outputs_done = threading.Event()
        self._pending = 2
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ threads
    def _output_finished(self) -> None:
        with self._lock:
            self._pending -= 1
            if self._pending == 0:
                self._outputs_done.set()

    def _stdout_gone(self) -> None:
        """Our stdout's reader went away: stop waiting for output, :meth:`wait` raises."""
        self.stdout_closed.set()
        self._outputs_done.set()

    def _relay_stdin(self) -> None:
        chan = self.channel
        fd = self.stdin_fd
        try:
            send = paramiko_fast.ChannelWriter(chan).send if self.fast_send else chan.sendall
            while True:
                try:
                    data = os.read(fd, STDIN_READ_SIZE)
                except OSError:
                    data = b""  # stdin closed or unreadable: treat as EOF
                if not data:
                    break
                send(data)
        except Exception:
            return  # channel closed under us: the output side reports why
        with contextlib.suppress(Exception):
            chan.shutdown_write()

    def _relay_stdout(self) -> None:
        chan = self.channel
        fd = self.stdout_fd
        try:
            while True:
                data = chan.recv(CHANNEL_READ_SIZE)
                if not data:
                    break
                _write_all(fd, data)
        except Exception as exc:  # a channel failure is reported from the exit status check
            if isinstance(exc, OSError) and _reader_gone(exc):
                self._stdout_gone()
        finally:
            self._output_finished()

    def _relay_stderr(self) -> None:
        chan = self.channel
        fd = self.stderr_fd
        try:
            while True:
                data = chan.recv_stderr(CHANNEL_READ_SIZE)
                if not data:
                    break
                with contextlib.suppress(OSError):
                    _write_all(fd, data)
        except Exception:  # channel failure: reported from the exit status check
            return
        finally:
            self._output_finished()

    # ------------------------------------------------------------------ main
    def start(self, command: str) -> None:
        """Send the exec request (no PTY) and start the relay threads."""
        set_binary_mode(self.stdin_fd, self.stdout_fd, self.stderr_fd)
        self.channel.settimeout(None)
        if self.direct:
            paramiko_fast.attach_output(self.channel, DirectOutput(self))
        try:
            self.channel.exec_command(command)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise SSHConnectionLost(
                f"{self.target} did not accept the command: {describe(exc)}",
                target=self.target,
                hint="check the workspace's sshd and try again",
            ) from exc
        for name, body in (
            ("stdout", self._relay_stdout),
            ("stderr", self._relay_stderr),
            ("stdin", self._relay_stdin),
        ):
            threading.Thread(target=body, name=f"pump-{name}", daemon=True).start()

    def wait(self, poll: float = 0.5) -> int:
        """Wait until the remote exits (and its output is relayed); return its status.

        Waits in slices of ``poll`` seconds so the main thread stays responsive to signals.
        Raises ``StdoutClosed`` when our stdout went away and ``SSHConnectionLost`` when the
        session ended without an exit status.
        """
        while not self._outputs_done.wait(poll):
            pass
        if self.stdout_closed.is_set():
            raise StdoutClosed
        chan = self.channel
        while not chan.status_event.wait(poll):
            pass
        if chan.exit_status >= 0:
            return int(chan.exit_status)
        transport = chan.get_transport()
        exc = transport.get_exception() if transport is not None else None
        if transport is None or not transport.is_active():
            detail = str(exc).strip() if exc is not None else ""
            if not detail or isinstance(exc, EOFError):
                detail = "the server closed the connection"
            raise SSHConnectionLost(
                f"the connection to {self.target} was lost before the command finished: {detail}",
                target=self.target,
                hint="the workspace may have stopped or restarted; check it and retry",
            )
        raise SSHConnectionLost(
            f"{self.target} closed the session without an exit status",
            target=self.target,
            hint="the workspace's sshd ended the command; check its logs",
        )


def run(
    channel: paramiko.Channel,
    command: str,
    stdin: FileLike,
    stdout: FileLike,
    stderr: FileLike,
    *,
    target: str = "the workspace",
) -> int:
    """Run ``command`` on ``channel`` with raw stdio relayed; return its exit status.

    The stdio arguments are binary file objects or file descriptors. Raises ``StdoutClosed``
    (our stdout closed) or ``SSHConnectionLost``.
    """
    transport = channel.get_transport()
    if transport is not None:
        paramiko_fast.install_channel_handlers(transport)
    pump = Pump(channel, stdin, stdout, stderr, target=target)
    pump.start(command)
    return pump.wait()
