"""What ``status`` prints, decided from Dokploy's view of the compose and one TCP probe.

The decision is a pure function so every rule is unit-tested; the probe is stdlib only.
DevPod polls ``Busy`` for ever, and treats ``NotFound`` as "create a new machine", so:
``Busy`` is bounded (a stuck deploy or a container whose sshd never answers is an error),
and ``NotFound`` only ever comes from a 404 on the compose itself.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from dokploy_provider.errors import ReadyTimeout


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
    return bool(minutes) and int(minutes.group(1)) * 60 <= ready_timeout if minutes else False


def sshd_answers(host: str, port: int, timeout: float = 2.0) -> bool:
    """One TCP probe: does ``host:port`` send an SSH banner?"""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            return sock.recv(64).startswith(b"SSH-")
    except OSError:
        return False
