"""The byte pump: run one remote command on a Paramiko channel and relay raw stdio.

Three daemon threads, no ``select`` on pipes (works the same on Linux, macOS and Windows):

* stdin → channel: ``os.read`` chunks sent in full packets (:class:`ChannelWriter`); on local
  EOF ``shutdown_write()`` (half-close: the remote sees EOF, its output keeps flowing);
* channel stdout → our stdout and channel stderr → our stderr: written with ``os.write`` on
  the file descriptor (no Python buffering, no newline translation) by Paramiko's transport
  thread as each packet is decrypted (see :class:`DirectOutput`); the two output threads then
  only wait for the remote's EOF. With an unknown Paramiko they ``recv`` the data instead.

No PTY is requested. :func:`run` returns the remote exit status. A remote killed by a signal
gives ``128 + signo`` (Linux numbering, as the remote's own shell would report it): OpenSSH
sends ``exit-signal`` with the signal's name, which Paramiko ignores, so this module adds a
handler for it on the transport. An unknown signal name gives 255.
"""

from __future__ import annotations

import contextlib
import os
import struct
import sys
import threading
from typing import IO, Any

import paramiko
from paramiko.common import (
    MSG_CHANNEL_DATA,
    MSG_CHANNEL_EXTENDED_DATA,
    MSG_CHANNEL_REQUEST,
    cMSG_CHANNEL_WINDOW_ADJUST,
)

from dokploy_provider.errors import SSHConnectionLost
from dokploy_provider.ssh import describe

#: Paramiko releases whose private internals (``Transport._channel_handler_table``,
#: ``Channel.out_window_size``, ``Transport.packetizer``) the fast paths below were run
#: against: ``tests/tunnel`` passes on 5.1 (the pinned default) and 3.5 (a CI lane).
#: Any other release gets Paramiko's public API only: correct, somewhat slower, and a
#: command killed by a signal reports 255 instead of 128+signal (Paramiko drops
#: ``exit-signal``).
FAST_PATH_PARAMIKO = ("3.5.", "5.1.")
#: ``0`` forces the public API (what the tunnel tests run a second time with).
FAST_PATH_ENV = "DOKPLOY_PROVIDER_SSH_FAST_PATH"


def fast_path_allowed() -> bool:
    """Whether this Paramiko is one the private-internals fast paths were tested on."""
    if os.environ.get(FAST_PATH_ENV, "").strip() == "0":
        return False
    return str(getattr(paramiko, "__version__", "")).startswith(FAST_PATH_PARAMIKO)


#: Bytes asked of the channel per ``recv``: at least the channel window, so one call takes
#: everything buffered. Paramiko's BufferedPipe deletes a partial read's prefix from an array
#: (a memmove of the rest), so one-packet reads (32,704 bytes) of a full 8 MiB window were
#: quadratic: 140 MB/s against 600-800 MB/s for take-everything reads (256 MiB, loopback).
CHANNEL_READ_SIZE = 8 * 1024 * 1024
#: Bytes read from local stdin per call.
STDIN_READ_SIZE = 256 * 1024
#: Exit code when the remote died of a signal whose name we do not know.
EXIT_UNKNOWN_SIGNAL = 255

#: Linux signal numbers by SSH signal name (RFC 4254 names, without ``SIG``).
LINUX_SIGNALS = {
    "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "BUS": 7, "FPE": 8,
    "KILL": 9, "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15,
}  # fmt: skip

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


_UINT32 = struct.Struct(">I")


class _Payload:
    """A pre-built SSH message payload for ``Packetizer.send_message`` (it calls ``asbytes``)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def asbytes(self) -> bytes:
        return self.data


#: Channel attributes :class:`ChannelWriter` reads or updates (as ``Channel._send`` does).
_WRITER_CHANNEL_ATTRS = (
    "lock",
    "out_buffer_cv",
    "out_window_size",
    "remote_chanid",
    "out_max_packet_size",
    "closed",
    "eof_sent",
)


class ChannelWriter:
    """Sends stdin on a channel in full packets, with less Python per packet than ``sendall``.

    ``Channel.sendall`` costs, per 32 KiB packet, a ``Message`` built through ``BytesIO``, the
    channel lock and a window wait, and ``Transport._send_user_message``'s key-exchange gate;
    on upload that Python is most of our CPU. This reserves send window for a whole chunk
    under one lock, takes the key-exchange gate once per chunk, and hands each packet's
    payload, built with one concatenation, to ``Packetizer.send_message`` (which frames,
    encrypts and counts it towards re-keying exactly as for ``sendall``).

    It relies on Channel/Transport attributes checked against Paramiko 5.1 (see
    :meth:`supported`); elsewhere :meth:`send` is ``Channel.sendall``.
    """

    def __init__(self, chan: paramiko.Channel) -> None:
        self.chan = chan
        self.fast = fast_path_allowed() and self.supported(chan)
        if self.fast:
            c: Any = chan
            # Paramiko's own per-packet cap (Channel._wait_for_send_window): the remote's
            # maximum packet less room for the packet's own header.
            self.step = max(int(c.out_max_packet_size) - 64, 1024)
            self.header = bytes([MSG_CHANNEL_DATA]) + struct.pack(">I", c.remote_chanid)

    @staticmethod
    def supported(chan: paramiko.Channel) -> bool:
        """Whether ``chan`` and its transport have the attributes the fast path uses."""
        c: Any = chan
        t: Any = chan.get_transport()
        return (
            t is not None
            and all(hasattr(c, name) for name in _WRITER_CHANNEL_ATTRS)
            and isinstance(getattr(t, "clear_to_send", None), threading.Event)
            and hasattr(getattr(t, "clear_to_send_lock", None), "acquire")
            and callable(getattr(getattr(t, "packetizer", None), "send_message", None))
            and hasattr(t, "active")
        )

    def send(self, data: bytes) -> None:
        """Send all of ``data`` (blocking on the remote's window); raises once the channel closed."""
        if not self.fast:
            self.chan.sendall(data)
            return
        view = memoryview(data)
        while view:
            size = self._reserve(len(view))
            self._send_packets(view[:size])
            view = view[size:]

    def _reserve(self, size: int) -> int:
        """Take up to ``size`` bytes of the remote's window, waiting while it is zero."""
        c: Any = self.chan
        with c.lock:
            while not (c.closed or c.eof_sent) and c.out_window_size <= 0:
                c.out_buffer_cv.wait()
            if c.closed or c.eof_sent:
                raise OSError("the channel is closed")
            size = min(size, int(c.out_window_size))
            c.out_window_size -= size
            return size

    def _send_packets(self, view: memoryview) -> None:
        t: Any = self.chan.get_transport()
        # Transport._send_user_message's gate: no channel data while keys are re-negotiated.
        while True:
            t.clear_to_send.wait(0.1)
            if not t.active:
                raise EOFError("the connection is closed")
            t.clear_to_send_lock.acquire()
            if t.clear_to_send.is_set():
                break
            t.clear_to_send_lock.release()
        try:
            send_message = t.packetizer.send_message
            header, step, pack = self.header, self.step, _UINT32.pack
            for start in range(0, len(view), step):
                piece = view[start : start + step]
                send_message(_Payload(b"".join((header, pack(len(piece)), piece))))
        finally:
            t.clear_to_send_lock.release()


def _handle_channel_request(chan: paramiko.Channel, m: paramiko.Message) -> None:
    """Paramiko's channel-request handler, plus ``exit-signal`` (RFC 4254 §6.10)."""
    position = m.packet.tell()
    try:
        key = m.get_text()
    except Exception:
        key = ""
    if key == "exit-signal":
        try:
            m.get_boolean()  # want_reply (always false)
            name = m.get_text()
        except Exception:
            name = ""
        code = 128 + LINUX_SIGNALS[name] if name in LINUX_SIGNALS else EXIT_UNKNOWN_SIGNAL
        chan.exit_signal = name  # type: ignore[attr-defined]
        chan.exit_status = code
        chan.status_event.set()
        return
    m.packet.seek(position)
    paramiko.Channel._handle_request(chan, m)  # type: ignore[attr-defined]


#: Attribute naming a channel's :class:`DirectOutput` (absent: Paramiko's own buffering).
_DIRECT_ATTR = "_dokploy_direct_output"


def _handle_data(chan: paramiko.Channel, m: paramiko.Message) -> None:
    direct: DirectOutput | None = getattr(chan, _DIRECT_ATTR, None)
    if direct is None:
        paramiko.Channel._feed(chan, m)  # type: ignore[attr-defined]
    else:
        direct.on_data(chan, m)


def _handle_extended_data(chan: paramiko.Channel, m: paramiko.Message) -> None:
    direct: DirectOutput | None = getattr(chan, _DIRECT_ATTR, None)
    if direct is None:
        paramiko.Channel._feed_extended(chan, m)  # type: ignore[attr-defined]
    else:
        direct.on_extended_data(chan, m)


def install_channel_handlers(transport: paramiko.Transport) -> None:
    """Make ``transport`` record ``exit-signal`` as ``128 + signo`` on its channels, and
    route channel data to a channel's :class:`DirectOutput` when one is attached."""
    table = dict(paramiko.Transport._channel_handler_table)  # type: ignore[attr-defined]
    table[MSG_CHANNEL_REQUEST] = _handle_channel_request
    if direct_output_supported(transport):
        table[MSG_CHANNEL_DATA] = _handle_data
        table[MSG_CHANNEL_EXTENDED_DATA] = _handle_extended_data
    transport._channel_handler_table = table  # type: ignore[attr-defined]


def direct_output_supported(transport: paramiko.Transport) -> bool:
    """Whether this Paramiko has the internals :class:`DirectOutput` relies on.

    Checked against Paramiko 5.1: the per-class channel handler table maps channel data to
    ``Channel._feed``/``_feed_extended``, and ``Channel._check_add_window``,
    ``Transport._send_user_message`` and ``Transport.clear_to_send`` exist. Anything else gets
    Paramiko's own buffering (correct, one thread hand-off slower per packet).
    """
    table = getattr(paramiko.Transport, "_channel_handler_table", None)
    return (
        isinstance(table, dict)
        and table.get(MSG_CHANNEL_DATA) is getattr(paramiko.Channel, "_feed", None)
        and table.get(MSG_CHANNEL_EXTENDED_DATA) is getattr(paramiko.Channel, "_feed_extended", None)
        and callable(getattr(paramiko.Channel, "_check_add_window", None))
        and callable(getattr(transport, "_send_user_message", None))
        and isinstance(getattr(transport, "clear_to_send", None), threading.Event)
    )


class DirectOutput:
    """Writes a channel's stdout/stderr to our fds from Paramiko's transport thread.

    Paramiko buffers channel data in a ``BufferedPipe`` that a reader thread drains: one
    condition-variable hand-off (and a GIL switch) per packet, most of a small round trip's
    latency. Here the transport thread, which has just decrypted the packet, ``os.write``s it
    and credits the receive window itself (what ``Channel.recv`` does). A slow reader of our
    stdout therefore blocks the transport thread: acceptable with one session per connection,
    it is the back-pressure the window would otherwise give. EOF, close and exit status still
    go through Paramiko, after every earlier packet has been written.
    """

    def __init__(self, pump: Pump) -> None:
        self.pump = pump
        self._stdout_ok = True
        self._stderr_ok = True

    def attach(self, chan: paramiko.Channel) -> None:
        """Route ``chan``'s data here (the transport's handlers must be installed)."""
        setattr(chan, _DIRECT_ATTR, self)

    def on_data(self, chan: paramiko.Channel, m: paramiko.Message) -> None:
        """``SSH_MSG_CHANNEL_DATA``: write to our stdout."""
        data = m.get_binary()
        if self._stdout_ok:
            try:
                _write_all(self.pump.stdout_fd, data)
            except OSError as exc:
                self._stdout_ok = False  # later output is dropped
                if _reader_gone(exc):
                    self.pump._stdout_gone()
        self._credit(chan, len(data))

    def on_extended_data(self, chan: paramiko.Channel, m: paramiko.Message) -> None:
        """``SSH_MSG_CHANNEL_EXTENDED_DATA``: type 1 is stderr; others are dropped."""
        code = m.get_int()
        data = m.get_binary()
        if code == 1 and self._stderr_ok:
            try:
                _write_all(self.pump.stderr_fd, data)
            except OSError:
                self._stderr_ok = False
        self._credit(chan, len(data))

    @staticmethod
    def _credit(chan: paramiko.Channel, size: int) -> None:
        ack = chan._check_add_window(size)  # type: ignore[attr-defined]
        if ack <= 0:
            return
        m = paramiko.Message()
        m.add_byte(cMSG_CHANNEL_WINDOW_ADJUST)
        m.add_int(chan.remote_chanid)
        m.add_int(ack)
        transport: Any = chan.get_transport()
        if transport.clear_to_send.is_set():
            # Only this (the transport) thread clears the flag, at the start of a key exchange
            # (we never call renegotiate_keys), so it cannot change before the message is queued.
            transport._send_user_message(m)
        else:
            # A key exchange is running, and this thread is the one running it: waiting here
            # for it to finish would deadlock. A helper sends the credit once it is done.
            threading.Thread(
                target=transport._send_user_message, args=(m,), name="window-adjust", daemon=True
            ).start()


class Pump:
    """One remote command with its stdio relayed; see :func:`run`.

    With ``direct`` (the default) the output is written by the transport thread when this
    Paramiko allows it (:class:`DirectOutput`; the output threads then only wait for EOF), and
    with ``fast_send`` stdin goes through :class:`ChannelWriter`. ``False`` for either keeps
    Paramiko's plain ``recv``/``sendall``.
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
            send = ChannelWriter(chan).send if self.fast_send else chan.sendall
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
        transport = self.channel.get_transport()
        if (
            self.direct
            and transport is not None
            and fast_path_allowed()
            and direct_output_supported(transport)
        ):
            DirectOutput(self).attach(self.channel)
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
    if transport is not None and fast_path_allowed():
        install_channel_handlers(transport)
    pump = Pump(channel, stdin, stdout, stderr, target=target)
    pump.start(command)
    return pump.wait()
