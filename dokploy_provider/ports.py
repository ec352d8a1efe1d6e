"""SSH port allocation, decided from Dokploy's own data, never by probing from the client.

Docker publishes compose ports on the host that runs the compose, so two workspaces on the
same Dokploy server must not share a host port. The ports in use are the ones the composes
on that server publish in their compose files; this module reads them and picks a free one.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from typing import Any

import yaml

from dokploy_provider.errors import PortRangeExhausted
from dokploy_provider.options import PortRange


def published_ports(compose_text: str | None) -> set[int]:
    """Host ports a compose file publishes (any container port), tolerant of odd files."""
    if not compose_text:
        return set()
    try:
        document = yaml.safe_load(compose_text)
    except yaml.YAMLError:
        return set()
    if not isinstance(document, dict) or not isinstance(document.get("services"), dict):
        return set()
    ports: set[int] = set()
    for service in document["services"].values():
        if isinstance(service, dict):
            for entry in service.get("ports") or []:
                ports.update(_host_ports(entry))
    return ports


def _host_ports(entry: Any) -> set[int]:
    if isinstance(entry, dict):
        published = entry.get("published")
        return _port_spec(str(published)) if published is not None else set()
    if isinstance(entry, int):
        return set()  # a bare container port gets a random host port
    text = str(entry).split("/", 1)[0]
    parts = text.rsplit(":", 2)
    if len(parts) < 2:
        return set()
    return _port_spec(parts[-2])


def _port_spec(text: str) -> set[int]:
    text = text.strip().strip('"')
    try:
        if "-" in text:
            low, high = (int(p) for p in text.split("-", 1))
            return set(range(low, high + 1))
        return {int(text)}
    except ValueError:
        return set()


def preferred_start(machine_id: str, port_range: PortRange) -> int:
    """Where this machine starts looking: spread by a stable hash, so simultaneous
    creates rarely reach for the same port first."""
    return port_range.first + zlib.crc32(machine_id.encode("utf-8")) % len(port_range)


def choose_port(
    port_range: PortRange,
    taken: Iterable[int],
    *,
    machine_id: str,
    server_label: str,
) -> int:
    """The first free port of the range, starting at this machine's preferred port."""
    used = set(taken)
    start = preferred_start(machine_id, port_range)
    size = len(port_range)
    for offset in range(size):
        port = port_range.first + (start - port_range.first + offset) % size
        if port not in used:
            return port
    raise PortRangeExhausted(
        f"all {size} ports of DOKPLOY_SSH_PORT_RANGE {port_range} are published on {server_label}",
        hint="delete unused workspaces or widen the range, e.g. "
        f"`devpod provider set-options dokploy -o DOKPLOY_SSH_PORT_RANGE={port_range.first}-"
        f"{min(port_range.last + 50, 65535)}`",
    )
