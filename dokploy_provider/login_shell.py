"""Dokploy issue #4260: remote servers whose login shell writes to stderr.

From v0.28.2 to v0.29.13 Dokploy reads a remote server's compose file back with ``cat`` over
SSH before every deploy and takes *any* stderr output of root's login shell there (a motd, a
warning from ``~/.bashrc`` or ``/etc/profile``) for a missing file: every deploy on that server
fails with "Compose file not found". The deploy-failure message and ``doctor`` share what is
said about it here.
"""

from __future__ import annotations

from collections.abc import Iterable

from dokploy_provider.dokploy import DokployClient
from dokploy_provider.errors import ProviderError
from dokploy_provider.models import Compose
from dokploy_provider.status import newest_deployment

#: The line Dokploy writes to the deploy log when it could not read the file back.
COMPOSE_FILE_NOT_FOUND = "Compose file not found"

FIX = (
    "make root's login shell on that server print nothing on stderr (`ssh root@<server> true "
    "2>&1 >/dev/null` must print nothing), or upgrade Dokploy to v0.29.14 or later"
)


def explanation(server_id: str, version: object) -> str:
    """Why a deploy on ``server_id`` failed with :data:`COMPOSE_FILE_NOT_FOUND`."""
    return (
        f"Dokploy could not read the compose file back from server {server_id}: Dokploy "
        f"{version} reads it with `cat` over SSH and takes any stderr output of root's login "
        "shell there (a motd, a message from ~/.bashrc or /etc/profile) for a missing file "
        "(Dokploy issue #4260, v0.28.2 to v0.29.13)"
    )


def composes_failed_by_it(client: DokployClient, composes: Iterable[Compose]) -> list[Compose]:
    """The composes whose newest deploy failed with :data:`COMPOSE_FILE_NOT_FOUND` (read from
    the deploy logs; empty where this Dokploy cannot return them, before v0.29.5)."""
    if not client.version().has_read_logs:
        return []
    failed: list[Compose] = []
    for compose in composes:
        try:
            newest = newest_deployment(client.list_deployments(compose.compose_id))
            if newest is None or newest.status != "error":
                continue
            text = client.read_deployment_log(newest.deployment_id, tail=40) or ""
        except ProviderError:
            continue  # deleted meanwhile, or not ours to read: not evidence either way
        if COMPOSE_FILE_NOT_FOUND in text:
            failed.append(compose)
    return failed
