"""The ownership marker in a compose's description, read without yaml or pydantic.

``status`` checks it on every call, so the parser lives here, stdlib only;
:mod:`dokploy_provider.compose` writes the marker in the same format.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MARKER_PREFIX = "[dokploy-provider machine="
_MARKER = re.compile(r"\[dokploy-provider machine=([a-z0-9-]+)(?: owner=([0-9a-f]+))?\]")


@dataclass(frozen=True)
class Marker:
    """Who owns a compose: the DevPod machine, and the DevPod installation that created it."""

    machine_id: str
    owner: str | None


def parse_marker(description_text: str | None) -> Marker | None:
    """The marker in a compose description, or ``None`` if it has none."""
    match = _MARKER.search(description_text or "")
    return Marker(match.group(1), match.group(2)) if match else None


def owner_of(description_text: str | None) -> str | None:
    """The machine id in a compose description's marker, or ``None`` if it has none."""
    found = parse_marker(description_text)
    return found.machine_id if found else None
