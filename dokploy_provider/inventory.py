"""The workspaces this provider created on a Dokploy server, found by their marker.

Used by ``list`` and ``cleanup``. A compose is ours when its description carries the
``[dokploy-provider machine=<id> owner=<installation>]`` marker; it is an *orphan* when this
DevPod installation created it but no local machine records it any more. Composes made by
another installation (another user, another laptop) are listed but never called orphans.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from dokploy_provider import log, port_claim
from dokploy_provider.errors import ProviderError, StateError
from dokploy_provider.machine import MachineService
from dokploy_provider.marker import Marker, parse_marker
from dokploy_provider.models import Compose, Server
from dokploy_provider.ports import published_ports
from dokploy_provider.state import (
    MachineFolder,
    MachineState,
    installation_owner,
    machines_dir,
)

LOCAL_SERVER = "dokploy host"
logger = log.get("inventory")


@dataclass(frozen=True)
class Workspace:
    """One compose carrying our marker, and what this installation knows about it."""

    compose: Compose
    marker: Marker
    local_state: MachineState | None
    ours: bool
    container_state: str

    @property
    def orphan(self) -> bool:
        """Created here, but no local machine points at it any more."""
        if not self.ours:
            return False
        return self.local_state is None or self.local_state.compose_id != self.compose.compose_id


def find_workspaces(
    service: MachineService,
    machines: Path | None = None,
    owner: str | None = None,
    *,
    with_containers: bool = True,
) -> list[Workspace]:
    """Every compose with our marker on the server, oldest first.

    ``machines`` is DevPod's machines folder and ``owner`` this installation's id; both
    default to what the environment says (:func:`state.machines_dir`).
    """
    machines = machines or machines_dir()
    owner = owner or installation_owner(machines)
    found: list[Workspace] = []
    for compose in port_claim.all_composes(service.client):
        marker = parse_marker(compose.description)
        if marker is None:
            continue
        container_state = "-"
        if with_containers:
            try:
                containers = service.client.get_containers(compose.app_name, compose.server_id)
                container_state = ",".join(sorted({c.state for c in containers})) or "none"
            except ProviderError as exc:
                container_state = f"unknown ({exc.message})"
        found.append(
            Workspace(
                compose=compose,
                marker=marker,
                local_state=_local_state(machines, marker.machine_id),
                ours=marker.owner == owner,
                container_state=container_state,
            )
        )
    found.sort(key=lambda w: (w.compose.created_at or "", w.compose.compose_id))
    return found


def _local_state(machines: Path, machine_id: str) -> MachineState | None:
    try:
        return MachineFolder(machines / machine_id).load()
    except StateError:
        # A corrupt state still means the machine exists here: never call that an orphan.
        return MachineState(machine_id=machine_id, compose_id="(unreadable state)")


def rows(
    service: MachineService, workspaces: list[Workspace], *, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Table rows for ``list`` and ``cleanup``."""
    servers: dict[str | None, Server] = {}
    if any(w.compose.server_id for w in workspaces):
        servers = {s.server_id: s for s in service.client.list_servers()}
    default_host: str | None = None
    result = []
    for ws in workspaces:
        compose = ws.compose
        if ws.local_state and ws.local_state.ssh_host:
            host = ws.local_state.ssh_host
        elif compose.server_id in servers:
            host = service.placer.ssh_host(servers[compose.server_id])
        else:
            default_host = default_host or service.placer.ssh_host(None)
            host = default_host
        ports = sorted(published_ports(compose.compose_file))
        server = servers.get(compose.server_id)
        result.append(
            {
                "machine": ws.marker.machine_id,
                "state": f"{compose.compose_status}/{ws.container_state}",
                "ssh": f"{host}:{ports[0]}" if ports else "-",
                "server": server.name if server else (compose.server_id or LOCAL_SERVER),
                "size": _size(compose.compose_file),
                "age": _age(compose.created_at, now),
                "app_name": compose.app_name,
                "compose_id": compose.compose_id,
                "owner": "this installation" if ws.ours else "another installation",
                "orphan": ws.orphan,
            }
        )
    return result


def cleanup_orphans(service: MachineService, *, remove: bool) -> list[dict[str, Any]]:
    """``cleanup``: the orphans of this installation as table rows; with ``remove``, delete
    each (volumes too unless WORKSPACE_KEEP_VOLUMES) and mark its row ``removed``."""
    orphans = [w for w in find_workspaces(service) if w.orphan]
    table = rows(service, orphans)
    if not orphans:
        logger.info("No orphaned workspaces: nothing to clean up")
    elif not remove:
        logger.info(
            "%d orphaned workspace(s) listed; run `dokploy-provider cleanup --yes` to remove them",
            len(orphans),
        )
    else:
        for workspace, row in zip(orphans, table, strict=True):
            logger.info("Removing %s", workspace.compose.app_name)
            service.client.delete_compose(
                workspace.compose.compose_id, delete_volumes=not service.settings.keep_volumes
            )
            row["removed"] = True
    return table


def _size(text: str) -> str:
    try:
        document = yaml.safe_load(text) or {}
        service = next(iter(document.get("services", {}).values()))
    except (yaml.YAMLError, StopIteration, AttributeError):
        return "-"
    if not isinstance(service, dict):
        return "-"
    parts = []
    if service.get("cpus"):
        parts.append(f"{service['cpus']} cpu")
    if service.get("mem_limit"):
        parts.append(f"{int(service['mem_limit']) // 1024**2} MiB")
    devices = _dig(service, "deploy", "resources", "reservations", "devices")
    if isinstance(devices, list) and devices and isinstance(devices[0], dict):
        parts.append(f"gpu {devices[0].get('count', '?')}")
    return ", ".join(parts) or "unlimited"


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _age(created_at: str | None, now: datetime | None) -> str:
    if not created_at:
        return "-"
    try:
        created = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    except ValueError:
        return "-"
    seconds = ((now or datetime.now(timezone.utc)) - created).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{max(0, int(seconds))}s"
