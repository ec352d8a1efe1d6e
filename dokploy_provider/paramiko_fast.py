"""Paramiko's private internals, behind one version guard: the SSH tunnel's fast paths.

Every use of Paramiko beyond its public API is in this module, and each one runs only on a
Paramiko release listed in :data:`FAST_PATH_PARAMIKO` (and only where the attributes it needs
are there, see :func:`direct_output_supported` and :meth:`ChannelWriter.supported`). Any
other release gets Paramiko's public API: correct, somewhat slower, and a command killed by
a signal reports 255 instead of 128+signal.

What is used: the per-class channel message table (``Transport._channel_handler_table``),
``Channel._handle_request``/``_feed``/``_feed_extended``/``_check_add_window``, the channel's
send window and its lock (``out_window_size``, ``lock``, ``out_buffer_cv``), the key-exchange
gate (``Transport.clear_to_send``, ``clear_to_send_lock``), ``Transport._send_user_message``
and the transport's packet writer (``Transport.packetizer.send_message``).

The surface :mod:`dokploy_provider.pump` calls:

* :func:`install_channel_handlers`: ``exit-signal`` recorded as ``128 + signo``, and channel
  data routed to an attached :class:`OutputSink`;
* :func:`attach_output`: a channel's stdout/stderr handed to a sink by the transport thread;
* :class:`ChannelWriter`: stdin sent in full packets (``Channel.sendall`` elsewhere).
"""

from __future__ import annotations

import os
import struct
import threading
from typing import Any, Protocol

import paramiko
from paramiko.common import (
    MSG_CHANNEL_DATA,
    MSG_CHANNEL_EXTENDED_DATA,
    MSG_CHANNEL_REQUEST,
    cMSG_CHANNEL_WINDOW_ADJUST,
)

#: Paramiko release lines the private internals used here were run against: ``tests/tunnel``
#: passes on 5.1 (the default install) and 3.5 (a CI lane, ``.ci/run``). Other releases get
#: the public API only; widen this only after ``tests/tunnel`` passed on the new line.
FAST_PATH_PARAMIKO = ("3.5.", "5.1.")
#: ``0`` forces the public API (what the tunnel tests run a second time with).
FAST_PATH_ENV = "DOKPLOY_PROVIDER_SSH_FAST_PATH"


def fast_path_allowed() -> bool:
    """Whether this Paramiko is one the private-internals fast paths were tested on."""
    if os.environ.get(FAST_PATH_ENV, "").strip() == "0":
        return False
    return str(getattr(paramiko, "__version__", "")).startswith(FAST_PATH_PARAMIKO)


#: Exit code when the remote died of a signal whose name we do not know.
EXIT_UNKNOWN_SIGNAL = 255

#: Linux signal numbers by SSH signal name (RFC 4254 names, without ``SIG``).
LINUX_SIGNALS = {
    "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "BUS": 7, "FPE": 8,
    "KILL": 9, "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15,
}  # fmt: skip


class OutputSink(Protocol):
    """Where :func:`attach_output` delivers a channel's output, on the transport thread."""

    def on_stdout(self, data: bytes) -> None:
        """Channel data (the remote's stdout)."""

    def on_stderr(self, data: bytes) -> None:
        """Extended data of type 1 (the remote's stderr)."""


#: Attribute naming a channel's :class:`OutputSink` (absent: Paramiko's own buffering).
_SINK_ATTR = "_dokploy_direct_output"


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


def _handle_data(chan: paramiko.Channel, m: paramiko.Message) -> None:
    sink: OutputSink | None = getattr(chan, _SINK_ATTR, None)
    if sink is None:
        paramiko.Channel._feed(chan, m)  # type: ignore[attr-defined]
        return
    data = m.get_binary()
    sink.on_stdout(data)
    credit_window(chan, len(data))


def _handle_extended_data(chan: paramiko.Channel, m: paramiko.Message) -> None:
    sink: OutputSink | None = getattr(chan, _SINK_ATTR, None)
    if sink is None:
        paramiko.Channel._feed_extended(chan, m)  # type: ignore[attr-defined]
        return
    code = m.get_int()
    data = m.get_binary()
    if code == 1:  # stderr; other types are dropped
        sink.on_stderr(data)
    credit_window(chan, len(data))


def install_channel_handlers(transport: paramiko.Transport) -> bool:
    """Make ``transport`` record ``exit-signal`` as ``128 + signo`` on its channels, and
    route channel data to a channel's attached :class:`OutputSink`.

    Only on a tested Paramiko (:func:`fast_path_allowed`); returns whether it did.
    """
    if not fast_path_allowed():
        return False
    table = dict(paramiko.Transport._channel_handler_table)  # type: ignore[attr-defined]
    table[MSG_CHANNEL_REQUEST] = _handle_channel_request
    if direct_output_supported(transport):
        table[MSG_CHANNEL_DATA] = _handle_data
        table[MSG_CHANNEL_EXTENDED_DATA] = _handle_extended_data
    transport._channel_handler_table = table  # type: ignore[attr-defined]
    return True


def direct_output_supported(transport: paramiko.Transport) -> bool:
    """Whether this Paramiko has the internals :func:`attach_output` relies on.

    The per-class channel handler table maps channel data to ``Channel._feed``/
    ``_feed_extended``, and ``Channel._check_add_window``, ``Transport._send_user_message``
    and ``Transport.clear_to_send`` exist. Anything else gets Paramiko's own buffering
    (correct, one thread hand-off slower per packet).
    """
    table = getattr(paramiko.Transport, "_channel_handler_table", None)
    return (
        isinstance(table, dict)
        and table.get(MSG_CHANNEL_DATA) is getattr(paramiko.Channel, "_feed", None)
        and table.get(MSG_CHANNEL_EXTENDED_DATA)
        is getattr(paramiko.Channel, "_feed_extended", None)
        and callable(getattr(paramiko.Channel, "_check_add_window", None))
        and callable(getattr(transport, "_send_user_message", None))
        and isinstance(getattr(transport, "clear_to_send", None), threading.Event)
    )


def attach_output(chan: paramiko.Channel, sink: OutputSink) -> bool:
    """Have the transport thread hand ``chan``'s output to ``sink`` as each packet arrives.

    Instead of Paramiko's ``BufferedPipe``, which a reader thread drains with one
    condition-variable hand-off (and a GIL switch) per packet, the transport thread that has
    just decrypted the packet calls ``sink`` and then credits the receive window itself (what
    ``Channel.recv`` does). A slow sink therefore blocks the transport thread: acceptable with
    one session per connection, it is the back-pressure the window would otherwise give. EOF,
    close and exit status still go through Paramiko, after every earlier packet was delivered.

    Takes effect once :func:`install_channel_handlers` ran on the transport. Returns whether
    the sink was attached: not on an untested Paramiko (``recv`` then gets the data).
    """
    transport = chan.get_transport()
    if transport is None or not fast_path_allowed() or not direct_output_supported(transport):
        return False
    setattr(chan, _SINK_ATTR, sink)
    return True


def attached_output(chan: paramiko.Channel) -> OutputSink | None:
    """The sink :func:`attach_output` gave ``chan``, if any."""
    sink: OutputSink | None = getattr(chan, _SINK_ATTR, None)
    return sink


def credit_window(chan: paramiko.Channel, size: int) -> None:
    """Count ``size`` bytes as consumed and send the remote a window adjust when one is due."""
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


_UINT32 = struct.Struct(">I")


class _Payload:
    """A pre-built SSH message payload for the transport's ``send_message`` (it calls ``asbytes``)."""

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
    """Sends data on a channel in full packets, with less Python per packet than ``sendall``.

    ``Channel.sendall`` costs, per 32 KiB packet, a ``Message`` built through ``BytesIO``, the
    channel lock and a window wait, and ``Transport._send_user_message``'s key-exchange gate;
    on upload that Python is most of our CPU. This reserves send window for a whole chunk
    under one lock, takes the key-exchange gate once per chunk, and hands each packet's
    payload, built with one concatenation, to the transport's own packet writer (which
    frames, encrypts and counts it towards re-keying exactly as for ``sendall``).

    Only on a tested Paramiko whose channel and transport have the attributes it uses (see
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
