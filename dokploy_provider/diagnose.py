"""Explain why a workspace cannot be reached, by asking Dokploy (off the hot path).

``command`` connects from the machine state alone; only when that fails does it call this,
which may spend a few API calls to turn "connection refused" into "the workspace is stopped".
"""

from __future__ import annotations

from dokploy_provider.errors import HostKeyMismatch, NotFound, ProviderError, SSHError
from dokploy_provider.state import MachineState


def explain_ssh_failure(state: MachineState, error: SSHError) -> str | None:
    """One sentence on why ``state``'s workspace did not answer, or ``None`` if unknown."""
    if isinstance(error, HostKeyMismatch) or not state.compose_id:
        return None
    from dokploy_provider.dokploy import DokployClient
    from dokploy_provider.options import load_settings
    from dokploy_provider.ports import published_ports

    try:
        settings = load_settings()
        with DokployClient(
            settings.server_url, settings.token, connect_timeout=5.0, read_timeout=10.0
        ) as client:
            try:
                compose = client.get_compose(state.compose_id)
            except NotFound:
                return (
                    "Dokploy says the workspace's compose was deleted; run `devpod delete` "
                    "and `devpod up` to make a new one"
                )
            if compose.compose_status == "running":
                return "Dokploy is deploying the workspace right now; retry in a moment"
            if compose.compose_status == "error":
                return "the workspace's last deployment failed; `devpod up` redeploys it"
            ports = published_ports(compose.compose_file)
            if ports and state.ssh_port not in ports:
                moved = ", ".join(str(p) for p in sorted(ports))
                return (
                    f"the workspace's compose now publishes port {moved}, not {state.ssh_port} "
                    "(it was edited outside DevPod); recreate the workspace"
                )
            containers = client.get_containers(compose.app_name, state.server_id)
            if containers and not any(c.state == "running" for c in containers):
                return "the workspace is stopped; `devpod up` starts it"
    except ProviderError as exc:
        return f"Dokploy could not be asked why ({exc.message})"
    return None
