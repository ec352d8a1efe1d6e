"""Fault injection: failures a real Dokploy produces, switched on by tests or the admin endpoint."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass
class FaultSettings:
    """Fault knobs; counters are consumed one event at a time."""

    fail_next_deploys: int = 0  # next N deploy jobs fail with ``deploy_error`` in the log
    deploy_error: str = "Simulated deployment failure"
    stuck_deploys: int = 0  # next N deploy jobs stay ``running`` for ever
    http_500: int = 0  # next N /api procedure calls answer 500
    delay_ms: int = 0  # every /api response is delayed this long
    revoke_key: bool = False  # the API key is rejected from now on (401)
    empty_containers: bool = False  # docker.getContainersByAppNameMatch returns []
    exit_after_start: int = 0  # the next N started workspace sshds exit right away
    forbid: str = ""  # non-settings procedures answer 401 with this message and a tRPC code
    report_version: str = ""  # settings.getDokployVersion answers this instead
    compose_dir_missing: bool = False  # the composes' directories are gone from the host
    ignore_sigterm_seconds: int = 0  # running workspaces exit this long after SIGTERM
    cloud: bool = False  # Dokploy Cloud: settings.isCloud true, composes need a serverId
    remote_servers_only: bool = False  # the admin's "remote servers only" (v0.29.6+)
    login_shell_stderr: bool = False  # remote servers' login shells write to stderr (#4260)


class Faults:
    """Thread-safe fault state shared by the HTTP layer, the deploy worker and the runtime."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._settings = FaultSettings()

    def set(self, **changes: Any) -> None:
        """Set some knobs, e.g. ``faults.set(fail_next_deploys=1, deploy_error="boom")``."""
        names = {f.name for f in fields(FaultSettings)}
        with self._lock:
            for name, raw in changes.items():
                if name not in names:
                    raise ValueError(f"unknown fault {name!r}; known: {', '.join(sorted(names))}")
                current = getattr(self._settings, name)
                value: Any
                if isinstance(current, bool):
                    value = bool(raw)
                elif isinstance(current, int):
                    value = int(raw)
                else:
                    value = str(raw)
                setattr(self._settings, name, value)

    def reset(self) -> None:
        """Clear every fault."""
        with self._lock:
            self._settings = FaultSettings()

    def snapshot(self) -> dict[str, Any]:
        """Current knobs as a dict."""
        with self._lock:
            return asdict(self._settings)

    def _read(self, name: str) -> Any:
        with self._lock:
            return getattr(self._settings, name)

    def _take(self, name: str) -> bool:
        with self._lock:
            left = getattr(self._settings, name)
            if left > 0:
                setattr(self._settings, name, left - 1)
                return True
            return False

    def take_deploy_failure(self) -> str | None:
        """Consume one deploy failure; its message, or None."""
        if self._take("fail_next_deploys"):
            with self._lock:
                return self._settings.deploy_error
        return None

    def take_stuck_deploy(self) -> bool:
        """Consume one stuck deploy."""
        return self._take("stuck_deploys")

    def take_http_500(self) -> bool:
        """Consume one injected 500."""
        return self._take("http_500")

    def take_exit_after_start(self) -> bool:
        """Consume one early sshd exit."""
        return self._take("exit_after_start")

    @property
    def delay_seconds(self) -> float:
        """Delay to add to every /api response."""
        with self._lock:
            return self._settings.delay_ms / 1000.0

    @property
    def key_revoked(self) -> bool:
        """Whether the API key is being rejected."""
        return bool(self._read("revoke_key"))

    @property
    def forbidden_message(self) -> str:
        """The permission failure to answer with, or ``""``."""
        return str(self._read("forbid"))

    @property
    def reported_version(self) -> str:
        """A version string to report instead of the emulated one, or ``""``."""
        return str(self._read("report_version"))

    @property
    def empty_containers(self) -> bool:
        """Whether container listings come back empty."""
        return bool(self._read("empty_containers"))

    @property
    def compose_dir_missing(self) -> bool:
        """Whether the composes' directories on the host are gone (compose.delete skips
        ``down`` then, up to v0.28.8)."""
        return bool(self._read("compose_dir_missing"))

    @property
    def sigterm_ignored_seconds(self) -> float:
        """How long a running workspace ignores SIGTERM: ``docker compose stop``/``down``
        (and so ``compose.stop``/``compose.delete``) answer only after it (under the 40 s
        grace period, past which Docker would SIGKILL)."""
        return float(self._read("ignore_sigterm_seconds"))

    @property
    def cloud(self) -> bool:
        """Whether this emulates Dokploy Cloud."""
        return bool(self._read("cloud"))

    @property
    def login_shell_stderr(self) -> bool:
        """Whether remote servers' login shells write to stderr (breaks v0.28.2-v0.29.13)."""
        return bool(self._read("login_shell_stderr"))

    @property
    def remote_servers_only(self) -> bool:
        """Whether the admin set "remote servers only" (honoured from v0.29.6)."""
        return bool(self._read("remote_servers_only"))
