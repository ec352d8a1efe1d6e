"""The pump on a real connection: both output and input paths carry the bytes unchanged."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import pytest

from dokploy_provider import paramiko_fast

from .conftest import Workspace, needs_fast_path, run_in_process

MiB = 1024 * 1024


@pytest.mark.parametrize(
    ("direct", "fast_send"), [pytest.param(True, True, marks=needs_fast_path), (False, False)]
)
def test_both_paths_round_trip_and_keep_stderr_apart(
    workspace: Workspace, direct: bool, fast_send: bool
) -> None:
    payload = os.urandom(20 * MiB)  # more than the 8 MiB window both ways: credits must flow
    with tempfile.TemporaryDirectory() as tmp:
        code, out, err, conn, chan = run_in_process(
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
    assert (paramiko_fast.attached_output(chan) is not None) is direct
    if direct:
        assert len(chan.in_buffer) == 0 and len(chan.in_stderr_buffer) == 0
