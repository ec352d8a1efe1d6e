"""The private-internals fast paths (``paramiko_fast``): their version guard, the transport
thread's window credits, full-packet sends, and re-keying while both run."""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
import threading
from importlib.metadata import requires
from pathlib import Path
from typing import Any

import paramiko
import pytest
from packaging.requirements import Requirement

from dokploy_provider import paramiko_fast, ssh

from .conftest import Workspace, needs_fast_path, run_in_process

MiB = 1024 * 1024


# ----------------------------------------------------------------------------- version guard


@pytest.mark.parametrize(
    ("version", "allowed"),
    [("5.1.0", True), ("3.5.1", True), ("5.2.0", False), ("5.0.1", False), ("4.0.0", False),
     ("3.4.1", False), ("", False)],
)  # fmt: skip
def test_fast_path_only_on_tested_paramiko(
    monkeypatch: pytest.MonkeyPatch, version: str, allowed: bool
) -> None:
    monkeypatch.delenv(paramiko_fast.FAST_PATH_ENV, raising=False)
    monkeypatch.setattr(paramiko, "__version__", version)
    assert paramiko_fast.fast_path_allowed() is allowed


def test_env_forces_the_public_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paramiko, "__version__", "5.1.0")
    monkeypatch.setenv(paramiko_fast.FAST_PATH_ENV, "0")
    assert not paramiko_fast.fast_path_allowed()


def test_tested_lines_are_inside_the_pinned_range() -> None:
    pins = [Requirement(r) for r in requires("dokploy-provider") or []]
    (pin,) = [r for r in pins if r.name == "paramiko" and r.marker is None]
    for line in paramiko_fast.FAST_PATH_PARAMIKO:
        assert pin.specifier.contains(line + "0"), (line, str(pin.specifier))


def test_untested_paramiko_touches_no_internals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paramiko, "__version__", "9.9.9")
    transport: Any = paramiko.Transport.__new__(paramiko.Transport)
    transport.clear_to_send = threading.Event()
    transport._send_user_message = lambda m: None
    assert not paramiko_fast.install_channel_handlers(transport)
    assert "_channel_handler_table" not in vars(transport)
    chan: Any = _FakeChannel(window=10)
    chan.transport = transport
    assert not paramiko_fast.attach_output(chan, _Sink())
    assert paramiko_fast.attached_output(chan) is None
    writer = paramiko_fast.ChannelWriter(chan)
    assert not writer.fast
    writer.send(b"hello")
    assert chan.fallback == [b"hello"]


# ----------------------------------------------------------------------------- on a connection


@needs_fast_path
def test_tested_paramiko_takes_every_fast_path(workspace: Workspace) -> None:
    # A tested release must not fall back quietly (an attribute check failing on a real
    # channel would leave the tunnel correct but slow).
    conn = ssh.connect(
        ssh.SSHTarget.of(workspace.state), workspace.folder.client_key_path, timeout=10
    )
    try:
        assert paramiko_fast.direct_output_supported(conn.transport)
        assert paramiko_fast.install_channel_handlers(conn.transport)
        chan = conn.open_session()
        assert paramiko_fast.ChannelWriter(chan).fast
        sink = _Sink()
        assert paramiko_fast.attach_output(chan, sink)
        assert paramiko_fast.attached_output(chan) is sink
    finally:
        conn.close()


@pytest.mark.slow
def test_rekeying_mid_stream_neither_stalls_nor_corrupts(workspace: Workspace) -> None:
    # Re-key every 4 MiB: window credits sent from the transport thread while a key exchange
    # runs must not wait on it, and stdin packets must wait for it (the kex gate).
    kex: list[int] = []

    def rekey_often(transport: paramiko.Transport) -> None:
        t: Any = transport
        t.packetizer.REKEY_BYTES = 4 * MiB
        original = t._send_kex_init

        def counting_kex_init() -> None:
            kex.append(1)
            original()

        t._send_kex_init = counting_kex_init

    payload = os.urandom(48 * MiB)
    with tempfile.TemporaryDirectory() as tmp:
        code, out, _, conn, _ = run_in_process(
            workspace, "cat", payload, Path(tmp), prepare=rekey_often
        )
        conn.close()
    assert code == 0
    assert len(kex) >= 5
    assert hashlib.sha256(out).digest() == hashlib.sha256(payload).digest()


# ----------------------------------------------------------------------------- with fakes


def test_direct_output_is_used_only_with_known_paramiko(monkeypatch: pytest.MonkeyPatch) -> None:
    transport: Any = paramiko.Transport.__new__(paramiko.Transport)
    transport.clear_to_send = threading.Event()
    transport._send_user_message = lambda m: None
    assert paramiko_fast.direct_output_supported(transport)
    table = dict(paramiko.Transport._channel_handler_table)  # type: ignore[attr-defined]
    table.pop(paramiko.common.MSG_CHANNEL_DATA)
    monkeypatch.setattr(paramiko.Transport, "_channel_handler_table", table)
    assert not paramiko_fast.direct_output_supported(transport)


class _Sink:
    def on_stdout(self, data: bytes) -> None:
        pass

    def on_stderr(self, data: bytes) -> None:
        pass


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
        self.transport: Any = _FakeTransport()
        self.fallback: list[bytes] = []

    def get_transport(self) -> Any:
        return self.transport

    def sendall(self, data: bytes) -> None:
        self.fallback.append(data)


@needs_fast_path
def test_channel_writer_packets_respect_packet_size_and_window() -> None:
    chan: Any = _FakeChannel(window=100_000)
    writer = paramiko_fast.ChannelWriter(chan)
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
    writer = paramiko_fast.ChannelWriter(chan)
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
    writer = paramiko_fast.ChannelWriter(chan)
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
    paramiko_fast.credit_window(chan, 1234)  # must return at once, not wait for the kex
    assert transport.sent == []
    released.set()
    for _ in range(100):
        if transport.sent:
            break
        threading.Event().wait(0.05)
    adjust = bytes([paramiko.common.MSG_CHANNEL_WINDOW_ADJUST]) + struct.pack(">II", 42, 1234)
    assert transport.sent == [adjust]
