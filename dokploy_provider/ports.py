"""SSH port allocation, decided from Dokploy's own data, never by probing from the client.

Docker publishes compose ports on the host that runs the compose, so two workspaces on the
same Dokploy server must not share a host port. The ports in use are the ones the composes
on that server publish in their compose files; this module reads them (as Compose does: YAML
1.2, see :mod:`yaml12`) and picks a free one.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import yaml

from dokploy_provider import yaml12
from dokploy_provider.errors import PortRangeExhausted
from dokploy_provider.options import PortRange

#: Compose interpolation: ``$$`` (a literal ``$``), ``${VAR}``, ``${VAR:-default}``,
#: ``${VAR-default}``, ``${VAR:?err}``, ``$VAR``.
_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


def published_ports(
    compose_text: str | None, variables: Mapping[str, str] | None = None
) -> set[int]:
    """Host ports a compose file publishes (any container port), read as Compose reads it:
    YAML 1.2, every short and long port form, ``${VAR:-default}`` interpolated (from
    ``variables``, the compose's env, when known). Tolerant of odd files."""
    if not compose_text:
        return set()
    try:
        document = yaml12.load(compose_text)
    except yaml.YAMLError:
        return set()
    if not isinstance(document, dict) or not isinstance(document.get("services"), dict):
        return set()
    env = dict(variables or {})
    ports: set[int] = set()
    for service in document["services"].values():
        if isinstance(service, dict) and isinstance(service.get("ports"), list):
            for entry in service["ports"]:
                ports.update(_host_ports(entry, env))
    return ports


def compose_variables(env_text: str | None) -> dict[str, str]:
    """The ``KEY=value`` lines of a compose's env (Dokploy writes them as its ``.env``)."""
    variables: dict[str, str] = {}
    for raw in (env_text or "").splitlines():
        line = raw.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.removeprefix("export ").partition("=")
            variables[key.strip()] = value.strip().strip("'\"")
    return variables


def _interpolate(value: Any, env: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("braced") or match.group("named")
        op, arg = match.group("op") or "", match.group("arg") or ""
        value = env.get(name)
        if op == "+":  # ${VAR+alt}
            return arg if value is not None else ""
        if op == ":+":
            return arg if value else ""
        if value is None or (op.startswith(":") and not value):
            return arg if op in {"-", ":-"} else ""
        return value

    return _VARIABLE.sub(replace, str(value))


def _host_ports(entry: Any, env: Mapping[str, str]) -> set[int]:
    if isinstance(entry, dict):  # long syntax
        published = entry.get("published")
        return _port_spec(_interpolate(published, env)) if published is not None else set()
    if isinstance(entry, int):
        return set()  # a bare container port gets a random host port
    spec = _interpolate(entry, env).split("/", 1)[0].strip()
    if spec.startswith("["):  # [::1]:2222:22
        spec = spec.split("]", 1)[1].lstrip(":")
    parts = spec.rsplit(":", 2)
    if len(parts) < 2:
        return set()  # container port (or range) only
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


def candidate_ports(machine_id: str, port_range: PortRange) -> Iterator[int]:
    """Every port of the range once, in the order this machine tries them: from its
    preferred port up, wrapping round to the start of the range."""
    start = preferred_start(machine_id, port_range)
    size = len(port_range)
    for offset in range(size):
        yield port_range.first + (start - port_range.first + offset) % size


def choose_port(
    port_range: PortRange,
    taken: Iterable[int],
    *,
    machine_id: str,
    server_label: str,
) -> int:
    """The first free port of the range, starting at this machine's preferred port."""
    used = set(taken)
    for port in candidate_ports(machine_id, port_range):
        if port not in used:
            return port
    size = len(port_range)
    raise PortRangeExhausted(
        f"all {size} ports of DOKPLOY_SSH_PORT_RANGE {port_range} are published on {server_label}",
        hint="delete unused workspaces or widen the range, e.g. "
        f"`devpod provider set-options dokploy -o DOKPLOY_SSH_PORT_RANGE={port_range.first}-"
        f"{min(port_range.last + 50, 65535)}`",
    )
