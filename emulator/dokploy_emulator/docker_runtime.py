"""A runtime backed by a real Docker engine: deploys run ``docker compose`` the way Dokploy does.

A deploy runs ``docker compose -p <appName> -f docker-compose.yml up -d --build
--remove-orphans`` in the compose's ``code`` dir with a bare environment (Dokploy's
``env -i PATH=$PATH HOME=$HOME``, plus whatever selects the engine); ``compose.start`` is
``up -d``, ``compose.stop`` is ``stop``, ``compose.delete`` is ``down [--volumes]``, and
containers are read from ``docker ps -a`` by the compose project label.

One deliberate difference from Dokploy: published ports are pinned to ``host_ip`` (127.0.0.1
by default) through a second compose file kept outside the ``code`` dir, so an emulated
workspace never listens on the machine's public interfaces.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import yaml

from .compose_file import ComposeSpec, PortMapping
from .runtime import ContainerView, RuntimeFailure

log = logging.getLogger(__name__)

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
#: What Dokploy keeps of its environment, plus what points the CLI at an engine.
PASSED_ENV = (
    "PATH",
    "HOME",
    "DOCKER_HOST",
    "DOCKER_CONFIG",
    "DOCKER_CONTEXT",
    "DOCKER_CERT_PATH",
    "DOCKER_TLS_VERIFY",
)
COMPOSE_TIMEOUT = 900.0
QUERY_TIMEOUT = 30.0
ERROR_TAIL_LINES = 15


def docker_available(timeout: float = 10.0) -> str | None:
    """``None`` when ``docker`` and ``docker compose`` reach an engine, else the reason."""
    if shutil.which("docker") is None:
        return "the docker CLI is not installed"
    for args in (
        ["docker", "version", "--format", "{{.Server.Version}}"],
        ["docker", "compose", "version", "--short"],
    ):
        try:
            proc = subprocess.run(
                args, capture_output=True, text=True, timeout=timeout, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"`{' '.join(args[:2])}` failed: {exc}"
        if proc.returncode != 0:
            return f"`{' '.join(args)}` failed: {(proc.stderr or proc.stdout).strip()[:300]}"
    return None


def _parse_ports(text: str) -> tuple[PortMapping, ...]:
    """Docker's ``Ports`` column, e.g. ``127.0.0.1:2230->22/tcp, :::2230->22/tcp``."""
    found: list[PortMapping] = []
    for part in (p.strip() for p in text.split(",")):
        host, arrow, target = part.partition("->")
        if not arrow:
            continue
        host_ip, _, published = host.rpartition(":")
        port, _, protocol = target.partition("/")
        try:
            mapping = PortMapping(int(published), int(port), protocol or "tcp", host_ip)
        except ValueError:
            continue
        if mapping not in found:
            found.append(mapping)
    return tuple(found)


class DockerRuntime:
    """Compose projects on a real Docker engine (``DOCKER_HOST`` etc. select which)."""

    def __init__(
        self, state_dir: Path, code_dir: Callable[[str], Path], host_ip: str = "127.0.0.1"
    ) -> None:
        self.state_dir = state_dir
        self._code_dir = code_dir
        self.host_ip = host_ip
        self._lock = threading.Lock()
        self._projects: set[str] = set()
        self._env = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}

    # --- Runtime protocol ---
    def up(
        self, project: str, spec: ComposeSpec, log_line: Callable[[str], None], recreate: bool
    ) -> None:
        """A deploy (``recreate``) is ``up -d --build --remove-orphans``; compose.start is
        ``up -d``. Compose itself decides whether a container must be recreated."""
        args = ["up", "-d"] + (["--build", "--remove-orphans"] if recreate else [])
        with self._lock:
            self._projects.add(project)
        self._compose(project, args, log_line, files=self._files(project, spec))

    def stop(self, project: str) -> None:
        """``docker compose -p <project> stop``."""
        self._compose(project, ["stop"], log.debug, files=None)

    def down(self, project: str, volumes: bool) -> None:
        """``docker compose -p <project> down [--volumes]``."""
        self._compose(project, ["down"] + (["--volumes"] if volumes else []), log.debug, files=None)
        with self._lock:
            self._projects.discard(project)
        self._override_path(project).unlink(missing_ok=True)

    def containers(self, project: str | None = None) -> list[ContainerView]:
        """``docker ps -a`` filtered by the compose project label, newest first; ``[]`` when
        docker fails, as Dokploy answers then."""
        label = PROJECT_LABEL if project is None else f"{PROJECT_LABEL}={project}"
        try:
            proc = self._docker(
                ["ps", "-a", "--no-trunc", "--filter", f"label={label}", "--format", "{{json .}}"]
            )
        except RuntimeFailure as exc:
            log.warning("%s", exc)
            return []
        if proc.returncode != 0:
            log.warning("docker ps failed: %s", proc.stderr.strip())
            return []
        with self._lock:
            known = set(self._projects)
        views: list[ContainerView] = []
        for line in proc.stdout.splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            labels = dict(
                item.partition("=")[::2]
                for item in str(row.get("Labels", "")).split(",")
                if "=" in item
            )
            owner = labels.get(PROJECT_LABEL, project or "")
            if project is None and owner not in known:
                continue  # another user's compose project on the same engine
            views.append(
                ContainerView(
                    container_id=str(row["ID"]),
                    name=str(row["Names"]).split(",")[0],
                    project=owner,
                    service=labels.get(SERVICE_LABEL, ""),
                    state=str(row.get("State", "")),
                    status=str(row.get("Status", "")),
                    ports=_parse_ports(str(row.get("Ports", ""))),
                    pid=None,
                )
            )
        return views

    def shutdown(self) -> None:
        """Remove the projects this runtime deployed, volumes included: like the sshd
        runtime's workspaces, they do not outlive the emulator."""
        with self._lock:
            projects = sorted(self._projects)
        for project in projects:
            try:
                self.down(project, volumes=True)
            except RuntimeFailure as exc:
                log.warning("could not remove compose project %s: %s", project, exc)

    # --- internals ---
    def _override_path(self, project: str) -> Path:
        return self.state_dir / "docker-overrides" / f"{project}.yml"

    def _files(self, project: str, spec: ComposeSpec) -> list[str]:
        """``docker-compose.yml`` plus the file that pins published ports to ``host_ip``."""
        services: dict[str, object] = {}
        for service in spec.services:
            if service.ports:
                pinned = [
                    f"{self.host_ip}:{p.published}:{p.target}/{p.protocol}" for p in service.ports
                ]
                services[service.name] = {"ports": _Override(pinned)}
        files = ["docker-compose.yml"]
        if services:
            path = self._override_path(project)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(
                yaml.dump({"services": services}, Dumper=_Dumper, sort_keys=False), encoding="utf-8"
            )
            files.append(str(path))
        return files

    def _compose(
        self,
        project: str,
        args: list[str],
        log_line: Callable[[str], None],
        files: list[str] | None,
    ) -> None:
        code = self._code_dir(project)
        command = ["docker", "compose", "-p", project]
        for name in files or []:
            command += ["-f", name]
        command += args
        log.info("%s (in %s)", " ".join(command), code)
        try:
            proc = subprocess.Popen(
                command,
                cwd=code if code.is_dir() else self.state_dir,
                env=self._env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
            )
        except OSError as exc:
            raise RuntimeFailure(f"could not run docker compose: {exc}") from exc
        lines: list[str] = []
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip("\n")
            lines.append(line)
            log_line(line)
        try:
            returncode = proc.wait(timeout=COMPOSE_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise RuntimeFailure(f"docker compose {args[0]} timed out") from None
        if returncode != 0:
            tail = [x for x in lines if x.strip()][-ERROR_TAIL_LINES:]
            raise RuntimeFailure(
                "\n".join(tail) or f"docker compose {args[0]} failed ({returncode})"
            )

    def _docker(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                ["docker", *args],
                capture_output=True,
                text=True,
                env=self._env,
                timeout=QUERY_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RuntimeFailure(f"docker {args[0]} failed: {exc}") from exc


class _Override(list[str]):
    """A list compose must use instead of merging (compose's ``!override`` tag)."""


class _Dumper(yaml.SafeDumper):
    pass


def _represent_override(dumper: yaml.SafeDumper, data: _Override) -> yaml.Node:
    return dumper.represent_sequence("!override", list(data))


_Dumper.add_representer(_Override, _represent_override)
