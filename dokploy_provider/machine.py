"""The machine lifecycle DevPod drives: init, create, start, stop, status, delete.

Policy lives here; ``dokploy.py`` only speaks the API. Identity is the state file in
``MACHINE_FOLDER`` (compose id, app name, SSH host and port, server) plus the ownership marker
in the compose's description; nothing is ever found by scanning ports or by name alone.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone

from dokploy_provider import compose as compose_file
from dokploy_provider import log, login_shell, sync_calls
from dokploy_provider.dokploy import DokployClient
from dokploy_provider.errors import (
    CleanupIncomplete,
    ConfigurationError,
    DeployFailed,
    DokployError,
    NotFound,
    ProviderError,
    ReadyTimeout,
    StateError,
)
from dokploy_provider.keys import ensure_machine_keys, host_key_b64
from dokploy_provider.marker import owner_of
from dokploy_provider.models import (
    Compose,
    ComposeSummary,
    Deployment,
    Environment,
    Project,
    Server,
)
from dokploy_provider.options import Settings
from dokploy_provider.ports import choose_port, compose_variables, published_ports
from dokploy_provider.server_required import require_server
from dokploy_provider.ssh_ready import wait_until_ready
from dokploy_provider.state import (
    MachineFolder,
    MachineState,
    installation_owner,
    machine_lock,
)
from dokploy_provider.status import (
    Status,
    newest_deployment,
    require_owned,
    workspace_status,
)
from dokploy_provider.urls import plain_http_warning

logger = log.get("machine")

#: Docker's words for a host port it cannot publish: held by another container (its port
#: allocator), or by a process outside Docker (the userland proxy's bind).
PORT_CONFLICTS = ("port is already allocated", "address already in use")
MAX_PORT_MOVES = 8
LOG_TAIL_LINES = 20
POLL_START = 0.25
POLL_MAX = 2.0
PROGRESS_EVERY = 5.0
#: How often a deploy wait with no new deployment checks that the compose still exists.
GONE_CHECK_SECONDS = 3.0


@dataclass(frozen=True)
class Placement:
    """Where a workspace lives on Dokploy."""

    project_id: str
    environment_id: str | None
    server_id: str | None
    ssh_host: str


class Progress:
    """Progress lines on stderr during long waits: at most one every few seconds."""

    def __init__(self, what: str, every: float = PROGRESS_EVERY) -> None:
        self.what = what
        self.every = every
        self.started = time.monotonic()
        self._last = self.started

    def tick(self, detail: str) -> None:
        """Report ``detail`` if the last report is old enough."""
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            logger.info("%s: %s (%.0fs)", self.what, detail, now - self.started)


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class MachineService:
    """One DevPod machine and the Dokploy compose behind it."""

    def __init__(
        self,
        settings: Settings,
        client: DokployClient,
        folder: MachineFolder | None = None,
        machine_id: str | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.client = client
        self.folder = folder
        self.machine_id = machine_id
        self._sleep = sleep

    # ------------------------------------------------------------------ init

    def init(self) -> list[str]:
        """Check options, reachability, key, version, project/environment and server.

        Returns the lines to report on success; raises on the first blocking problem.
        """
        settings = self.settings
        warning = plain_http_warning(settings.server_url)
        if warning:
            logger.warning("%s", warning)
        version = self.client.version()
        self.client.health()
        lines = [f"Dokploy {version} at {settings.server_url} accepts the API key"]
        project = self.find_project()
        if project is None:
            lines.append(f"project {settings.project_name!r} will be created on first use")
        elif settings.environment_name and version.has_environments:
            env = self.find_environment(project)
            if env is None:
                lines.append(
                    f"environment {settings.environment_name!r} will be created on first use"
                )
        require_server(self.client, settings.server_id)
        if settings.server_id:
            server = self.resolve_server(project=None, choose_auto=settings.auto_server)
            if server is not None:
                lines.append(f"workspaces deploy on server {server.name} ({server.ip_address})")
        lines.append(f"SSH ports come from {settings.port_range}")
        return lines

    # ------------------------------------------------------------------ create

    def create(self) -> MachineState:
        """Create (or finish creating) the workspace and wait until SSH answers.

        Idempotent for one MACHINE_ID: each step is recorded in the state file before the next
        one starts, so a retry after a crash resumes instead of making a second compose.
        """
        folder, machine_id = self._require_machine()
        with machine_lock(folder):
            state = folder.load() or MachineState(
                machine_id=machine_id,
                server_url=str(self.settings.server_url),
                created_at=_now_iso(),
            )
            if state.machine_id != machine_id:
                raise StateError(
                    f"machine folder {folder.path} holds machine {state.machine_id!r}, "
                    f"not {machine_id!r}",
                    hint="MACHINE_FOLDER must be the folder DevPod made for this machine",
                )
            if state.phase == "ready":
                logger.info("Machine %s already exists; making sure it runs", machine_id)
                return self._start(folder, state)
            try:
                return self._create_steps(folder, state)
            except ProviderError:
                self._undo_failed_create(folder)
                raise

    def _create_steps(self, folder: MachineFolder, state: MachineState) -> MachineState:
        keys = ensure_machine_keys(folder, state.machine_id)
        state = state.replace(
            host_key_public=keys.host_public_line,
            host_key_fingerprint=keys.host_fingerprint,
            client_key_fingerprint=keys.client_fingerprint,
        )
        if state.project_id is not None and not state.compose_id:
            try:
                self.client.get_project(state.project_id)
            except NotFound:
                logger.info("The project recorded for this machine is gone; placing it again")
                state = state.replace(project_id=None, environment_id=None, phase="keys")
        if state.project_id is None:
            placement = self._place()
            state = state.replace(
                project_id=placement.project_id,
                environment_id=placement.environment_id,
                server_id=placement.server_id,
                ssh_host=placement.ssh_host,
            )
        folder.save(state)

        compose = self._existing_compose(state)
        if compose is None:
            logger.info("Creating Dokploy compose for machine %s", state.machine_id)
            compose = self.client.create_compose(
                name=state.machine_id,
                app_name=f"devpod-{state.machine_id}",
                description=compose_file.description(
                    state.machine_id, installation_owner(folder.path.parent)
                ),
                project_id=state.project_id,
                environment_id=state.environment_id,
                server_id=state.server_id,
            )
        state = state.replace(
            compose_id=compose.compose_id,
            app_name=compose.app_name,
            phase=max(state.phase, "compose", key=_PHASES.index),
            extra={**state.extra, "compose_created_at": compose.created_at or ""},
        )
        folder.save(state)

        if state.phase != "deployed" or not state.ssh_port:
            state = self._claim_port(folder, state, keys.client_public_line, taken=set())
        state = self._deploy_until_placed(folder, state, keys.client_public_line)
        self._wait_ssh(state)
        state = state.replace(phase="ready")
        folder.save(state)
        logger.info("Workspace %s is ready at %s", state.machine_id, state.target)
        return state

    def _undo_failed_create(self, folder: MachineFolder) -> None:
        state = folder.load()
        if state is None or state.phase == "ready":
            return
        logger.info("Removing what this create made, so a retry starts clean")
        try:
            if state.compose_id:
                self._delete_compose(state.compose_id, delete_volumes=True)
        except ProviderError as exc:
            logger.warning("could not remove compose %s: %s", state.compose_id, exc)
            return  # keep the state so `delete` can finish the job
        folder.remove()

    # ------------------------------------------------------------------ start / stop

    def start(self) -> MachineState:
        """Start the workspace (redeploying when its container is gone or its last deploy
        failed) and wait until SSH answers. Already running is success."""
        folder, _ = self._require_machine()
        with machine_lock(folder):
            return self._start(folder, self._require_state(folder))

    def _start(self, folder: MachineFolder, state: MachineState) -> MachineState:
        try:
            compose = self.get_owned_compose(state)
        except NotFound:
            raise NotFound(
                f"the workspace's compose {state.app_name} ({state.compose_id}) no longer "
                "exists on Dokploy",
                endpoint="compose.one",
                hint="it was deleted outside DevPod: run `devpod delete` and `devpod up`",
            ) from None
        if compose.compose_status == "running":
            self._wait_deployment(state, previous=None, progress=Progress("Deploying"))
            compose = self.client.get_compose(compose.compose_id)
        containers = self.client.get_containers(compose.app_name, state.server_id)
        states = {c.state for c in containers}
        if compose.compose_status == "error" or not containers:
            logger.info("Redeploying workspace %s", state.machine_id)
            keys = ensure_machine_keys(folder, state.machine_id)
            state = self._deploy_until_placed(folder, state, keys.client_public_line)
        elif "running" not in states:
            logger.info("Starting workspace %s", state.machine_id)
            compose_id = compose.compose_id
            sync_calls.settle(  # SSH readiness, waited for next, is the outcome
                lambda timeout: self.client.start_compose(compose_id, read_timeout=timeout),
                lambda: True,
                endpoint="compose.start",
                what="the workspace to start",
                settings=self.settings,
            )
        self._wait_ssh(state)
        state = state.replace(phase="ready", extra={**state.extra, "started_at": _now_iso()})
        folder.save(state)
        return state

    def stop(self) -> None:
        """Stop the workspace's container. Already stopped or gone is success."""
        folder, _ = self._require_machine()
        with machine_lock(folder):
            state = folder.load()
            if state is None or not state.compose_id:
                logger.info("No workspace recorded for this machine: nothing to stop")
                return
            try:
                compose = self.get_owned_compose(state)
            except NotFound:
                logger.info("The workspace's compose is already gone: nothing to stop")
                return
            logger.info("Stopping workspace %s", state.machine_id)
            self._stop_compose(compose.compose_id)

    # ------------------------------------------------------------------ delete

    def delete(self) -> None:
        """Delete the compose (and its volumes unless WORKSPACE_KEEP_VOLUMES) and the state.

        Idempotent; never touches a compose this machine does not own.
        """
        folder, machine_id = self._require_machine()
        with machine_lock(folder):
            state = folder.load()
            if state is None:
                logger.info("No state for machine %s: nothing to delete", machine_id)
                return
            compose = self._existing_compose(state)
            if compose is not None:
                # Stopped first: a delete that "succeeds" may leave the container behind
                # (Dokploy deletes the row first and swallows cleanup errors), and a stopped
                # one is no privileged sshd with an authorized key.
                logger.info("Stopping workspace %s before deleting it", state.machine_id)
                try:
                    self._stop_compose(compose.compose_id)
                except DokployError as exc:  # the delete and the leftover check still run
                    logger.warning("Could not stop the workspace first (%s); deleting it", exc)
                logger.info("Deleting workspace %s (%s)", state.machine_id, compose.app_name)
                self._delete_compose(
                    compose.compose_id, delete_volumes=not self.settings.keep_volumes
                )
                self._check_nothing_left(state, compose.app_name)
            folder.remove()

    def _stop_compose(self, compose_id: str) -> None:
        sync_calls.settle(
            lambda timeout: self.client.stop_compose(compose_id, read_timeout=timeout),
            lambda: self.status() in (Status.STOPPED, Status.NOT_FOUND),
            endpoint="compose.stop",
            what="the workspace to stop",
            settings=self.settings,
        )

    def _check_nothing_left(self, state: MachineState, app_name: str) -> None:
        """After a delete, no container of the app may remain (Dokploy does not say so)."""
        left = self.client.get_containers(app_name, state.server_id)
        if not left:
            return
        names = " ".join(container.name for container in left)
        where = f"server {state.server_id}" if state.server_id else "the Dokploy host"
        raise CleanupIncomplete(
            f"Dokploy deleted the compose {app_name} but its container(s) {names} are still "
            f"on {where} ({', '.join(c.state for c in left)})",
            hint=f"remove them there: `docker rm -f {names}` (and its volumes: `docker volume "
            f"ls -q --filter label=com.docker.compose.project={app_name} | xargs docker volume "
            "rm`); then run the delete again",
        )

    def _delete_compose(self, compose_id: str, *, delete_volumes: bool) -> None:
        def call(timeout: float) -> None:
            try:
                self.client.delete_compose(
                    compose_id, delete_volumes=delete_volumes, read_timeout=timeout
                )
            except NotFound:
                logger.debug("compose %s already deleted", compose_id)

        sync_calls.settle(
            call,
            lambda: self._get_compose_or_none(compose_id) is None,
            endpoint="compose.delete",
            what="the compose to be deleted",
            settings=self.settings,
        )

    # ------------------------------------------------------------------ status

    def status(self) -> Status:
        """The one status word; two API calls and one TCP probe in the common case.

        The rules live in :func:`dokploy_provider.status.workspace_status`, shared with the
        stdlib fast path that answers ``dokploy-provider status`` without this class.
        """
        folder, _ = self._require_machine()
        return workspace_status(
            folder.load(),
            self.client.get_compose,
            self.client.get_containers,
            deploy_timeout=self.settings.deploy_timeout,
            ready_timeout=self.settings.ready_timeout,
        )

    # ------------------------------------------------------------------ placement

    def _place(self) -> Placement:
        require_server(self.client, self.settings.server_id)
        project = self.find_project() or self._create_project()
        environment_id: str | None = None
        if self.client.version().has_environments:
            environment = self.find_environment(project) or self._create_environment(project)
            environment_id = environment.environment_id
        server = self.resolve_server(project, choose_auto=self.settings.auto_server)
        server_id = server.server_id if server else None
        return Placement(project.project_id, environment_id, server_id, self.ssh_host(server))

    def find_project(self) -> Project | None:
        """The project named DOKPLOY_PROJECT_NAME (the oldest, if Dokploy holds several)."""
        matches = [p for p in self.client.list_projects() if p.name == self.settings.project_name]
        # Names are not unique in Dokploy; concurrent first creates may each make one. All
        # machines agree on the oldest, so workspaces never spread over duplicates.
        matches.sort(key=lambda p: (p.created_at or "", p.project_id))
        return matches[0] if matches else None

    def _create_project(self) -> Project:
        logger.info("Creating Dokploy project %r", self.settings.project_name)
        created = self.client.create_project(
            self.settings.project_name, "DevPod workspaces (managed by dokploy-provider)"
        )
        project = self.find_project()
        if project is not None and project.project_id != created.project.project_id:
            # Another create made the same project at the same moment and it is older: use
            # that one and remove ours, which is still empty.
            logger.info("Project %r already existed; removing the duplicate", project.name)
            try:
                self.client.remove_project(created.project.project_id)
            except ProviderError as exc:
                logger.warning("could not remove duplicate project: %s", exc)
        if project is None:
            raise NotFound(
                f"project {self.settings.project_name!r} was created but is not listed",
                endpoint="project.all",
                hint="check that the API key's user can see the projects it creates",
            )
        return project

    def find_environment(self, project: Project) -> Environment | None:
        """DOKPLOY_ENVIRONMENT_NAME in ``project``, else its default environment."""
        environments = project.environments or self.client.list_environments(project.project_id)
        wanted = self.settings.environment_name
        if wanted:
            matches = sorted(
                (e for e in environments if e.name == wanted),
                key=lambda e: (e.created_at or "", e.environment_id),
            )
            return matches[0] if matches else None
        for env in environments:
            if env.is_default:
                return env
        for env in environments:
            if env.name == "production":
                return env
        return environments[0] if environments else None

    def _create_environment(self, project: Project) -> Environment:
        wanted = self.settings.environment_name
        if not wanted:
            raise NotFound(
                f"project {project.name!r} has no environment",
                endpoint="environment.byProjectId",
                hint="set DOKPLOY_ENVIRONMENT_NAME to an environment to use or create",
            )
        logger.info("Creating Dokploy environment %r in project %r", wanted, project.name)
        self.client.create_environment(project.project_id, wanted, "DevPod workspaces")
        refreshed = self.client.get_project(project.project_id)
        environment = self.find_environment(refreshed)
        if environment is None:
            raise NotFound(f"environment {wanted!r} was created but is not listed")
        return environment

    def resolve_server(self, project: Project | None, *, choose_auto: bool) -> Server | None:
        """The deploy server DOKPLOY_SERVER_ID names (``None``: the Dokploy host); with
        ``auto``, the active deploy server holding the fewest DevPod workspaces."""
        wanted = self.settings.server_id.strip()
        if not wanted:
            return None
        servers = [s for s in self.client.list_servers() if s.server_type == "deploy"]
        if choose_auto:
            active = [s for s in servers if (s.server_status or "active") == "active"]
            if not active:
                raise ConfigurationError(
                    "DOKPLOY_SERVER_ID=auto but Dokploy has no active deploy server",
                    hint="add a remote server in Dokploy, or leave DOKPLOY_SERVER_ID empty",
                )
            if project is None:
                return active[0]
            counts = self._workspaces_per_server()
            return min(active, key=lambda s: counts.get(s.server_id, 0))
        for server in servers:
            if server.server_id == wanted:
                return server
        valid = ", ".join(f"{s.server_id} ({s.name})" for s in servers) or "none"
        raise ConfigurationError(
            f"DOKPLOY_SERVER_ID {wanted!r} is not one of Dokploy's deploy servers",
            hint=f"valid ids: {valid}; or `auto`, or empty for the Dokploy host",
        )

    def ssh_host(self, server: Server | None) -> str:
        """Where workspaces on ``server`` are reached: DOKPLOY_SSH_HOST, else the server's IP,
        else Dokploy's configured IP, else the URL's host."""
        if self.settings.ssh_host_override:
            return self.settings.ssh_host_override
        if server is not None and server.ip_address:
            return server.ip_address
        ip = self.client.get_ip()
        return ip or self.settings.server_url.host

    # ------------------------------------------------------------------ composes and ports

    def all_composes(self) -> list[Compose]:
        """Every compose the API key can see, in full (compose files included)."""
        summaries: list[ComposeSummary] = []
        for project in self.client.list_projects():
            summaries.extend(project.all_composes)
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(self._get_compose_or_none, [s.compose_id for s in summaries]))
        return [c for c in results if c is not None]

    def _get_compose_or_none(self, compose_id: str) -> Compose | None:
        try:
            return self.client.get_compose(compose_id)
        except NotFound:
            return None

    def _workspaces_per_server(self) -> dict[str | None, int]:
        counts: dict[str | None, int] = {}
        for compose in self.all_composes():
            if owner_of(compose.description):
                counts[compose.server_id] = counts.get(compose.server_id, 0) + 1
        return counts

    def _claim_port(
        self, folder: MachineFolder, state: MachineState, client_key: str, *, taken: set[int]
    ) -> MachineState:
        """Pick a free port from Dokploy's data, publish it, and re-read to catch a race."""
        server_label = f"server {state.server_id}" if state.server_id else "the Dokploy host"
        for _ in range(MAX_PORT_MOVES):
            others = self._ports_of_other_composes(state)
            port = choose_port(
                self.settings.port_range,
                set(others) | taken,
                machine_id=state.machine_id,
                server_label=server_label,
            )
            state = state.replace(ssh_port=port)
            self._write_compose_file(state, client_key)
            folder.save(state)
            rivals = self._ports_of_other_composes(state).get(port, [])
            if not any(_claimed_first(rival, state) for rival in rivals):
                return state
            logger.info("Port %d was claimed at the same moment by another workspace", port)
            taken.add(port)
        raise ReadyTimeout(
            f"could not claim a free SSH port after {MAX_PORT_MOVES} tries",
            hint="many workspaces are being created at once; retry `devpod up`",
        )

    def ports_on_server(
        self, server_id: str | None, *, excluding: str | None = None
    ) -> dict[int, list[Compose]]:
        """Host ports the composes on ``server_id`` publish (read from their compose files),
        with the composes publishing each; the compose ``excluding`` is left out."""
        ports: dict[int, list[Compose]] = {}
        for compose in self.all_composes():
            if compose.compose_id == excluding or compose.server_id != server_id:
                continue
            variables = compose_variables(compose.env)
            for port in published_ports(self._compose_text(compose), variables):
                ports.setdefault(port, []).append(compose)
        return ports

    def _compose_text(self, compose: Compose) -> str:
        """The compose file Dokploy deploys: the stored one, or for a Git-sourced compose (whose
        ``composeFile`` is empty) the one its last clone holds."""
        if compose.compose_file.strip() or compose.source_type in {None, "raw"}:
            return compose.compose_file
        try:
            return self.client.get_converted_compose(compose.compose_id) or ""
        except ProviderError as exc:
            logger.debug("could not read the compose file of %s: %s", compose.app_name, exc)
            return ""

    def _ports_of_other_composes(self, state: MachineState) -> dict[int, list[Compose]]:
        return self.ports_on_server(state.server_id, excluding=state.compose_id)

    def _write_compose_file(self, state: MachineState, client_key: str) -> None:
        assert state.compose_id is not None
        text = compose_file.render(
            self.settings,
            compose_file.WorkspaceSpec(
                machine_id=state.machine_id,
                ssh_port=state.ssh_port,
                authorized_key=client_key,
                host_key_b64=host_key_b64(self._folder()),
            ),
        )
        updated = self.client.update_compose(state.compose_id, compose_file=text, source_type="raw")
        if updated is None:
            raise NotFound(
                f"compose {state.compose_id} disappeared while it was being set up",
                endpoint="compose.update",
                hint="run `devpod up` again",
            )

    # ------------------------------------------------------------------ deploy and wait

    def _deploy_until_placed(
        self, folder: MachineFolder, state: MachineState, client_key: str
    ) -> MachineState:
        """Deploy; when Docker says the port is taken, move to the next free one and retry."""
        taken: set[int] = set()
        for _ in range(MAX_PORT_MOVES):
            state = self._deploy(folder, state)
            try:
                self._wait_deployment(
                    state, previous=state.extra.get("deploy_base"), progress=Progress("Deploying")
                )
            except DeployFailed as exc:
                said = "\n".join([exc.message, *exc.details])
                if not any(words in said for words in PORT_CONFLICTS):
                    raise
                logger.info("Port %d is taken on the server; moving to another", state.ssh_port)
                taken.add(state.ssh_port)
                state = self._claim_port(folder, _deploy_settled(state), client_key, taken=taken)
                continue
            state = _deploy_settled(state)
            state = state.replace(extra={**state.extra, "started_at": _now_iso()})
            folder.save(state)
            return state
        raise DeployFailed(f"every SSH port tried was already allocated on the server ({taken})")

    def _deploy(self, folder: MachineFolder, state: MachineState) -> MachineState:
        compose_id = state.compose_id
        assert compose_id is not None
        if state.phase == "deployed" and state.extra.get("deploy_requested_at"):
            return state  # a crashed create already queued this deploy: wait for it
        newest = newest_deployment(self.client.list_deployments(compose_id))
        state = state.replace(
            phase="deployed",
            extra={
                **state.extra,
                "deploy_base": newest.deployment_id if newest else None,
                "deploy_requested_at": time.time(),
            },
        )
        folder.save(state)
        logger.info("Deploying workspace %s on port %d", state.machine_id, state.ssh_port)
        self.client.deploy_compose(compose_id, title="dokploy-provider deploy")
        return state

    def _wait_deployment(
        self, state: MachineState, *, previous: str | None, progress: Progress
    ) -> None:
        assert state.compose_id is not None
        deadline = time.monotonic() + self.settings.deploy_timeout
        delay = POLL_START
        checked_at = time.monotonic()
        while True:
            try:
                deployments = self.client.list_deployments(state.compose_id)
            except NotFound:  # how Dokploy up to v0.28.6 answers for a deleted compose
                raise self._compose_gone(state) from None
            newest = newest_deployment(deployments)
            if newest is not None and newest.deployment_id != previous:
                if newest.status == "done":
                    return
                if newest.status in {"error", "cancelled"}:
                    raise self._deploy_failure(newest, state)
                progress.tick("deployment running")
            else:
                progress.tick("deployment queued")
                # from v0.28.7 a deleted compose just has no deployments: look for it
                if time.monotonic() - checked_at >= GONE_CHECK_SECONDS:
                    checked_at = time.monotonic()
                    if self._get_compose_or_none(state.compose_id) is None:
                        raise self._compose_gone(state)
            if time.monotonic() >= deadline:
                raise ReadyTimeout(
                    f"the Dokploy deployment of {state.app_name} did not finish within "
                    f"DOKPLOY_DEPLOY_TIMEOUT ({self.settings.deploy_timeout:.0f}s)",
                    hint="check the deployment in Dokploy's UI; raise DOKPLOY_DEPLOY_TIMEOUT "
                    "if the first image build on this server is slow",
                )
            self._sleep(delay)
            delay = min(delay * 2, POLL_MAX)

    def _compose_gone(self, state: MachineState, waited_for: str = "its deployment") -> NotFound:
        return NotFound(
            f"the workspace's compose {state.app_name} ({state.compose_id}) was deleted on "
            f"Dokploy while {waited_for} was waited for (by someone in Dokploy's UI or "
            "another tool)",
            endpoint="compose.one",
            hint="run `devpod delete --force` and `devpod up` again",
        )

    def _deploy_failure(self, deployment: Deployment, state: MachineState) -> DeployFailed:
        tail: list[str] = []
        try:
            text = self.client.read_deployment_log(deployment.deployment_id, tail=LOG_TAIL_LINES)
        except ProviderError as exc:
            text = None
            logger.debug("could not read the deploy log: %s", exc)
        if text:
            tail = [line for line in text.splitlines() if line.strip()][-LOG_TAIL_LINES:]
        elif text is None:
            # Dokploy leaves errorMessage empty for a failed compose deploy: without
            # readLogs (before v0.29.5) the evidence must come from Docker's side
            tail = [
                *self._evidence_without_log(state),
                "(this Dokploy version cannot return deploy logs through the API; "
                "open the compose's Deployments tab in Dokploy)",
            ]
        if text and state.server_id and login_shell.COMPOSE_FILE_NOT_FOUND in text:
            return DeployFailed(
                "the Dokploy deployment failed: "
                + login_shell.explanation(state.server_id, self.client.version()),
                hint=f"{login_shell.FIX}; then run `devpod up` again",
                details=tail,
            )
        reason = deployment.error_message or "see the deploy log below"
        return DeployFailed(
            f"the Dokploy deployment failed: {reason}",
            hint="fix the cause shown in the log, then run `devpod up` again",
            details=tail,
        )

    def _evidence_without_log(self, state: MachineState) -> list[str]:
        """What Docker's side says about a failed deploy whose log the API cannot return."""
        if not state.app_name:
            return []
        try:
            containers = self.client.get_containers(state.app_name, state.server_id)
        except ProviderError as exc:
            logger.debug("could not list the workspace's containers: %s", exc)
            return []
        never_started = [c for c in containers if c.state == "created"]
        if never_started and _port_answers(state.ssh_host, state.ssh_port):
            return [
                f"container {never_started[0].name} was created but never started, and "
                f"something else already answers on {state.ssh_host}:{state.ssh_port}: "
                f"the {PORT_CONFLICTS[0]} (inferred: this Dokploy version has no deploy logs "
                "in its API)"
            ]
        if (
            not containers
            and state.server_id
            and self.client.version().remote_deploy_fails_on_login_stderr
        ):
            return [
                "no container was created; on this Dokploy version a remote server whose "
                "login shell writes to stderr fails every deploy with "
                f"'{login_shell.COMPOSE_FILE_NOT_FOUND}' (Dokploy issue #4260): check the deploy log "
                "in Dokploy's UI"
            ]
        return []

    def _wait_ssh(self, state: MachineState) -> None:
        progress = Progress("Waiting for SSH")
        logger.info("Waiting for the workspace's sshd at %s", state.target)

        def check_compose_exists() -> None:
            # from v0.28.7 nothing else fails for a compose deleted meanwhile: the probe
            # would only time out after DOKPLOY_READY_TIMEOUT
            if not state.compose_id:
                return
            try:
                compose = self._get_compose_or_none(state.compose_id)
            except ProviderError as exc:  # a blip of Dokploy's must not end the SSH wait
                logger.debug("could not look the compose up during the SSH wait: %s", exc)
                return
            if compose is None:
                raise self._compose_gone(state, "its sshd")

        try:
            wait_until_ready(
                state,
                self._folder().client_key_path,
                timeout=self.settings.ready_timeout,
                on_progress=lambda _elapsed, result: progress.tick(result.detail),
                check_still_wanted=check_compose_exists,
                progress_interval=GONE_CHECK_SECONDS,
            )
        except ReadyTimeout:
            self._explain_dead_container(state)
            raise

    def _explain_dead_container(self, state: MachineState) -> None:
        """Replace a bare SSH timeout by the real cause when the container is not running."""
        if not state.app_name:
            return
        try:
            containers = self.client.get_containers(state.app_name, state.server_id)
        except ProviderError:
            return
        if containers and not any(c.state == "running" for c in containers):
            states = ", ".join(sorted({f"{c.state} ({c.status})" for c in containers}))
            raise ReadyTimeout(
                f"the workspace container is not running (Docker says {states}), so its sshd "
                f"never answered on {state.target}",
                hint="open the compose's Logs in Dokploy to see why the boot script exited",
            )

    # ------------------------------------------------------------------ lookups

    def _existing_compose(self, state: MachineState) -> Compose | None:
        """The compose this machine owns: by recorded id, else by name and marker (a create
        that crashed before recording the id)."""
        if state.compose_id:
            try:
                return self.get_owned_compose(state)
            except NotFound:
                return None
        if state.project_id is None:
            return None
        try:
            project = self.client.get_project(state.project_id)
        except NotFound:
            return None
        for summary in project.all_composes:
            if summary.name != state.machine_id:
                continue
            compose = self._get_compose_or_none(summary.compose_id)
            if compose and owner_of(compose.description) == state.machine_id:
                logger.info("Found compose %s from an earlier attempt", compose.app_name)
                return compose
        return None

    def get_owned_compose(self, state: MachineState) -> Compose:
        """The machine's compose; NotOwned if its marker names another machine."""
        assert state.compose_id is not None
        compose = self.client.get_compose(state.compose_id)
        require_owned(compose, state.machine_id)
        return compose

    def _require_machine(self) -> tuple[MachineFolder, str]:
        if self.folder is None or self.machine_id is None:
            raise ConfigurationError("MACHINE_ID and MACHINE_FOLDER are required for this verb")
        return self.folder, self.machine_id

    def _folder(self) -> MachineFolder:
        return self._require_machine()[0]

    def _require_state(self, folder: MachineFolder) -> MachineState:
        state = folder.load()
        if state is None or not state.compose_id:
            raise StateError(
                f"no workspace has been created for this machine ({folder.state_path} is missing)",
                hint="run `devpod up` (or `devpod machine create`) first",
            )
        return state


_PHASES = ["keys", "compose", "deployed", "ready"]


def _deploy_settled(state: MachineState) -> MachineState:
    """``state`` with no deploy in flight (the next `_deploy` queues a new one)."""
    return state.replace(extra={k: v for k, v in state.extra.items() if k != "deploy_requested_at"})


def _claimed_first(rival: Compose, state: MachineState) -> bool:
    """Whether ``rival`` holds the port by precedence: the older compose keeps it."""
    mine = state.extra.get("compose_created_at") or ""
    return (rival.created_at or "", rival.compose_id) < (mine, state.compose_id or "")


def _port_answers(host: str, port: int, timeout: float = 3.0) -> bool:
    """Whether something accepts TCP connections on ``host:port`` (after a failed deploy only:
    ports are chosen from Dokploy's data, never by probing)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
