"""Deploying a workspace's compose and waiting for it: the deployment, then SSH.

Every wait is bounded, says what it waits for on stderr, and notices within seconds when the
compose is deleted on Dokploy meanwhile. A deploy that Docker refuses for a taken port moves
to the next free one.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from datetime import datetime, timezone

from dokploy_provider import log, login_shell
from dokploy_provider.dokploy import DokployClient
from dokploy_provider.errors import DeployFailed, NotFound, ProviderError, ReadyTimeout
from dokploy_provider.models import Deployment
from dokploy_provider.options import Settings
from dokploy_provider.port_claim import MAX_PORT_MOVES, PortClaim, get_compose_or_none
from dokploy_provider.ssh_ready import wait_until_ready
from dokploy_provider.state import MachineFolder, MachineState
from dokploy_provider.status import newest_deployment

logger = log.get("machine")

#: Docker's words for a host port it cannot publish: held by another container (its port
#: allocator), or by a process outside Docker (the userland proxy's bind).
PORT_CONFLICTS = ("port is already allocated", "address already in use")
LOG_TAIL_LINES = 20
POLL_START = 0.25
POLL_MAX = 2.0
PROGRESS_EVERY = 5.0
#: How often a wait with no news checks that the compose still exists.
GONE_CHECK_SECONDS = 3.0


def now_iso() -> str:
    """Now, in UTC, as the state file records times."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


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


class DeployWait:
    """Deploys one machine's compose and waits for the deployment and for SSH."""

    def __init__(
        self,
        settings: Settings,
        client: DokployClient,
        folder: MachineFolder,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.client = client
        self.folder = folder
        self.ports = PortClaim(settings, client, folder)
        self._sleep = sleep

    def deploy_until_placed(self, state: MachineState, client_key: str) -> MachineState:
        """Deploy; when Docker says the port is taken, move to the next free one and retry."""
        taken: set[int] = set()
        for _ in range(MAX_PORT_MOVES):
            state = self._deploy(state)
            try:
                self.wait_deployment(
                    state, previous=state.extra.get("deploy_base"), progress=Progress("Deploying")
                )
            except DeployFailed as exc:
                said = "\n".join([exc.message, *exc.details])
                if not any(words in said for words in PORT_CONFLICTS):
                    raise
                logger.info("Port %d is taken on the server; moving to another", state.ssh_port)
                taken.add(state.ssh_port)
                state = self.ports.claim(_deploy_settled(state), client_key, taken=taken)
                continue
            state = _deploy_settled(state)
            state = state.replace(extra={**state.extra, "started_at": now_iso()})
            self.folder.save(state)
            return state
        raise DeployFailed(f"every SSH port tried was already allocated on the server ({taken})")

    def _deploy(self, state: MachineState) -> MachineState:
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
        self.folder.save(state)
        logger.info("Deploying workspace %s on port %d", state.machine_id, state.ssh_port)
        self.client.deploy_compose(compose_id, title="dokploy-provider deploy")
        return state

    def wait_deployment(
        self, state: MachineState, *, previous: str | None, progress: Progress
    ) -> None:
        """Wait for the newest deployment other than ``previous`` to finish; raise what failed."""
        assert state.compose_id is not None
        deadline = time.monotonic() + self.settings.deploy_timeout
        delay = POLL_START
        checked_at = time.monotonic()
        while True:
            try:
                deployments = self.client.list_deployments(state.compose_id)
            except NotFound:  # how Dokploy up to v0.28.6 answers for a deleted compose
                raise self.compose_gone(state) from None
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
                    if get_compose_or_none(self.client, state.compose_id) is None:
                        raise self.compose_gone(state)
            if time.monotonic() >= deadline:
                raise ReadyTimeout(
                    f"the Dokploy deployment of {state.app_name} did not finish within "
                    f"DOKPLOY_DEPLOY_TIMEOUT ({self.settings.deploy_timeout:.0f}s)",
                    hint="check the deployment in Dokploy's UI; raise DOKPLOY_DEPLOY_TIMEOUT "
                    "if the first image build on this server is slow",
                )
            self._sleep(delay)
            delay = min(delay * 2, POLL_MAX)

    def compose_gone(self, state: MachineState, waited_for: str = "its deployment") -> NotFound:
        """The error for a compose deleted on Dokploy while ``waited_for`` was waited for."""
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

    def wait_ssh(self, state: MachineState) -> None:
        """Wait for a login with the pinned host key; explain a dead container on timeout."""
        progress = Progress("Waiting for SSH")
        logger.info("Waiting for the workspace's sshd at %s", state.target)

        def check_compose_exists() -> None:
            # from v0.28.7 nothing else fails for a compose deleted meanwhile: the probe
            # would only time out after DOKPLOY_READY_TIMEOUT
            if not state.compose_id:
                return
            try:
                compose = get_compose_or_none(self.client, state.compose_id)
            except ProviderError as exc:  # a blip of Dokploy's must not end the SSH wait
                logger.debug("could not look the compose up during the SSH wait: %s", exc)
                return
            if compose is None:
                raise self.compose_gone(state, "its sshd")

        try:
            wait_until_ready(
                state,
                self.folder.client_key_path,
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


def _deploy_settled(state: MachineState) -> MachineState:
    """``state`` with no deploy in flight (the next deploy queues a new one)."""
    return state.replace(extra={k: v for k, v in state.extra.items() if k != "deploy_requested_at"})


def _port_answers(host: str, port: int, timeout: float = 3.0) -> bool:
    """Whether something accepts TCP connections on ``host:port`` (after a failed deploy only:
    ports are chosen from Dokploy's data, never by probing)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
