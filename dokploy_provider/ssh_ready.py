"""Probing a workspace's SSH login, and waiting until it works (create/start, doctor)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dokploy_provider.errors import HostKeyMismatch, ReadyTimeout, SSHAuthRefused, SSHError
from dokploy_provider.ssh import SSHPortClosed, SSHTarget, connect
from dokploy_provider.state import MachineState

#: Probe outcomes, from least to most progress.
PORT_CLOSED = "port_closed"
NO_BANNER = "no_banner"
HOST_KEY_MISMATCH = "host_key_mismatch"
AUTH_REFUSED = "auth_refused"
OK = "ok"


@dataclass(frozen=True)
class ProbeResult:
    """What one connection attempt reached. ``kind`` is one of the module's probe constants."""

    kind: str
    detail: str

    @property
    def ok(self) -> bool:
        return self.kind == OK


def probe(state: MachineState, key_path: str | Path, timeout: float) -> ProbeResult:
    """Try one full login and report how far it got; never raises ``SSHError``."""
    try:
        conn = connect(SSHTarget.of(state), key_path, timeout=timeout)
    except SSHPortClosed as exc:
        return ProbeResult(PORT_CLOSED, exc.message)
    except HostKeyMismatch as exc:
        return ProbeResult(HOST_KEY_MISMATCH, exc.message)
    except SSHAuthRefused as exc:
        return ProbeResult(AUTH_REFUSED, exc.message)
    except SSHError as exc:  # SSHNoBanner and drops during the handshake
        return ProbeResult(NO_BANNER, exc.message)
    conn.close()
    return ProbeResult(OK, f"logged in to {state.target} as {state.ssh_user}")


_PROGRESS = {PORT_CLOSED: 0, NO_BANNER: 1, HOST_KEY_MISMATCH: 2, AUTH_REFUSED: 3, OK: 4}


def wait_until_ready(
    state: MachineState,
    key_path: str | Path,
    *,
    timeout: float,
    on_progress: Callable[[float, ProbeResult], None] | None = None,
    check_still_wanted: Callable[[], None] | None = None,
    attempt_timeout: float = 10.0,
    progress_interval: float = 5.0,
) -> None:
    """Probe until a login succeeds, backing off from 0.1 s to 2 s between attempts.

    Keeps trying on every failure (a re-created container may briefly show an old key or
    refuse logins) until ``timeout`` seconds; calls ``on_progress(elapsed, last_result)`` at
    most every ``progress_interval`` seconds, and ``check_still_wanted()`` as often, whose
    exception (the workspace was deleted meanwhile, say) ends the wait. Raises
    ``ReadyTimeout`` saying what answered (and what never did) when time runs out.
    """
    started = time.monotonic()
    deadline = started + timeout
    delay = 0.1
    last_report = started
    best: ProbeResult | None = None
    last: ProbeResult | None = None
    attempts = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        last = probe(state, key_path, max(0.2, min(attempt_timeout, remaining)))
        attempts += 1
        if last.ok:
            return
        if best is None or _PROGRESS[last.kind] > _PROGRESS[best.kind]:
            best = last
        now = time.monotonic()
        if now - last_report >= progress_interval:
            last_report = now
            if check_still_wanted is not None:
                check_still_wanted()
            if on_progress is not None:
                with contextlib.suppress(Exception):
                    on_progress(now - started, last)
        remaining = deadline - now
        if remaining <= 0:
            break
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 2.0)
    raise ReadyTimeout(_timeout_message(state, timeout, attempts, last, best))


def _timeout_message(
    state: MachineState,
    timeout: float,
    attempts: int,
    last: ProbeResult | None,
    best: ProbeResult | None,
) -> str:
    target = state.target
    if last is None or best is None:
        return f"no SSH attempt to {target} could be made within {timeout:.0f}s"
    reached = {
        PORT_CLOSED: "the TCP port never accepted a connection",
        NO_BANNER: "the TCP port accepted connections but no SSH banner came",
        HOST_KEY_MISMATCH: "sshd answered but with a host key other than the pinned one",
        AUTH_REFUSED: "sshd answered with the right host key but refused the client key",
    }[best.kind]
    return (
        f"the workspace at {target} was not reachable over SSH within {timeout:.0f}s "
        f"({attempts} attempts): {reached}; last answer: {last.detail}"
    )
