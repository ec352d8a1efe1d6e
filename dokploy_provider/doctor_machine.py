"""The doctor's checks past the Dokploy API: login shell, SSH host, ports, the machine's state,
its compose and container, and an SSH login.

:class:`MachineChecks` is the part of :class:`dokploy_provider.doctor.Doctor` that holds them;
they read what the earlier checks found in ``self.found``.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import TYPE_CHECKING

from dokploy_provider import log, port_claim
from dokploy_provider.doctor_report import PORTS_SHOWN, SET_OPTION, CheckFailed
from dokploy_provider.errors import NotFound

if TYPE_CHECKING:
    from dokploy_provider.doctor_report import Found
    from dokploy_provider.dokploy import DokployClient
    from dokploy_provider.machine import MachineService
    from dokploy_provider.models import Compose, DokployVersion
    from dokploy_provider.options import Settings
    from dokploy_provider.state import MachineFolder, MachineState

logger = log.get("doctor")


class MachineChecks:
    """The checks from the login shell to an SSH login, and the accessors they share."""

    found: Found
    machine_folder: Path | None
    machine_id: str | None
    ssh_timeout: float

    def _check_login_shell(self) -> str:
        """Dokploy #4260: on v0.28.2 to v0.29.13 a noisy login shell fails remote deploys."""
        from dokploy_provider import login_shell

        server = self.found.server
        version = self._version()
        if server is None:
            return "the Dokploy host deploys without SSH: not affected by Dokploy #4260"
        if not version.remote_deploy_fails_on_login_stderr:
            return f"Dokploy {version} does not read compose files back over SSH"
        on_server = [
            c for c in port_claim.all_composes(self._client()) if c.server_id == server.server_id
        ]
        failed = login_shell.composes_failed_by_it(self._client(), on_server)
        if failed:
            names = ", ".join(sorted(c.app_name for c in failed))
            raise CheckFailed(
                f"deploys on {server.name} fail with '{login_shell.COMPOSE_FILE_NOT_FOUND}' "
                f"({names}): " + login_shell.explanation(server.server_id, version),
                login_shell.FIX,
            )
        logs = (
            "no deploy there failed that way"
            if version.has_read_logs
            else ("this version cannot show deploy logs, so past failures were not checked")
        )
        return (
            f"Dokploy {version} fails every deploy on {server.name} if root's login shell "
            f"there writes to stderr (Dokploy #4260); {logs}"
        )

    def _check_ssh_host(self) -> str:
        settings = self._settings()
        server = self.found.server
        host = self._service().placer.ssh_host(server)
        self.found.ssh_host = host
        if settings.ssh_host_override:
            source = "DOKPLOY_SSH_HOST"
        elif server is not None and server.ip_address:
            source = "the remote server's IP"
        elif host != settings.server_url.host:
            source = "Dokploy's configured server IP"
        else:
            source = "the host of DOKPLOY_SERVER_URL"
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise CheckFailed(
                f"{host} (from {source}) does not resolve: {exc}",
                f"{SET_OPTION} DOKPLOY_SSH_HOST=<name or IP of the Docker host>",
            ) from None
        addresses = sorted({str(info[4][0]) for info in infos})
        return f"{host} (from {source}) resolves to {', '.join(addresses)}"

    def _check_ports(self) -> str:
        settings = self._settings()
        port_range = settings.port_range
        server = self.found.server
        server_id = server.server_id if server else None
        where = f"server {server.name}" if server else "the Dokploy host"
        logger.info("Reading the ports every compose and service on %s publishes…", where)
        client = self._client()
        projects = client.list_projects()
        taken: dict[int, list[str]] = {}
        for port, composes in port_claim.ports_on_server(
            client, server_id, projects=projects
        ).items():
            taken.setdefault(port, []).extend(_label(compose) for compose in composes)
        for port, services in port_claim.service_ports_on_server(
            client, server_id, projects=projects
        ).items():
            taken.setdefault(port, []).extend(s.app_name or s.name for s in services)
        taken = {port: labels for port, labels in taken.items() if port in port_range}
        free = len(port_range) - len(taken)
        self.found.data["ports"] = {
            "range": str(port_range),
            "free": free,
            "taken": {str(p): apps for p, apps in sorted(taken.items())},
        }
        shown = [f"{p} {'+'.join(apps)}" for p, apps in sorted(taken.items())[:PORTS_SHOWN]]
        if len(taken) > PORTS_SHOWN:
            shown.append(f"… {len(taken) - PORTS_SHOWN} more (--json lists all)")
        summary = f"{free} of {len(port_range)} free in {port_range} on {where}"
        if taken:
            summary += "; taken: " + ", ".join(shown)
        if free <= 0:
            raise CheckFailed(
                summary,
                "delete unused workspaces (`devpod delete`) or widen the range: "
                f"{SET_OPTION} DOKPLOY_SSH_PORT_RANGE={port_range.first}-"
                f"{min(port_range.last + 50, 65535)}",
            )
        return summary

    # ------------------------------------------------------------------ machine checks

    def _folder(self) -> MachineFolder:
        from dokploy_provider.state import MachineFolder

        assert self.machine_folder is not None
        return MachineFolder(self.machine_folder)

    def _check_state(self) -> str:
        folder = self._folder()
        if not folder.path.is_dir():
            raise CheckFailed(
                f"machine folder {folder.path} does not exist",
                "pass the folder DevPod made: ~/.devpod/contexts/<context>/machines/<machine>",
            )
        state = folder.load()
        if state is None:
            raise CheckFailed(
                f"no state file in {folder.path}: this machine was never created here",
                "run `devpod up` (or `devpod machine create`)",
            )
        if self.machine_id and state.machine_id != self.machine_id:
            raise CheckFailed(
                f"{folder.state_path} belongs to machine {state.machine_id!r}, "
                f"not {self.machine_id!r}",
                "MACHINE_FOLDER and MACHINE_ID must name the same machine",
            )
        if not state.compose_id:
            raise CheckFailed(
                f"machine {state.machine_id}'s create stopped before its compose existed "
                f"(phase {state.phase})",
                "run `devpod up` again: create resumes where it stopped",
            )
        if not folder.client_key_path.is_file():
            raise CheckFailed(
                f"the machine's SSH key {folder.client_key_path} is missing",
                "recreate the machine: `devpod machine delete --force <machine>` then `devpod up`",
            )
        self.found.state = state
        return (
            f"machine {state.machine_id}, phase {state.phase}, compose {state.compose_id}, "
            f"SSH {state.target}"
        )

    def _check_compose(self) -> str:
        state = self._state()
        try:
            compose = self._service().get_owned_compose(state)
        except NotFound:
            raise CheckFailed(
                f"Dokploy has no compose {state.compose_id} any more (deleted outside DevPod)",
                "`devpod machine delete --force <machine>`, then `devpod up` makes a new one",
            ) from None
        self.found.app_name = compose.app_name
        where = f"server {compose.server_id}" if compose.server_id else "the Dokploy host"
        if compose.compose_status == "error":
            raise CheckFailed(
                f"{compose.app_name}: its last Dokploy deployment failed",
                "open its Deployments tab in Dokploy for the log; `devpod up` redeploys it",
            )
        return f"{compose.app_name} on {where}, deploy status {compose.compose_status}"

    def _check_container(self) -> str:
        state = self._state()
        containers = self._client().get_containers(self.found.app_name, state.server_id)
        if not containers:
            raise CheckFailed(
                f"Dokploy lists no container for {self.found.app_name}",
                "`devpod up` redeploys it (or `devpod machine start <machine>`)",
            )
        running = [c for c in containers if c.state == "running"]
        if not running:
            states = ", ".join(f"{c.name} {c.status or c.state}" for c in containers)
            raise CheckFailed(
                f"the workspace is not running ({states})",
                "`devpod up` (or `devpod machine start <machine>`) starts it",
            )
        return ", ".join(f"{c.name} {c.status or c.state}" for c in running)

    def _check_ssh(self) -> str:
        from dokploy_provider import ssh_ready as ready

        state = self._state()
        logger.info("Trying an SSH login to %s…", state.target)
        result = ready.probe(state, self._folder().client_key_path, self.ssh_timeout)
        if result.ok:
            return f"{result.detail}; host key {state.host_key_fingerprint or 'pinned'}"
        fixes = {
            ready.PORT_CLOSED: f"open port {state.ssh_port} on {state.ssh_host} in the firewall, "
            "or set DOKPLOY_SSH_HOST to an address that reaches the Docker host",
            ready.NO_BANNER: f"something other than the workspace's sshd holds port "
            f"{state.ssh_port}; check DOKPLOY_SSH_HOST and the server's firewall/NAT",
            ready.HOST_KEY_MISMATCH: "another workspace answers on that port; recreate this one: "
            "`devpod machine delete --force <machine>` then `devpod up`",
            ready.AUTH_REFUSED: "the workspace does not hold this machine's key; `devpod up` "
            "redeploys it with the key",
        }
        raise CheckFailed(result.detail, fixes.get(result.kind))

    # ------------------------------------------------------------------ accessors

    def _settings(self) -> Settings:
        assert self.found.settings is not None
        return self.found.settings

    def _client(self) -> DokployClient:
        assert self.found.client is not None
        return self.found.client

    def _service(self) -> MachineService:
        assert self.found.service is not None
        return self.found.service

    def _version(self) -> DokployVersion:
        assert self.found.version is not None
        return self.found.version

    def _state(self) -> MachineState:
        assert self.found.state is not None
        return self.found.state


def _label(compose: Compose) -> str:
    """A compose's app name, and the DevPod machine whose marker it carries."""
    from dokploy_provider.marker import owner_of

    owner = owner_of(compose.description)
    return compose.app_name + (f" (machine {owner})" if owner else "")
