"""Emulated container runtime: compose services become real sshd processes (or idle records).

A service that publishes a host port to container port 22 gets a real OpenSSH sshd on
127.0.0.1:<host port> (see ``sshd.py``); other services are containers that just stay
``running``. Named volumes are directories under the state dir, bind-mounted into the
workspace's own mount namespace. The ``Runtime`` protocol is what the rest of the emulator
uses, so a runtime backed by real ``docker compose`` can replace this one.
"""

from __future__ import annotations

import base64
import binascii
import logging
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .compose_file import ComposeSpec, PortMapping, ServiceSpec
from .ids import container_id
from .sshd import SshdError, SshdProcess, SshdSpec, port_bindable

log = logging.getLogger(__name__)

SSH_ENV_PREFIX = "DEVPOD_SSH_"


class RuntimeFailure(RuntimeError):
    """``docker compose`` failed; the message is the daemon's error line."""


@dataclass(frozen=True)
class ContainerView:
    """A container as ``docker ps -a`` would describe it."""

    container_id: str
    name: str
    project: str
    service: str
    state: str  # running | exited | created
    status: str  # "Up 3 seconds", "Exited (0) 2 seconds ago", "Created"
    ports: tuple[PortMapping, ...]
    pid: int | None


class Runtime(Protocol):
    """What the emulator needs from a container engine, per compose project (= appName)."""

    def up(
        self, project: str, spec: ComposeSpec, log_line: Callable[[str], None], recreate: bool
    ) -> None:
        """``docker compose up -d``: create/start the services; ``recreate`` replaces existing
        containers (deploy), otherwise existing ones are just started (compose.start)."""

    def stop(self, project: str) -> None:
        """``docker compose stop``: containers become ``exited``."""

    def down(self, project: str, volumes: bool) -> None:
        """``docker compose down [--volumes]``: remove containers (and the project's volumes)."""

    def containers(self, project: str | None = None) -> list[ContainerView]:
        """Containers of one project (all when None), newest first."""

    def shutdown(self) -> None:
        """Stop everything this runtime started."""


def generate_host_key() -> bytes:
    """A fresh ed25519 host key in OpenSSH private-key format."""
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )


def _human(seconds: float) -> str:
    # docker's units.HumanDuration
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = s // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = round(s / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    return f"{hours // 24} days"


@dataclass
class _Container:
    container_id: str
    name: str
    project: str
    service: ServiceSpec
    workdir: Path
    binds: tuple[tuple[Path, str], ...]
    host_key: bytes | None = None
    state: str = "created"
    exit_code: int = 0
    changed_at: float = field(default_factory=time.time)
    sshd: SshdProcess | None = None

    @property
    def ssh_port(self) -> int | None:
        for port in self.service.ports:
            if port.target == 22 and port.protocol == "tcp":
                return port.published
        return None

    def refresh(self) -> None:
        """Notice an sshd that exited by itself (e.g. ``kill 1`` inside the workspace)."""
        if self.state == "running" and self.sshd is not None and not self.sshd.alive():
            self.sshd.stop()
            self.sshd = None
            self.state, self.exit_code, self.changed_at = "exited", 0, time.time()

    def view(self) -> ContainerView:
        age = _human(time.time() - self.changed_at)
        status = {
            "running": f"Up {age}",
            "exited": f"Exited ({self.exit_code}) {age} ago",
        }.get(self.state, "Created")
        return ContainerView(
            self.container_id,
            self.name,
            self.project,
            self.service.name,
            self.state,
            status,
            self.service.ports,
            self.sshd.pid if self.sshd else None,
        )


class SshdRuntime:
    """The default runtime: sshd processes for port-22 services, directories for volumes."""

    def __init__(self, state_dir: Path, exit_after_start: Callable[[], bool] | None = None) -> None:
        self.state_dir = state_dir
        self._exit_after_start = exit_after_start or (lambda: False)
        self._lock = threading.RLock()
        self._projects: dict[str, list[_Container]] = {}
        self._volumes: dict[str, set[str]] = {}  # project -> engine names it created
        self._created_seq: list[str] = []  # container ids in creation order

    def volume_dir(self, engine_name: str) -> Path:
        """Host directory backing a named volume."""
        return self.state_dir / "volumes" / engine_name

    # --- Runtime protocol ---
    def up(
        self, project: str, spec: ComposeSpec, log_line: Callable[[str], None], recreate: bool
    ) -> None:
        with self._lock:
            existing = self._projects.get(project, [])
            if recreate or any(
                c.service.name not in {s.name for s in spec.services} for c in existing
            ):
                for container in existing:
                    log_line(f" Container {container.name}  Stopping")
                    self._kill(container)
                    self._remove(container)
                existing = []
            by_service = {c.service.name: c for c in existing}
            current: list[_Container] = []
            self._projects[project] = current
            for key, engine in spec.volume_names.items():
                if not self.volume_dir(engine).exists():
                    log_line(f' Volume "{engine}"  Creating')
                    self.volume_dir(engine).mkdir(parents=True)
                    log_line(f' Volume "{engine}"  Created')
                if key not in spec.external_volumes:
                    self._volumes.setdefault(project, set()).add(engine)
            for service in spec.services:
                container = by_service.get(service.name) or self._create(project, service, spec)
                current.append(container)
                container.refresh()
                if container.state == "running":
                    log_line(f" Container {container.name}  Running")
                    continue
                log_line(f" Container {container.name}  Starting")
                self._start(container)
                log_line(f" Container {container.name}  Started")

    def stop(self, project: str) -> None:
        with self._lock:
            for container in self._projects.get(project, []):
                container.refresh()
                if container.state == "running":
                    self._kill(container)

    def down(self, project: str, volumes: bool) -> None:
        with self._lock:
            for container in self._projects.pop(project, []):
                self._kill(container)
                self._remove(container)
            names = self._volumes.pop(project, set())
            if volumes:
                for name in names:
                    shutil.rmtree(self.volume_dir(name), ignore_errors=True)

    def containers(self, project: str | None = None) -> list[ContainerView]:
        with self._lock:
            found = [c for p, cs in self._projects.items() if project in (None, p) for c in cs]
            for container in found:
                container.refresh()
            order = {cid: i for i, cid in enumerate(self._created_seq)}
            found.sort(key=lambda c: order.get(c.container_id, 0), reverse=True)
            return [c.view() for c in found]

    def shutdown(self) -> None:
        with self._lock:
            for containers in self._projects.values():
                for container in containers:
                    self._kill(container)

    # --- internals ---
    def _create(self, project: str, service: ServiceSpec, spec: ComposeSpec) -> _Container:
        cid = container_id()
        binds = tuple(
            (self.volume_dir(spec.volume_names[v.name]), v.target) for v in service.volumes
        )
        container = _Container(
            container_id=cid,
            name=service.container_name or f"{project}-{service.name}-1",
            project=project,
            service=service,
            workdir=self.state_dir / "containers" / cid,
            binds=binds,
        )
        self._created_seq.append(cid)
        return container

    def _held_ports(self, exclude: _Container) -> set[int]:
        held: set[int] = set()
        for containers in self._projects.values():
            for other in containers:
                other.refresh()
                if other is not exclude and other.state == "running":
                    held.update(p.published for p in other.service.ports)
        return held

    def _start(self, container: _Container) -> None:
        held = self._held_ports(container)
        for port in container.service.ports:
            address = f"{port.host_ip or '0.0.0.0'}:{port.published}"
            if port.published in held:  # Docker's own port allocator knows the other container
                cause = f"Bind for {address} failed: port is already allocated"
            elif not port_bindable(port.published):  # a process outside Docker holds it
                cause = (
                    f"Error starting userland proxy: listen tcp4 {address}: bind: "
                    "address already in use"
                )
            else:
                continue
            container.state, container.changed_at = "created", time.time()
            raise RuntimeFailure(
                "Error response from daemon: driver failed programming external "
                f"connectivity on endpoint {container.name}: {cause}"
            )
        ssh_port = container.ssh_port
        if ssh_port is not None:
            self._start_sshd(container, ssh_port)
        container.state, container.changed_at = "running", time.time()
        if container.sshd is not None and self._exit_after_start():
            log.info("fault: container %s exits right after start", container.name)
            container.sshd.stop()

    def _start_sshd(self, container: _Container, port: int) -> None:
        env = container.service.environment
        encoded = env.get(f"{SSH_ENV_PREFIX}HOST_KEY", "").strip()
        if encoded:
            try:
                container.host_key = base64.b64decode(encoded, validate=False)
            except (binascii.Error, ValueError) as exc:
                raise RuntimeFailure(
                    f"{container.name}: DEVPOD_SSH_HOST_KEY is not base64"
                ) from exc
        elif container.host_key is None:
            container.host_key = generate_host_key()
        spec = SshdSpec(
            port=port,
            host_key_pem=container.host_key,
            authorized_keys=env.get(f"{SSH_ENV_PREFIX}AUTHORIZED_KEY", ""),
            environment={k: v for k, v in env.items() if not k.startswith(SSH_ENV_PREFIX)},
            binds=container.binds,
        )
        for host_dir, _ in container.binds:
            host_dir.mkdir(parents=True, exist_ok=True)
        sshd = SshdProcess(container.workdir, spec)
        try:
            sshd.start()
        except SshdError as exc:
            container.state, container.exit_code, container.changed_at = "exited", 1, time.time()
            raise RuntimeFailure(f"container {container.name} exited (1): {exc}") from exc
        container.sshd = sshd

    def _kill(self, container: _Container) -> None:
        """Stop the container as ``docker stop`` does: its sshd goes, it exits with 0."""
        if container.sshd is not None:
            container.sshd.stop()
            container.sshd = None
            # The namespace's listener can outlive the reaped unshare by a moment; the port
            # must be free again before a replacement container binds it.
            port = container.ssh_port
            deadline = time.monotonic() + 5
            while port is not None and not port_bindable(port) and time.monotonic() < deadline:
                time.sleep(0.01)
        if container.state == "running":
            container.state, container.exit_code, container.changed_at = "exited", 0, time.time()

    def _remove(self, container: _Container) -> None:
        shutil.rmtree(container.workdir, ignore_errors=True)
        if container.container_id in self._created_seq:
            self._created_seq.remove(container.container_id)
