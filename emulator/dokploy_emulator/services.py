"""Dokploy's applications and databases, reduced to what a provider reads of them: where they
run and the host ports they publish.

An application's ``ports`` rows are Swarm published ports (``application.one`` loads them;
``project.all`` does not). A database publishes ``externalPort`` in host mode when external
access is on, libsql (v0.30+) also ``externalGRPCPort`` and ``externalAdminPort``. From v0.28.3
``project.all`` (and from v0.29.14 ``project.one``) lists each service as ``{<id>}`` only.
"""

from __future__ import annotations

from typing import Any

from .errors import bad_request, not_found
from .ids import build_app_name, nanoid, now_iso
from .store import Row
from .versions import Features

#: List name in a project or environment -> (procedure prefix, id key, "not found" name).
KINDS: dict[str, tuple[str, str, str]] = {
    "applications": ("application", "applicationId", "Application"),
    "mariadb": ("mariadb", "mariadbId", "Mariadb"),
    "mongo": ("mongo", "mongoId", "Mongo"),
    "mysql": ("mysql", "mysqlId", "MySQL"),
    "postgres": ("postgres", "postgresId", "Postgres"),
    "redis": ("redis", "redisId", "Redis"),
    "libsql": ("libsql", "libsqlId", "Libsql"),
}
_LIBSQL_PORTS = ("externalPort", "externalGRPCPort", "externalAdminPort")


def kinds_for(features: Features) -> list[str]:
    """The service lists this version has (libsql from v0.30.0)."""
    return [kind for kind in KINDS if kind != "libsql" or features.libsql]


def new_service(features: Features, data: dict[str, Any], owner: Row) -> Row:
    """A service row from ``POST /__emulator/service``: ``kind``, ``name``, ``serverId``, and
    ``ports`` (applications: ``[{publishedPort, targetPort, protocol, publishMode}]``) or
    ``externalPort`` (databases; libsql also ``externalGRPCPort``/``externalAdminPort``)."""
    kind = str(data.get("kind", ""))
    if kind not in kinds_for(features):
        raise bad_request(f"unknown service kind {kind!r} on {features.version}")
    prefix, id_key, _ = KINDS[kind]
    service_id = nanoid()
    name = str(data.get("name") or prefix)
    row: Row = {
        id_key: service_id,
        "name": name,
        "appName": build_app_name(prefix, name),
        "description": None,
        "serverId": data.get("serverId"),
        "createdAt": now_iso(),
        "applicationStatus": "done",
        **owner,
        "_kind": kind,
    }
    if kind == "applications":
        row["ports"] = [
            {
                "portId": nanoid(),
                "publishedPort": int(port["publishedPort"]),
                "targetPort": int(port.get("targetPort", port["publishedPort"])),
                "protocol": port.get("protocol", "tcp"),
                "publishMode": port.get("publishMode", "ingress"),
                "applicationId": service_id,
            }
            for port in data.get("ports", [])
        ]
    else:
        for key in _LIBSQL_PORTS if kind == "libsql" else _LIBSQL_PORTS[:1]:
            value = data.get(key)
            row[key] = int(value) if value is not None else None
    return row


def listed(row: Row, *, summary: bool) -> Row:
    """How a project or environment lists the service: ``{<id>}`` only, or the row without
    the relations ``project.all`` does not load (an application's ``ports``)."""
    _, id_key, _ = KINDS[row["_kind"]]
    if summary:
        return {id_key: row[id_key]}
    return {k: v for k, v in row.items() if not k.startswith("_") and k != "ports"}


def one(rows: dict[str, Row], kind: str, data: dict[str, Any]) -> Row:
    """``<kind>.one``: the whole row (an application's ``ports`` included)."""
    _, id_key, label = KINDS[kind]
    row = rows.get(str(data.get(id_key, "")))
    if row is None or row["_kind"] != kind:
        raise not_found(f"{label} not found")
    return {k: v for k, v in row.items() if not k.startswith("_")}
