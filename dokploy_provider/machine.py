"""The machine lifecycle DevPod drives: init, create, start, stop, status, delete.

Policy lives here; ``dokploy.py`` only speaks the API. Where a workspace goes is
:mod:`placement`, which port it takes :mod:`port_claim`, deploying and waiting
:mod:`deploy_wait`. Identity is the state file in
``MACHINE_FOLDER`` (compose id, app name, SSH host and port, server) plus the ownership marker
in the compose's description; nothing is ever found by scanning ports or by name alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from dokploy_provider import compose as compose_file
from dokploy_provider import log, port_claim, sync_calls
from dokploy_provider.deploy_wait import DeployWait, Progress, now_iso
from dokploy_provider.dokploy import DokployClient
from dokploy_provider.errors import (
    CleanupIncomplete,
    ConfigurationError,
    DokployError,
    NotFound,
    ProviderError,
    StateError,
)
from dokploy_provider.keys import ensure_machine_keys
from dokploy_provider.marker import owner_of
from dokploy_provider.models import Compose
from dokploy_provider.options import Settings
from dokploy_provider.placement import Placer
from dokploy_provider.server_required import require_server
from dokploy_provider.state import (
    MachineFolder,
    MachineState,
    installation_owner,
    machine_lock,
)
from dokploy_provider.status import Status, require_owned, workspace_status
from dokploy_provider.urls import plain_http_warning

logger = log.get("machine")


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
        self.placer = Placer(settings, client)
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
        project = self.placer.find_project()
        if project is None:
            lines.append(f"project {settings.project_name!r} will be created on first use")
        elif settings.environment_name and version.has_environments:
            env = self.placer.find_environment(project)
            if env is None:
                lines.append(
                    f"environment {settings.environment_name!r} will be created on first use"
                )
        require_server(self.client, settings.server_id)
        if settings.server_id:
            server = self.placer.resolve_server(project=None, choose_auto=settings.auto_server)
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
                created_at=now_iso(),
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
            placement = self.placer.place()
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
            state = self._deploy_wait().ports.claim(state, keys.client_public_line, taken=set())
        state = self._deploy_wait().deploy_until_placed(state, keys.client_public_line)
        self._deploy_wait().wait_ssh(state)
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
            self._deploy_wait().wait_deployment(
                state, previous=None, progress=Progress("Deploying")
            )
            compose = self.client.get_compose(compose.compose_id)
        containers = self.client.get_containers(compose.app_name, state.server_id)
        states = {c.state for c in containers}
        if compose.compose_status == "error" or not containers:
            logger.info("Redeploying workspace %s", state.machine_id)
            keys = ensure_machine_keys(folder, state.machine_id)
            state = self._deploy_wait().deploy_until_placed(state, keys.client_public_line)
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
        self._deploy_wait().wait_ssh(state)
        state = state.replace(phase="ready", extra={**state.extra, "started_at": now_iso()})
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
            lambda: port_claim.get_compose_or_none(self.client, compose_id) is None,
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
            compose = port_claim.get_compose_or_none(self.client, summary.compose_id)
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

    def _deploy_wait(self) -> DeployWait:
        return DeployWait(self.settings, self.client, self._require_machine()[0], sleep=self._sleep)

    def _require_state(self, folder: MachineFolder) -> MachineState:
        state = folder.load()
        if state is None or not state.compose_id:
            raise StateError(
                f"no workspace has been created for this machine ({folder.state_path} is missing)",
                hint="run `devpod up` (or `devpod machine create`) first",
            )
        return state


_PHASES = ["keys", "compose", "deployed", "ready"]
