"""Dokploy's synchronous compose calls: ``compose.start``, ``compose.stop``, ``compose.delete``.

Dokploy answers them only when ``docker compose`` is done, and Docker waits up to the
containers' stop grace period (the workspace's is 40 s) before ``stop``/``down`` return. The
client's usual read timeout would end such a call with "Cannot reach Dokploy" while Dokploy
goes on and finishes. So these calls wait longer, and when even that runs out the provider
re-reads the state and waits for the outcome instead of failing.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from dokploy_provider import compose as compose_file
from dokploy_provider import log
from dokploy_provider.errors import ReadyTimeout, ResponseTimeout
from dokploy_provider.options import Settings, parse_duration

logger = log.get("sync")

#: On top of the client's read timeout and the stop grace period.
MARGIN_SECONDS = 30.0
POLL_START = 0.25
POLL_MAX = 2.0


def call_timeout(settings: Settings) -> float:
    """How long one synchronous call may take before the provider looks for itself."""
    grace = parse_duration(compose_file.STOP_GRACE_PERIOD)
    return settings.http_timeout + grace + MARGIN_SECONDS


def settle(
    call: Callable[[float], None],
    outcome: Callable[[], bool],
    *,
    endpoint: str,
    what: str,
    settings: Settings,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Run ``call(read_timeout)``; if Dokploy got it but did not answer in time, poll
    ``outcome()`` until it holds (bounded by ``DOKPLOY_DEPLOY_TIMEOUT``)."""
    timeout = call_timeout(settings)
    try:
        call(timeout)
        return
    except ResponseTimeout:
        logger.info(
            "Dokploy has not answered %s within %.0f s; it goes on with it, so waiting for %s",
            endpoint,
            timeout,
            what,
        )
    budget = settings.deploy_timeout
    deadline = clock() + budget
    delay = POLL_START
    while not outcome():
        if clock() >= deadline:
            raise ReadyTimeout(
                f"Dokploy did not answer {endpoint} and {what} did not happen within "
                f"{budget:.0f} s",
                hint="check the workspace on Dokploy's dashboard (its container may ignore "
                "SIGTERM); raise DOKPLOY_DEPLOY_TIMEOUT if the server is just slow",
            )
        sleep(delay)
        delay = min(delay * 2, POLL_MAX)
