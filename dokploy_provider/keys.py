"""SSH key material for a machine: the client key we log in with and the workspace's host key.

Both are ed25519, generated in-process with ``cryptography`` (no ``ssh-keygen``), stored in
``MACHINE_FOLDER`` with mode 0600 and reused when present, so a retried ``create`` keeps the
same keys. The host key is generated here, handed to the container (``DEVPOD_SSH_HOST_KEY``)
and pinned: ``ssh.connect`` accepts no other.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dokploy_provider.errors import StateError
from dokploy_provider.state import MachineFolder, write_private_file

KEY_TYPE = "ssh-ed25519"


@dataclass(frozen=True)
class KeyPair:
    """An ed25519 key pair in the forms OpenSSH uses.

    ``private_openssh`` is the private key in OpenSSH PEM format (unencrypted); ``public_line``
    the ``authorized_keys`` form; ``fingerprint`` exactly what ``ssh-keygen -lf`` prints
    (``SHA256:<base64 without padding>``).
    """

    private_openssh: bytes
    public_line: str
    fingerprint: str

    def __repr__(self) -> str:  # never show the private key in a traceback or log
        return f"KeyPair(public_line={self.public_line!r}, fingerprint={self.fingerprint!r})"


@dataclass(frozen=True)
class MachineKeys:
    """The public halves of a machine's two keys (the private halves stay in the folder)."""

    client_public_line: str
    client_fingerprint: str
    host_public_line: str
    host_fingerprint: str


def _public_line(key: Ed25519PrivateKey, comment: str) -> str:
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    line = public.decode("ascii")
    return f"{line} {comment}" if comment else line


def _keypair(key: Ed25519PrivateKey, comment: str, private_openssh: bytes | None = None) -> KeyPair:
    if private_openssh is None:
        private_openssh = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    line = _public_line(key, comment)
    return KeyPair(private_openssh, line, fingerprint_of_public_line(line))


def generate_keypair(comment: str = "") -> KeyPair:
    """A new ed25519 key pair; ``comment`` ends the public line."""
    return _keypair(Ed25519PrivateKey.generate(), comment)


def public_key_blob(line: str) -> bytes:
    """The binary public key of an ``authorized_keys``-style line (``type base64 [comment]``)."""
    parts = line.strip().split()
    if len(parts) < 2:
        raise ValueError(f"not an OpenSSH public key line: {line[:40]!r}")
    try:
        return base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"public key line has invalid base64: {line[:40]!r}") from exc


def fingerprint_of_public_line(line: str) -> str:
    """OpenSSH's SHA256 fingerprint of a public key line, e.g. ``SHA256:abc...`` (no padding)."""
    return fingerprint_of_blob(public_key_blob(line))


def fingerprint_of_blob(blob: bytes) -> str:
    """OpenSSH's SHA256 fingerprint of a binary public key (as sent in the SSH handshake)."""
    digest = hashlib.sha256(blob).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def load_keypair(path: Path, comment: str = "") -> KeyPair:
    """Read an unencrypted OpenSSH ed25519 private key file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise StateError(
            f"cannot read key {path}: {exc.strerror}",
            hint="check the permissions of MACHINE_FOLDER",
        ) from exc
    try:
        key = serialization.load_ssh_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise StateError(
            f"key file {path} is not a readable OpenSSH private key",
            hint="delete the machine with `devpod machine delete --force` and create it again",
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise StateError(
            f"key file {path} is not an ed25519 key",
            hint="delete the machine with `devpod machine delete --force` and create it again",
        )
    return _keypair(key, comment, private_openssh=data)


def _ensure_key(path: Path, comment: str) -> KeyPair:
    if path.exists():
        return load_keypair(path, comment)
    pair = generate_keypair(comment)
    write_private_file(path, pair.private_openssh)
    return pair


def ensure_machine_keys(folder: MachineFolder, machine_id: str) -> MachineKeys:
    """Create the client key and the workspace host key once (0600); reuse them when present."""
    folder.ensure()
    client = _ensure_key(folder.client_key_path, f"devpod-client@{machine_id}")
    host = _ensure_key(folder.host_key_path, f"devpod-workspace@{machine_id}")
    return MachineKeys(
        client_public_line=client.public_line,
        client_fingerprint=client.fingerprint,
        host_public_line=host.public_line,
        host_fingerprint=host.fingerprint,
    )


def host_key_b64(folder: MachineFolder) -> str:
    """Base64 of the host private key file (the container's ``DEVPOD_SSH_HOST_KEY``)."""
    try:
        data = folder.host_key_path.read_bytes()
    except OSError as exc:
        raise StateError(
            f"cannot read the workspace host key {folder.host_key_path}: {exc.strerror}",
            hint="run create again to generate it",
        ) from exc
    return base64.b64encode(data).decode("ascii")
