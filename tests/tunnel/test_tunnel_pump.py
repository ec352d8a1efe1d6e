"""The pump's fast paths: output written by the transport thread, stdin sent in full packets."""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
import threading
from pathlib import Path
from typing import Any

import paramiko
import pytest

from dokploy_provider import pump, ssh

from .conftest import Workspace

#: The tests of the private-internals fast paths themselves (the rest run on both paths).
needs_fast_path = pytest.mark.skipif(
    not pump.fast_path_allowed(), reason="fast path off (DOKPLOY_PROVIDER_SSH_FAST_PATH=0 or "
    "an untested Paramiko): only the public-API path runs"
)

MiB = 1024 * 1024


def _run_in_process(
    workspace: Workspace,
    command: str,
    payload: bytes,
    tmp: Path,
    *,
    direct: bool = True,
    fast_send: bool = True,
    rekey_bytes: int | None = None,
) -> tuple[int, bytes, bytes, ssh.Connection, paramiko.Channel, list[int]]:
    """``pump.run`` on a real connection with files as stdio; returns what came back."""
    conn = ssh.connect(workspace.state, workspace.folder.client_key_path, timeout=10)
    kex: list[int] = []
    transport: Any = conn.transport
    if rekey_bytes is not None:  # make the transport re-key often while data flows
        transport.packetizer.REKEY_BYTES = rekey_bytes
        original = transport._send_kex_init

        def counting_kex_init() -> None:
            kex.append(1)
            original()

        transport._send_kex_init = counting_kex_init
    source = tmp / "in.bin"
    source.write_bytes(payload)
    out_path, err_path = tmp / "out.bin", tmp / "err.bin"
    chan = conn.open_session()
    with source.open("rb") as stdin, out_path.open("wb") as out, err_path.open("wb") as err:
        status = pump.Pump(chan, stdin, out, err, direct=direct, fast_send=fast_send)
        pump.install_channel_handlers(conn.transport)
        status.start(command)
        code = status.wait()
    return code, out_path.read_bytes(), err_path.read_bytes(), conn, chan, kex


@pytest.mark.parametrize(
    ("direct", "fast_send"), [pytest.param(True, True, marks=needs_fast_path), (False, False)]
)
def test_both_paths_round_trip_and_keep_stderr_apart(
    workspace: Workspace, direct: bool, fast_send: bool
) -> None:
    payload = os.urandom(20 * MiB)  # more than the 8 MiB window both ways: credits must flow
    with tempfile.TemporaryDirectory() as tmp:
        code, out, err, conn, chan, _ = _run_in_process(
            workspace,
            "cat; echo on-stderr >&2; exit 7",
            payload,
            Path(tmp),
            direct=direct,
            fast_send=fast_send,
        )
        conn.close()
    assert code == 7
    assert hashlib.sha256(out).digest() == hashlib.sha256(payload).digest()
    assert err == b"on-stderr\n"
    # With the direct path nothing was ever buffered in Paramiko's pipes.
    assert (getattr(chan, pump._DIRECT_ATTR, None) is not None) is direct
    if direct:
        assert len(chan.in_buffer) == 0 and len(chan.in_stderr_buffer) == 0


@pytest.mark.slow
def test_rekeying_mid_stream_neither_stalls_nor_corrupts(workspace: Workspace) -> None:
    # Re-key every 4 MiB: window credits sent from the transport thread while a key exchange
    # runs must not wait on it, and stdin packets must wait for it (the kex gate).
    payload = os.urandom(48 * MiB)
    with tempfile.TemporaryDirectory() as tmp:
        code, out, _, conn, _, kex = _run_in_process(
            workspace, "cat", payload, Path(tmp), rekey_bytes=4 * MiB
        )
        conn.close()
    assert code == 0
    assert len(kex) >= 5
    assert hashlib.sha256(out).digest() == hashlib.sha256(payload).digest()


def test_direct_output_is_used_only_with_known_paramiko(monkeypatch: pytest.MonkeyPatch) -> None:
    transport: Any = paramiko.Transport.__new__(paramiko.Transport)
    transport.clear_to_send = threading.Event()
    transport._send_user_message = lambda m: None
    assert pump.direct_output_supported(transport)
    table = dict(paramiko.Transport._channel_handler_table)  # type: ignore[attr-defined]
    table.pop(paramiko.common.MSG_CHANNEL_DATA)
    monkeypatch.setattr(paramiko.Transport, "_channel_handler_table", table)
    assert not pump.direct_output_supported(transport)


class _FakePacketizer:
    def __init__(self) -> None:
        self.payloads: list[bytes] = []

    def send_message(self, data: Any) -> None:
        self.payloads.append(data.asbytes())


class _FakeTransport:
    def __init__(self) -> None:
        self.clear_to_send = threading.Event()
        self.clear_to_send.set()
        self.clear_to_send_lock = threading.Lock()
        self.packetizer = _FakePacketizer()
        self.active = True
        self.sent: list[bytes] = []

    def _send_user_message(self, m: paramiko.Message) -> None:
        self.sent.append(m.asbytes())


class _FakeChannel:
    def __init__(self, window: int) -> None:
        self.lock = threading.Lock()
        self.out_buffer_cv = threading.Condition(self.lock)
        self.out_window_size = window
        self.remote_chanid = 42
        self.out_max_packet_size = 32768
        self.closed = False
        self.eof_sent = False
        self.transport = _FakeTransport()
        self.fallback: list[bytes] = []

    def get_transport(self) -> _FakeTransport:
        return self.transport

    def sendall(self, data: bytes) -> None:
        self.fallback.append(data)


@needs_fast_path
def test_channel_writer_packets_respect_packet_size_and_window() -> None:
    chan: Any = _FakeChannel(window=100_000)
    writer = pump.ChannelWriter(chan)
    assert writer.fast
    data = os.urandom(150_000)
    sender = threading.Thread(target=writer.send, args=(data,))
    sender.start()
    sender.join(0.5)
    assert sender.is_alive()  # the window ran out after 100,000 bytes: it waits
    with chan.lock:
        chan.out_window_size += 1_000_000
        chan.out_buffer_cv.notify_all()
    sender.join(5)
    assert not sender.is_alive()
    payloads = chan.transport.packetizer.payloads
    body = b""
    for payload in payloads:
        kind, chanid, size = struct.unpack(">BII", payload[:9])
        assert (kind, chanid, size) == (paramiko.common.MSG_CHANNEL_DATA, 42, len(payload) - 9)
        assert size <= 32768 - 64
        body += payload[9:]
    assert body == data
    assert chan.out_window_size == 1_100_000 - 150_000


@needs_fast_path
def test_channel_writer_raises_once_the_channel_closed() -> None:
    chan: Any = _FakeChannel(window=0)
    writer = pump.ChannelWriter(chan)
    failure: list[BaseException] = []

    def send() -> None:
        try:
            writer.send(b"x" * 10)
        except OSError as exc:
            failure.append(exc)

    sender = threading.Thread(target=send)
    sender.start()
    with chan.lock:
        chan.closed = True
        chan.out_buffer_cv.notify_all()
    sender.join(5)
    assert failure and not chan.transport.packetizer.payloads


def test_channel_writer_falls_back_to_sendall_on_unknown_paramiko() -> None:
    chan: Any = _FakeChannel(window=10)
    del chan.out_buffer_cv
    writer = pump.ChannelWriter(chan)
    assert not writer.fast
    writer.send(b"hello")
    assert chan.fallback == [b"hello"]


def test_window_credit_during_key_exchange_is_sent_by_a_helper() -> None:
    chan: Any = _FakeChannel(window=0)
    chan._check_add_window = lambda size: size
    transport = chan.transport
    transport.clear_to_send.clear()  # a key exchange is running on the transport thread
    released = threading.Event()

    def send_user_message(m: paramiko.Message) -> None:
        released.wait(5)  # blocks like Paramiko's gate until the exchange ends
        transport.sent.append(m.asbytes())

    transport._send_user_message = send_user_message
    pump.DirectOutput._credit(chan, 1234)  # must return at once, not wait for the kex
    assert transport.sent == []
    released.set()
    for _ in range(100):
        if transport.sent:
            break
        threading.Event().wait(0.05)
    adjust = bytes([paramiko.common.MSG_CHANNEL_WINDOW_ADJUST]) + struct.pack(">II", 42, 1234)
    assert transport.sent == [adjust]
