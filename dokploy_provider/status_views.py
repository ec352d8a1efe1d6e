"""The Dokploy answers ``status`` reads, as stdlib views of :mod:`dokploy_provider.models`.

``compose.one`` → :class:`Compose` (with its :class:`Deployment` rows) and
``docker.getContainersByAppNameMatch`` → :class:`Container`: only the fields
:func:`dokploy_provider.status.workspace_status` reads, with the pydantic models' names,
defaults and required fields (a unit test compares them field by field), and a body the
models would refuse or read differently raises :class:`Fallback`, so the full path judges it.
They exist because importing pydantic costs the ``status`` fast path more than all the rest
of its work.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class Fallback(Exception):
    """The fast path cannot answer exactly as the full path would; the full path will."""


@dataclass(frozen=True)
class Deployment:
    """The deployment fields status reads."""

    deployment_id: str
    created_at: str | None
    started_at: str | None


@dataclass(frozen=True)
class Compose:
    """The ``compose.one`` fields status reads."""

    compose_id: str
    app_name: str
    description: str | None
    compose_status: str
    deployments: Sequence[Deployment]


@dataclass(frozen=True)
class Container:
    """The container fields status reads."""

    state: str
    status: str


def _optional_str(row: Mapping[str, Any], key: str, default: str | None = None) -> str | None:
    value = row.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise Fallback(f"{key} is {type(value).__name__}")
    return value


def _required_str(row: Mapping[str, Any], key: str) -> str:
    value = row.get(key)
    if not isinstance(value, str):
        raise Fallback(f"{key} is missing or not a string")
    return value


def parse_compose(data: Any) -> Compose:
    """A ``compose.one`` body; :class:`Fallback` when it is not the shape we know."""
    if not isinstance(data, dict):
        raise Fallback("compose.one did not answer an object")
    _required_str(data, "name")  # the full model requires it; stay as strict
    rows = data.get("deployments")
    if rows is None:
        rows = []
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise Fallback("compose.one deployments is not a list of objects")
    return Compose(
        compose_id=_required_str(data, "composeId"),
        app_name=_required_str(data, "appName"),
        description=_optional_str(data, "description"),
        compose_status=_optional_str(data, "composeStatus", "idle") or "idle",
        deployments=[
            Deployment(
                deployment_id=_required_str(row, "deploymentId"),
                created_at=_optional_str(row, "createdAt"),
                started_at=_optional_str(row, "startedAt"),
            )
            for row in rows
        ],
    )


def parse_containers(data: Any) -> list[Container]:
    """A ``docker.getContainersByAppNameMatch`` body (``None`` is ``[]``)."""
    if data is None:
        return []
    if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
        raise Fallback("the container list is not a list of objects")
    containers = []
    for row in data:
        _required_str(row, "containerId")
        _required_str(row, "name")
        containers.append(
            Container(
                state=_required_str(row, "state"), status=_optional_str(row, "status", "") or ""
            )
        )
    return containers
