"""The emulator as one object: store, runtime, deploy queue, procedures and HTTP server."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from . import services
from .deploy import DeployQueue, Workspace
from .docker_runtime import DockerRuntime
from .errors import ApiError
from .faults import Faults
from .procedures import Procedures, public
from .runtime import Runtime, SshdRuntime
from .server import ApiApp, EmulatorHTTPServer, Response, json_response
from .store import Store
from .versions import DEFAULT_VERSION, Features

log = logging.getLogger(__name__)


class Emulator:
    """A stateful Dokploy API emulator serving on 127.0.0.1 in a background thread.

    >>> with Emulator(api_key="k", version="v0.30.2") as emu:
    ...     emu.url, emu.faults.set(http_500=1), emu.dump()
    """

    def __init__(
        self,
        api_key: str,
        *,
        version: str = DEFAULT_VERSION,
        state_dir: Path | str | None = None,
        server_ip: str = "127.0.0.1",
        remote_servers: Iterable[str] = (),
        deploy_delay: float = 0.05,
        port: int = 0,
        runtime: Runtime | str | None = None,
    ) -> None:
        self.features = Features.for_version(version)
        self._own_state_dir = state_dir is None
        self.state_dir = Path(state_dir or tempfile.mkdtemp(prefix="dokploy-emulator-"))
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.faults = Faults()
        self.state = Store(api_key=api_key, server_ip=server_ip)
        for name in remote_servers:
            self.state.add_server(name)
        self.workspace = Workspace(self.state_dir)
        self.runtime: Runtime = self._make_runtime(runtime)
        self.deploys = DeployQueue(
            self.state,
            self.runtime,
            self.faults,
            self.workspace,
            deploy_delay,
            features=self.features,
        )
        self.procedures = Procedures(
            self.state,
            self.features,
            faults=self.faults,
            runtime=self.runtime,
            deploys=self.deploys,
            workspace=self.workspace,
        )
        app = ApiApp(api_key, self.features, self.faults, self.procedures, self._admin)
        self._http = EmulatorHTTPServer(port, app)
        self._started = False

    def _make_runtime(self, runtime: Runtime | str | None) -> Runtime:
        """``runtime`` itself, or the one named: ``"sshd"`` (default) or ``"docker"``."""
        if runtime is None or runtime == "sshd":
            return SshdRuntime(self.state_dir, self.faults.take_exit_after_start)
        if runtime == "docker":
            return DockerRuntime(self.state_dir, self.workspace.code_dir)
        if isinstance(runtime, str):
            raise ValueError(f"unknown runtime {runtime!r}: use sshd or docker")
        return runtime

    @property
    def port(self) -> int:
        """The HTTP port."""
        return self._http.port

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:41234`` (the API is under ``/api``)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def version(self) -> str:
        """The emulated Dokploy version, e.g. ``v0.30.2``."""
        return self.features.version

    def start(self) -> Emulator:
        """Start serving in a background thread."""
        if not self._started:
            self._http.start_background()
            self._started = True
            log.info("serving %s as Dokploy %s (state %s)", self.url, self.version, self.state_dir)
        return self

    def stop(self) -> None:
        """Stop serving, stop the deploy workers and every sshd this emulator started."""
        if self._started:
            self._http.stop()
            self._started = False
        else:
            self._http.server_close()
        self.deploys.close()
        self.runtime.shutdown()
        if self._own_state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def dump(self) -> dict[str, Any]:
        """The state as JSON-ready data (what ``GET /__emulator/state`` returns)."""
        with self.state.lock:
            data: dict[str, Any] = {
                "version": self.version,
                "url": self.url,
                "stateDir": str(self.state_dir),
                "faults": self.faults.snapshot(),
                "servers": [public(s) for s in self.state.servers.values()],
                "projects": [public(p) for p in self.state.projects.values()],
                "environments": [public(e) for e in self.state.environments.values()],
                "composes": [public(c) for c in self.state.composes.values()],
                "deployments": [public(d) for d in self.state.deployments.values()],
                "services": [public(r) for r in self.state.services.values()],
                "queuedJobs": self.deploys.pending(),
            }
        data["containers"] = [
            {
                "containerId": c.container_id,
                "name": c.name,
                "project": c.project,
                "service": c.service,
                "state": c.state,
                "status": c.status,
                "pid": c.pid,
                "ports": [
                    {
                        "published": p.published,
                        "target": p.target,
                        "protocol": p.protocol,
                        "hostIp": p.host_ip,
                    }
                    for p in c.ports
                ],
            }
            for c in self.runtime.containers()
        ]
        return data

    def _clone(self, body: bytes) -> Response:
        """``POST /__emulator/clone {composeId, composeFile}``: what a Git-sourced compose's
        clone leaves on the server (the emulator has no Git)."""
        try:
            data = json.loads(body or b"{}")
            compose_id, compose_file = str(data["composeId"]), str(data["composeFile"])
        except (ValueError, TypeError, KeyError) as exc:
            return json_response(400, {"message": f"expected composeId and composeFile: {exc}"})
        with self.state.lock:
            compose = self.state.composes.get(compose_id)
            if compose is None:
                return json_response(404, {"message": "Compose not found"})
            self.workspace.clone(compose["appName"], compose_file)
        return json_response(200, {"composeId": compose_id})

    def _add_service(self, body: bytes) -> Response:
        """``POST /__emulator/service {kind, name, environmentId|projectId, serverId, ports |
        externalPort}``: an application or database made in Dokploy's UI, publishing ports."""
        try:
            data = json.loads(body or b"{}")
            if not isinstance(data, dict):
                raise ValueError("expected a JSON object")
            owner_key = "environmentId" if self.features.environments else "projectId"
            owner_id = str(data[owner_key])
        except (ValueError, TypeError, KeyError) as exc:
            return json_response(400, {"message": f"expected kind and the owner's id: {exc}"})
        with self.state.lock:
            owners = self.state.environments if self.features.environments else self.state.projects
            if owner_id not in owners:
                return json_response(404, {"message": f"no {owner_key} {owner_id}"})
            try:
                row = services.new_service(self.features, data, {owner_key: owner_id})
            except (ApiError, ValueError, TypeError, KeyError) as exc:
                return json_response(400, {"message": f"bad service: {exc}"})
            self.state.services[row[services.KINDS[row["_kind"]][1]]] = row
            return json_response(200, public(row))

    def _admin(self, method: str, path: str, body: bytes) -> Response:
        route = path.rstrip("/")
        if route == "/__emulator/state" and method == "GET":
            return json_response(200, self.dump())
        if route == "/__emulator/reset" and method == "POST":
            self.faults.reset()
            return json_response(200, {"faults": self.faults.snapshot()})
        if route == "/__emulator/clone" and method == "POST":
            return self._clone(body)
        if route == "/__emulator/service" and method == "POST":
            return self._add_service(body)
        if route == "/__emulator/faults" and method == "GET":
            return json_response(200, self.faults.snapshot())
        if route == "/__emulator/faults" and method == "POST":
            try:
                changes = json.loads(body or b"{}")
                if not isinstance(changes, dict):
                    raise ValueError("expected a JSON object")
                self.faults.set(**changes)
            except (ValueError, TypeError) as exc:
                return json_response(400, {"message": str(exc)})
            return json_response(200, self.faults.snapshot())
        return json_response(404, {"message": "Not found"})
