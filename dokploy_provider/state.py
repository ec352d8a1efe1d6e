"""Machine state in ``MACHINE_FOLDER``: what ``create`` decided, read by every later verb.

Stdlib only: ``command`` and ``status`` load this on their hot path, so it must not pull in
pydantic or httpx. Every write is atomic (temp file in the same folder, fsync, rename) and
mode 0600; a half-written or corrupt file is reported, never silently replaced.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from dokploy_provider import log
from dokploy_provider.errors import ReadyTimeout, StateError

STATE_FILE = "dokploy-machine.json"
CLIENT_KEY_FILE = "id_ed25519"
HOST_KEY_FILE = "ssh_host_ed25519_key"
LOCK_FILE = ".dokploy-machine.lock"
#: A waiting verb says what it waits for after this long...
LOCK_NOTICE_SECONDS = 1.0
#: ...and gives up after this long: a create may hold the lock for its whole deploy
#: (DOKPLOY_DEPLOY_TIMEOUT, 15 min by default) and SSH wait.
LOCK_TIMEOUT_SECONDS = 20 * 60.0
LOCK_POLL_SECONDS = 0.1
#: Kept in DevPod's context folder (beside ``machines/``), never inside ``machines/``: DevPod
#: reads every entry there as a machine and ``devpod machine list`` fails on a stray file.
OWNER_FILE = "dokploy-provider-owner"
#: Where releases before 0.2 kept it (inside ``machines/``); read once and moved.
LEGACY_OWNER_FILE = ".dokploy-provider-owner"
STATE_SCHEMA = 1
logger = log.get("state")

#: The user the workspace's sshd lets us in as.
WORKSPACE_USER = "root"


@dataclass(frozen=True)
class MachineState:
    """Everything later verbs need to find and reach the workspace without re-deciding anything.

    ``phase`` records how far ``create`` got: ``keys`` (keys on disk), ``compose`` (compose row
    exists), ``deployed`` (a deploy was queued), ``ready`` (SSH answered once).
    """

    machine_id: str
    phase: str = "keys"
    server_url: str = ""
    project_id: str | None = None
    environment_id: str | None = None
    server_id: str | None = None
    compose_id: str | None = None
    app_name: str | None = None
    ssh_host: str = ""
    ssh_port: int = 0
    ssh_user: str = WORKSPACE_USER
    host_key_public: str = ""
    host_key_fingerprint: str = ""
    client_key_fingerprint: str = ""
    created_at: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def target(self) -> str:
        """``user@host:port``, for messages."""
        return f"{self.ssh_user}@{self.ssh_host}:{self.ssh_port}"

    def replace(self, **changes: Any) -> MachineState:
        """A copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)

    def to_json(self) -> str:
        """Serialise with the schema number."""
        payload = {"schema": STATE_SCHEMA, **dataclasses.asdict(self)}
        return json.dumps(payload, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, *, source: str) -> MachineState:
        """Parse a state file's text; ``source`` names the file in errors."""
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StateError(
                f"machine state file {source} is corrupt ({exc.msg} at line {exc.lineno})",
                hint="delete the machine with `devpod machine delete --force` and create it again",
            ) from exc
        if not isinstance(payload, dict) or payload.get("schema") != STATE_SCHEMA:
            raise StateError(
                f"machine state file {source} is not a schema-{STATE_SCHEMA} state file",
                hint="it was written by another provider version; recreate the machine",
            )
        payload.pop("schema")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(payload) - known
        if "machine_id" not in payload or unknown:
            raise StateError(
                f"machine state file {source} has unexpected content",
                hint="recreate the machine with `devpod machine delete --force` and `devpod up`",
            )
        try:
            return cls(**payload)
        except TypeError as exc:
            raise StateError(f"machine state file {source} is malformed: {exc}") from exc


class MachineFolder:
    """The folder DevPod gives each machine (``MACHINE_FOLDER``)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    @property
    def state_path(self) -> Path:
        """The state file."""
        return self.path / STATE_FILE

    @property
    def client_key_path(self) -> Path:
        """The machine's private ed25519 client key (OpenSSH format, 0600)."""
        return self.path / CLIENT_KEY_FILE

    @property
    def host_key_path(self) -> Path:
        """The workspace's private ed25519 host key that ``create`` generated (0600)."""
        return self.path / HOST_KEY_FILE

    def ensure(self) -> None:
        """Create the folder (0700) if DevPod did not, and check it is writable."""
        try:
            self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(
                f"cannot create machine folder {self.path}: {exc.strerror}",
                hint="check MACHINE_FOLDER and its permissions",
            ) from exc
        if not os.access(self.path, os.W_OK | os.X_OK):
            raise StateError(
                f"machine folder {self.path} is not writable",
                hint="fix its permissions or ownership",
            )

    def exists(self) -> bool:
        """Whether a state file is present."""
        return self.state_path.is_file()

    def load(self) -> MachineState | None:
        """The state, or ``None`` when there is no state file yet."""
        try:
            text = self.state_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError(
                f"cannot read machine state {self.state_path}: {exc.strerror}",
                hint="check the permissions of MACHINE_FOLDER",
            ) from exc
        return MachineState.from_json(text, source=str(self.state_path))

    def save(self, state: MachineState) -> None:
        """Write the state atomically with mode 0600."""
        write_private_file(self.state_path, state.to_json().encode("utf-8"))

    def remove(self) -> None:
        """Remove the state and key files (DevPod removes the folder itself after ``delete``)."""
        for path in (self.state_path, self.client_key_path, self.host_key_path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def write_private_file(path: Path, data: bytes) -> None:
    """Atomically replace ``path`` with ``data``, mode 0600, never leaving a partial file."""
    directory = path.parent
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise StateError(
            f"cannot write in machine folder {directory}: {exc.strerror}",
            hint="check that MACHINE_FOLDER exists and is writable",
        ) from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            os.chmod(tmp_name, 0o600)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise StateError(f"cannot write {path}: {exc.strerror}") from exc


@contextlib.contextmanager
def machine_lock(folder: MachineFolder, *, timeout: float = LOCK_TIMEOUT_SECONDS) -> Iterator[None]:
    """Hold an exclusive lock on the machine folder, so two verbs never mutate one machine.

    ``flock`` on POSIX, ``msvcrt.locking`` on Windows; released when the process ends, even
    when DevPod SIGKILLs it. A waiter says after a second what it waits for (the holder writes
    its pid and verb into the lock file) and gives up after ``timeout`` seconds.
    """
    folder.ensure()
    path = folder.path / LOCK_FILE
    handle = open(path, "a+b")  # noqa: SIM115 - held for the whole block
    try:
        os.chmod(path, 0o600)
        started = time.monotonic()
        told = False
        while not _try_lock(handle):
            waited = time.monotonic() - started
            if waited >= timeout:
                raise ReadyTimeout(
                    f"machine {folder.path.name} is still locked by {_holder(path)} after "
                    f"{waited:.0f} s",
                    hint="wait for that operation to end, or stop it; the lock goes with its "
                    "process",
                )
            if not told and waited >= LOCK_NOTICE_SECONDS:
                logger.info(
                    "Waiting for %s to finish with machine %s", _holder(path), folder.path.name
                )
                told = True
            time.sleep(LOCK_POLL_SECONDS)
        handle.seek(0)
        handle.truncate()
        verb = sys.argv[1] if len(sys.argv) > 1 else "a command"
        handle.write(f"{os.getpid()} {verb}\n".encode())
        handle.flush()
        yield
    finally:
        handle.close()


def _try_lock(handle: BinaryIO) -> bool:
    """Take the lock without blocking; False when another process holds it."""
    if sys.platform == "win32":
        import msvcrt

        handle.seek(0)
        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _holder(path: Path) -> str:
    """Who holds the lock, from what it wrote: "dokploy-provider create (pid 123)"."""
    try:
        pid, _, verb = path.read_text(encoding="utf-8").strip().partition(" ")
    except OSError:
        pid, verb = "", ""
    if not pid.isdigit():
        return "another dokploy-provider command"
    return f"dokploy-provider {verb or 'command'} (pid {pid})"


def machines_dir(environ: dict[str, str] | None = None) -> Path:
    """DevPod's folder of machine folders for the current context.

    ``MACHINE_FOLDER``'s parent when DevPod gave one; else derived from ``PROVIDER_FOLDER``
    (``<home>/contexts/<ctx>/providers/<name>``); else ``$DEVPOD_HOME`` (or ``~/.devpod``)
    with the ``default`` context.
    """
    env = os.environ if environ is None else environ
    if env.get("MACHINE_FOLDER"):
        return Path(env["MACHINE_FOLDER"]).parent
    if env.get("PROVIDER_FOLDER"):
        return Path(env["PROVIDER_FOLDER"]).parent.parent / "machines"
    home = Path(env.get("DEVPOD_HOME") or Path.home() / ".devpod")
    return home / "contexts" / env.get("DEVPOD_CONTEXT", "default") / "machines"


def installation_owner(machines: Path) -> str:
    """A random id for this DevPod installation, kept in its context folder.

    ``machines`` is DevPod's machines folder; the id lives beside it. It goes into every
    compose's marker, so ``cleanup`` only ever removes composes that this installation
    created, never another user's on the same Dokploy.
    """
    path = machines.parent / OWNER_FILE
    with contextlib.suppress(OSError):
        text = path.read_text(encoding="ascii").strip()
        if text:
            return text
    legacy = machines / LEGACY_OWNER_FILE
    with contextlib.suppress(OSError):
        owner = legacy.read_text(encoding="ascii").strip()
        if owner:
            _write_owner(path, owner)
            legacy.unlink()
            return owner
    return _write_owner(path, os.urandom(6).hex())


def _write_owner(path: Path, owner: str) -> str:
    """Create ``path`` holding ``owner`` unless it exists; return the id that won."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip() or owner
    except OSError as exc:
        raise StateError(f"cannot write {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(owner + "\n")
    return owner
