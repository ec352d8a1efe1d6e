"""Key generation, fingerprints and reuse (no sshd needed)."""

from __future__ import annotations

import base64
import shutil
import stat
import subprocess
from pathlib import Path

import paramiko
import pytest

from dokploy_provider.errors import StateError
from dokploy_provider.keys import (
    ensure_machine_keys,
    fingerprint_of_public_line,
    generate_keypair,
    host_key_b64,
)
from dokploy_provider.state import MachineFolder


def test_generated_keypair_has_openssh_forms() -> None:
    pair = generate_keypair("me@here")
    assert pair.private_openssh.startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----")
    kind, blob, comment = pair.public_line.split()
    assert kind == "ssh-ed25519" and comment == "me@here"
    assert blob.startswith("AAAAC3NzaC1lZDI1NTE5")
    assert pair.fingerprint.startswith("SHA256:") and not pair.fingerprint.endswith("=")
    assert len(pair.fingerprint) == len("SHA256:") + 43
    assert "PRIVATE" not in repr(pair)


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen not installed")
def test_fingerprint_matches_ssh_keygen(tmp_path: Path) -> None:
    pair = generate_keypair("fp-test")
    pub = tmp_path / "key.pub"
    pub.write_text(pair.public_line + "\n")
    out = subprocess.run(
        ["ssh-keygen", "-lf", str(pub)], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[1] == pair.fingerprint == fingerprint_of_public_line(pair.public_line)
    # ssh-keygen derives the same public key from our private key file
    priv = tmp_path / "key"
    priv.write_bytes(pair.private_openssh)
    priv.chmod(0o600)
    derived = subprocess.run(
        ["ssh-keygen", "-y", "-f", str(priv)], capture_output=True, text=True, check=True
    ).stdout.split()
    assert derived[:2] == pair.public_line.split()[:2]


def test_ensure_machine_keys_creates_0600_and_reuses(tmp_path: Path) -> None:
    folder = MachineFolder(tmp_path / "machines" / "m1")
    first = ensure_machine_keys(folder, "m1")
    for path in (folder.client_key_path, folder.host_key_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.client_fingerprint != first.host_fingerprint
    assert first.client_public_line.endswith("m1")
    assert fingerprint_of_public_line(first.host_public_line) == first.host_fingerprint
    client_bytes = folder.client_key_path.read_bytes()
    second = ensure_machine_keys(folder, "m1")
    assert second == first
    assert folder.client_key_path.read_bytes() == client_bytes
    # Paramiko can use the client key as written
    key = paramiko.Ed25519Key.from_private_key_file(str(folder.client_key_path))
    assert key.fingerprint == first.client_fingerprint


def test_host_key_b64_is_the_private_key_file(tmp_path: Path) -> None:
    folder = MachineFolder(tmp_path / "m")
    ensure_machine_keys(folder, "m")
    decoded = base64.b64decode(host_key_b64(folder))
    assert decoded == folder.host_key_path.read_bytes()


def test_corrupt_key_file_is_a_state_error(tmp_path: Path) -> None:
    folder = MachineFolder(tmp_path / "m")
    folder.ensure()
    folder.client_key_path.write_bytes(b"not a key")
    with pytest.raises(StateError, match="not a readable OpenSSH private key"):
        ensure_machine_keys(folder, "m")


def test_host_key_b64_without_key_is_a_state_error(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="host key"):
        host_key_b64(MachineFolder(tmp_path))
