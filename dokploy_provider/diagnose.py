"""Explain why a workspace cannot be reached, by asking Dokploy (off the hot path)."""

from __future__ import annotations

from dokploy_provider.errors import SSHError
from dokploy_provider.state import MachineState


def explain_ssh_failure(state: MachineState, error: SSHError) -> str | None:
    """One sentence on why ``state``'s workspace did not answer, or ``None`` if unknown.

    Called by ``command`` only after a connection failed; it may call Dokploy's API.
    """
    return None
