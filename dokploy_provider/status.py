"""What ``status`` prints, decided from Dokploy's view of the compose and one TCP probe.

The decision is a pure function so every rule is unit-tested; the probe is stdlib only.
:func:`workspace_status` gathers the observation (which API calls, when to probe) and decides;
both ``MachineService.status`` (httpx + pydantic models) and the stdlib fast path
(:mod:`dokploy_provider.fast_status`) call it, so there is one set of rules. It takes any
objects with the attributes it reads (:class:`ComposeLike`, :class:`ContainerLike`).
DevPod polls ``Busy`` for ever, and treats ``NotFound`` as "create a new machine", so:
``Busy`` is bounded (a stuck deploy or a container whose sshd never answers is an error),
and ``NotFound`` only ever comes from a 404 on the compose itself.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from dokploy_provider import log
from dokploy_provider.errors import NotFound, NotOwned, ReadyTimeout
from dokploy_provider.marker import owner_of

if TYPE_CHECKING:
    from dokploy_provider.state import MachineState

logger = log.get("status")


class Status(str, Enum):
    """The four words DevPod accepts."""

    RUNNING = "Running"
    BUSY = "Busy"
    STOPPED = "Stopped"
    NOT_FOUND = "NotFound"


@dataclass(frozen=True)
class Observation:
    """What status saw, in plain values.

    ``compose_status``: Dokploy's ``composeStatus``; ``container_states``: Docker states of the
    compose's containers (empty when Dokploy returned ``[]``); ``deploy_pending_seconds``: how
    long a deploy we queued has waited without a deployment row (``None`` if none pending);
    ``deploy_running_seconds``: how long the current deployment has been running;
    ``container_young``: the container started recently enough that sshd may still be booting.
    """

    compose_status: str
    container_states: Sequence[str]
    sshd_answers: bool | None
    deploy_pending_seconds: float | None = None
    deploy_running_seconds: float | None = None
    container_young: bool = True


def decide(obs: Observation, *, deploy_timeout: float, target: str) -> Status:
    """The status word for ``obs``; raises ReadyTimeout instead of an endless ``Busy``."""
    if obs.compose_status == "running" or obs.deploy_pending_seconds is not None:
        waited = obs.deploy_running_seconds or obs.deploy_pending_seconds or 0.0
        if waited > deploy_timeout:
            raise ReadyTimeout(
                f"the workspace's Dokploy deployment has been queued or running for "
                f"{waited:.0f}s, past DOKPLOY_DEPLOY_TIMEOUT ({deploy_timeout:.0f}s)",
                hint="check the deployment in Dokploy's UI (a stuck deploy needs a Dokploy "
                "restart), then run `devpod up` again",
            )
        return Status.BUSY
    if obs.compose_status == "error":
        return Status.STOPPED  # `devpod up` then calls start, which redeploys and reports why
    states = set(obs.container_states)
    if "running" in states:
        if obs.sshd_answers:
            return Status.RUNNING
        if obs.container_young:
            return Status.BUSY
        raise ReadyTimeout(
            f"the workspace container runs but its sshd does not answer on {target}",
            hint="check the container's logs in Dokploy, or run `devpod machine stop` and "
            "`devpod up` to restart it",
        )
    if "restarting" in states:
        return Status.BUSY
    if states:
        return Status.STOPPED  # exited, created, dead, paused
    # Dokploy answers [] both when there is no container and when its docker call printed
    # anything on stderr; a live sshd on our own port settles it.
    if obs.compose_status == "done" and obs.sshd_answers:
        return Status.RUNNING
    return Status.STOPPED


_YOUNG = re.compile(r"^(Up )?(Less than a second|\d+ seconds?|About a minute)\b", re.IGNORECASE)


def docker_status_is_young(status_text: str, ready_timeout: float) -> bool:
    """Whether Docker's ``Up …`` text says the container started within ``ready_timeout``."""
    text = status_text.strip()
    if _YOUNG.match(text):
        return True
    minutes = re.match(r"^(?:Up )?(\d+) minutes?", text, re.IGNORECASE)
    if minutes is None:
        return False
    return int(minutes.group(1)) * 60 <= ready_timeout


def sshd_answers(host: str, port: int, timeout: float = 2.0) -> bool:
    """One TCP probe: does ``host:port`` send an SSH banner?"""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            return sock.recv(64).startswith(b"SSH-")
    except OSError:
        return False


# -- observing: what to ask Dokploy, and when to probe ----------------------------------------


class DeploymentLike(Protocol):
    """The fields of a Dokploy deployment row that status reads."""

    @property
    def deployment_id(self) -> str: ...
    @property
    def created_at(self) -> str | None: ...
    @property
    def started_at(self) -> str | None: ...


class ComposeLike(Protocol):
    """The fields of a ``compose.one`` answer that status reads."""

    @property
    def compose_id(self) -> str: ...
    @property
    def app_name(self) -> str: ...
    @property
    def description(self) -> str | None: ...
    @property
    def compose_status(self) -> str: ...
    @property
    def deployments(self) -> Sequence[DeploymentLike]: ...


class ContainerLike(Protocol):
    """The fields of a ``docker.getContainersByAppNameMatch`` row that status reads."""

    @property
    def state(self) -> str: ...
    @property
    def status(self) -> str: ...


DeploymentT = TypeVar("DeploymentT", bound=DeploymentLike)


def parse_time(value: object) -> float | None:
    """Epoch seconds of an ISO-8601 timestamp (``Z`` allowed); ``None`` if absent or invalid."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def newest_deployment(deployments: Iterable[DeploymentT]) -> DeploymentT | None:
    """The most recently created deployment (ties broken by id), or ``None``."""
    rows = list(deployments)
    if not rows:
        return None
    return max(rows, key=lambda d: (d.created_at or "", d.deployment_id))


def pending_deploy_seconds(
    extra: Mapping[str, Any], compose: ComposeLike, now: float
) -> float | None:
    """How long a deploy we queued has waited without its deployment row (``None``: none)."""
    requested = extra.get("deploy_requested_at")
    previous = extra.get("deploy_base")
    if not requested or compose.compose_status == "running":
        return None
    newest = newest_deployment(compose.deployments)
    if newest is not None and newest.deployment_id != previous:
        return None
    return max(0.0, now - float(requested))


def running_deploy_seconds(
    extra: Mapping[str, Any], compose: ComposeLike, now: float
) -> float | None:
    """How long the compose's current deployment has been running (``None``: not running)."""
    if compose.compose_status != "running":
        return None
    requested = extra.get("deploy_requested_at")
    if requested:
        return max(0.0, now - float(requested))
    newest = newest_deployment(compose.deployments)
    started = parse_time(newest.started_at or newest.created_at) if newest else None
    return max(0.0, now - started) if started else None


def started_recently(extra: Mapping[str, Any], ready_timeout: float, now: float) -> bool:
    """Whether the provider started the workspace less than ``ready_timeout`` ago."""
    started = parse_time(extra.get("started_at"))
    return started is not None and now - started < ready_timeout


def require_owned(compose: ComposeLike, machine_id: str) -> None:
    """Raise :class:`NotOwned` unless ``compose``'s marker names ``machine_id``."""
    owner = owner_of(compose.description)
    if owner != machine_id:
        raise NotOwned(
            f"compose {compose.app_name} ({compose.compose_id}) does not belong to machine "
            f"{machine_id} (its marker says {owner or 'nothing'})",
            hint="the provider will not touch it; remove this machine's state with "
            "`devpod machine delete --force`",
        )


def workspace_status(
    state: MachineState | None,
    get_compose: Callable[[str], ComposeLike],
    get_containers: Callable[[str, str | None], Sequence[ContainerLike]],
    *,
    deploy_timeout: float,
    ready_timeout: float,
    probe: Callable[[str, int], bool] = sshd_answers,
    clock: Callable[[], float] = time.time,
) -> Status:
    """The status word for the machine ``state`` describes.

    One ``compose.one`` call (``get_compose``), then ``docker.getContainersByAppNameMatch``
    (``get_containers``) unless a deploy is in flight, then one TCP probe when a container
    runs or the deploy is done. A 404 on the compose is ``NotFound``; a compose owned by
    another machine raises :class:`NotOwned`; other API errors propagate.
    """
    if state is None or not state.compose_id:
        return Status.NOT_FOUND
    try:
        compose = get_compose(state.compose_id)
    except NotFound:
        return Status.NOT_FOUND
    require_owned(compose, state.machine_id)
    now = clock()
    pending = pending_deploy_seconds(state.extra, compose, now)
    running_for = running_deploy_seconds(state.extra, compose, now)
    containers: Sequence[ContainerLike] = []
    if compose.compose_status != "running" and pending is None:
        containers = get_containers(compose.app_name, state.server_id)
    needs_probe = compose.compose_status == "done" or any(c.state == "running" for c in containers)
    answers = probe(state.ssh_host, state.ssh_port) if needs_probe else None
    young = any(
        docker_status_is_young(c.status, ready_timeout) for c in containers if c.state == "running"
    ) or started_recently(state.extra, ready_timeout, now)
    if compose.compose_status == "error":
        logger.warning(
            "The workspace's last Dokploy deployment failed; `devpod up` will redeploy it"
        )
    observation = Observation(
        compose_status=compose.compose_status,
        container_states=[c.state for c in containers],
        sshd_answers=answers,
        deploy_pending_seconds=pending,
        deploy_running_seconds=running_for,
        container_young=young,
    )
    return decide(observation, deploy_timeout=deploy_timeout, target=state.target)
