"""Whether this Dokploy insists on a remote server for every compose, checked before a create.

Dokploy Cloud never runs composes on its own host, and from v0.29.6 a self-hosted admin can
set "remote servers only"; either way ``compose.create`` without a ``serverId`` is refused with
a 401. Asking first turns that into one line naming the servers the key can use.
"""

from __future__ import annotations

from dokploy_provider.dokploy import DokployClient
from dokploy_provider.errors import (
    ConfigurationError,
    NotFound,
    PermissionDenied,
    UnexpectedResponse,
    ValidationFailed,
)

CLOUD = "Dokploy Cloud runs composes only on servers you add"
REMOTE_ONLY = 'this Dokploy is set to "remote servers only"'


def server_requirement(client: DokployClient) -> str:
    """Why this Dokploy needs a server for every compose; ``""`` when it does not."""
    if client.is_cloud():
        return CLOUD
    try:
        remote_only = client.remote_servers_only()
    except (NotFound, PermissionDenied, UnexpectedResponse, ValidationFailed):
        return ""  # a Dokploy without the setting (or that hides it): create will tell
    return REMOTE_ONLY if remote_only else ""


def deploy_server_choices(client: DokployClient) -> str:
    """The deploy servers the key can use, as ``id (name)`` items for a hint."""
    try:
        servers = [s for s in client.list_servers() if s.server_type == "deploy"]
    except (NotFound, PermissionDenied):
        return "(the key may not list servers; copy an id from Dokploy's Servers page)"
    if not servers:
        return "none yet: add one in Dokploy (Servers)"
    return ", ".join(f"{s.server_id} ({s.name})" for s in servers)


def require_server(client: DokployClient, server_id: str) -> None:
    """Raise :class:`ConfigurationError` when no server is set and this Dokploy needs one."""
    if server_id.strip():
        return
    reason = server_requirement(client)
    if reason:
        raise ConfigurationError(
            f"{reason}, and DOKPLOY_SERVER_ID is empty",
            hint=f"set DOKPLOY_SERVER_ID to one of: {deploy_server_choices(client)}; or `auto`",
        )
