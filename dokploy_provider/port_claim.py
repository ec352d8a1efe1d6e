"""SSH port claiming: the ports other composes publish (read as Dokploy deploys them) and the
ports Dokploy's applications and databases publish, and claiming one for a workspace so that
two creates at once never share it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from dokploy_provider import compose as compose_file
from dokploy_provider import log
from dokploy_provider.dokploy import DokployClient
from dokploy_provider.errors import NotFound, ProviderError, ReadyTimeout
from dokploy_provider.keys import host_key_b64
from dokploy_provider.marker import owner_of
from dokploy_provider.models import Compose, ComposeSummary, Project, Service, ServiceRef
from dokploy_provider.options import Settings
from dokploy_provider.ports import choose_port, compose_variables, published_ports
from dokploy_provider.state import MachineFolder, MachineState

logger = log.get("machine")

#: How many ports a create moves through (a race, or Docker saying the port is taken).
MAX_PORT_MOVES = 8


def get_compose_or_none(client: DokployClient, compose_id: str) -> Compose | None:
    """``compose.one``, or ``None`` when Dokploy says the compose does not exist."""
    try:
        return client.get_compose(compose_id)
    except NotFound:
        return None


def all_composes(client: DokployClient, projects: list[Project] | None = None) -> list[Compose]:
    """Every compose the API key can see, in full (compose files included); ``projects`` is a
    ``project.all`` answer already at hand."""
    summaries: list[ComposeSummary] = []
    for project in client.list_projects() if projects is None else projects:
        summaries.extend(project.all_composes)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(
            pool.map(
                lambda cid: get_compose_or_none(client, cid), [s.compose_id for s in summaries]
            )
        )
    return [c for c in results if c is not None]


def workspaces_per_server(client: DokployClient) -> dict[str | None, int]:
    """How many of this provider's workspaces (by marker) each server holds."""
    counts: dict[str | None, int] = {}
    for compose in all_composes(client):
        if owner_of(compose.description):
            counts[compose.server_id] = counts.get(compose.server_id, 0) + 1
    return counts


def compose_text(client: DokployClient, compose: Compose) -> str:
    """The compose file Dokploy deploys: the stored one, or for a Git-sourced compose (whose
    ``composeFile`` is empty) the one its last clone holds."""
    if compose.compose_file.strip() or compose.source_type in {None, "raw"}:
        return compose.compose_file
    try:
        return client.get_converted_compose(compose.compose_id) or ""
    except ProviderError as exc:
        logger.debug("could not read the compose file of %s: %s", compose.app_name, exc)
        return ""


def ports_on_server(
    client: DokployClient,
    server_id: str | None,
    *,
    excluding: str | None = None,
    projects: list[Project] | None = None,
) -> dict[int, list[Compose]]:
    """Host ports the composes on ``server_id`` publish (read from their compose files), with
    the composes publishing each; the compose ``excluding`` is left out."""
    ports: dict[int, list[Compose]] = {}
    for compose in all_composes(client, projects):
        if compose.compose_id == excluding or compose.server_id != server_id:
            continue
        variables = compose_variables(compose.env)
        for port in published_ports(compose_text(client, compose), variables):
            ports.setdefault(port, []).append(compose)
    return ports


def get_service_or_none(client: DokployClient, ref: ServiceRef) -> Service | None:
    """``<kind>.one``, or ``None`` when the service cannot be read (gone, or not the key's to
    read): its ports are then unknown, and a collision shows at deploy time instead."""
    try:
        return client.get_service(ref)
    except ProviderError as exc:
        logger.debug("could not read the ports of %s %s: %s", ref.kind, ref.service_id, exc)
        return None


def service_ports_on_server(
    client: DokployClient, server_id: str | None, *, projects: list[Project] | None = None
) -> dict[int, list[Service]]:
    """TCP host ports the applications and databases on ``server_id`` publish, with the
    services publishing each."""
    listed = client.list_projects() if projects is None else projects
    refs = [ref for project in listed for ref in project.all_service_refs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        services = list(pool.map(lambda ref: get_service_or_none(client, ref), refs))
    ports: dict[int, list[Service]] = {}
    for service in services:
        if service is not None and service.server_id == server_id:
            for port in service.tcp_host_ports():
                ports.setdefault(port, []).append(service)
    return ports


class PortClaim:
    """Claims a free SSH port for one machine's compose and publishes it in its file."""

    def __init__(self, settings: Settings, client: DokployClient, folder: MachineFolder) -> None:
        self.settings = settings
        self.client = client
        self.folder = folder

    def claim(self, state: MachineState, client_key: str, *, taken: set[int]) -> MachineState:
        """Pick a free port from Dokploy's data, publish it, and re-read to catch a race."""
        server_label = f"server {state.server_id}" if state.server_id else "the Dokploy host"
        projects: list[Project] | None = self.client.list_projects()
        # Services are not raced with: Dokploy's UI sets their ports, not a concurrent create.
        held_by_services = set(
            service_ports_on_server(self.client, state.server_id, projects=projects)
        )
        for _ in range(MAX_PORT_MOVES):
            others = self._ports_of_other_composes(state, projects)
            projects = None  # every later read must see what others published meanwhile
            port = choose_port(
                self.settings.port_range,
                set(others) | held_by_services | taken,
                machine_id=state.machine_id,
                server_label=server_label,
            )
            state = state.replace(ssh_port=port)
            self._write_compose_file(state, client_key)
            self.folder.save(state)
            rivals = self._ports_of_other_composes(state).get(port, [])
            if not any(_claimed_first(rival, state) for rival in rivals):
                return state
            logger.info("Port %d was claimed at the same moment by another workspace", port)
            taken.add(port)
        raise ReadyTimeout(
            f"could not claim a free SSH port after {MAX_PORT_MOVES} tries",
            hint="many workspaces are being created at once; retry `devpod up`",
        )

    def _ports_of_other_composes(
        self, state: MachineState, projects: list[Project] | None = None
    ) -> dict[int, list[Compose]]:
        return ports_on_server(
            self.client, state.server_id, excluding=state.compose_id, projects=projects
        )

    def _write_compose_file(self, state: MachineState, client_key: str) -> None:
        assert state.compose_id is not None
        text = compose_file.render(
            self.settings,
            compose_file.WorkspaceSpec(
                machine_id=state.machine_id,
                ssh_port=state.ssh_port,
                authorized_key=client_key,
                host_key_b64=host_key_b64(self.folder),
            ),
        )
        updated = self.client.update_compose(state.compose_id, compose_file=text, source_type="raw")
        if updated is None:
            raise NotFound(
                f"compose {state.compose_id} disappeared while it was being set up",
                endpoint="compose.update",
                hint="run `devpod up` again",
            )


def _claimed_first(rival: Compose, state: MachineState) -> bool:
    """Whether ``rival`` holds the port by precedence: the older compose keeps it."""
    mine = state.extra.get("compose_created_at") or ""
    return (rival.created_at or "", rival.compose_id) < (mine, state.compose_id or "")
