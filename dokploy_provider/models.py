"""Typed views of the Dokploy API objects the provider uses.

Every model ignores unknown fields and reads Dokploy's camelCase names into snake_case
attributes (both spellings are accepted on input). Differences between Dokploy versions are
smoothed over by :mod:`dokploy_provider.dokploy`, so callers see one shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

_VERSION_RE = re.compile(r"^\s*v?(\d+)\.(\d+)\.(\d+)(?:[-+.].*)?\s*$")
_NEWEST = 10**6


@dataclass(frozen=True, order=True)
class DokployVersion:
    """A Dokploy release ``vX.Y.Z``, ordered by number, with the API features it implies.

    ``raw`` is the string the server sent (not part of comparisons). A version the provider
    could not parse is represented by :meth:`assume_newest` and compares above every release.
    """

    major: int
    minor: int
    patch: int
    raw: str = field(default="", compare=False)

    MINIMUM: ClassVar[DokployVersion]
    NEWEST_TESTED: ClassVar[DokployVersion]

    @classmethod
    def parse(cls, text: str) -> DokployVersion:
        """Parse ``"v0.30.2"`` (the ``v`` and a ``-canary…`` suffix are optional).

        Raises :class:`ValueError` for anything else.
        """
        match = _VERSION_RE.match(text)
        if not match:
            raise ValueError(f"not a Dokploy version: {text!r}")
        major, minor, patch = (int(group) for group in match.groups())
        return cls(major, minor, patch, raw=text.strip())

    @classmethod
    def assume_newest(cls, raw: str) -> DokployVersion:
        """Stand-in for an unparseable version string: newer than anything known."""
        return cls(_NEWEST, 0, 0, raw=raw)

    @property
    def is_assumed(self) -> bool:
        """Whether this is the stand-in for an unparseable version."""
        return self.major >= _NEWEST

    def at_least(self, major: int, minor: int, patch: int = 0) -> bool:
        """``self >= vmajor.minor.patch``."""
        return (self.major, self.minor, self.patch) >= (major, minor, patch)

    @property
    def has_environments(self) -> bool:
        """Composes live in environments (``environmentId``), not directly in projects."""
        return self.at_least(0, 25, 0)

    @property
    def has_read_logs(self) -> bool:
        """``deployment.readLogs`` exists (commit 558d80987, in v0.29.5)."""
        return self.at_least(0, 29, 5)

    @property
    def remote_deploy_fails_on_login_stderr(self) -> bool:
        """v0.28.2 to v0.29.13 read a remote server's compose file back with ``cat`` over SSH and
        take any stderr of the login shell for a missing file (Dokploy #4260)."""
        return self.at_least(0, 28, 2) and not self.at_least(0, 29, 14)

    @property
    def has_kill_build(self) -> bool:
        """``compose.killBuild`` exists."""
        return self.at_least(0, 25, 8)

    @property
    def update_unknown_is_empty(self) -> bool:
        """``compose.update`` on an unknown id answers an empty 200; a 404 before v0.28.7."""
        return self.at_least(0, 28, 7)

    @property
    def create_accepts_source_type(self) -> bool:
        """``compose.create`` accepts ``sourceType``."""
        return self.at_least(0, 30, 0)

    def __str__(self) -> str:
        if self.is_assumed:
            return self.raw or "unknown version"
        return f"v{self.major}.{self.minor}.{self.patch}"


DokployVersion.MINIMUM = DokployVersion(0, 22, 7)
DokployVersion.NEWEST_TESTED = DokployVersion(0, 30, 2)


class DokployModel(BaseModel):
    """Base: ignore unknown fields, camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(
        extra="ignore", populate_by_name=True, alias_generator=to_camel, frozen=False
    )

    @model_validator(mode="before")
    @classmethod
    def _drop_nulls(cls, data: Any) -> Any:
        # Dokploy sends null for many unset columns; let the field default stand in for it.
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data


class Server(DokployModel):
    """A remote server registered in Dokploy (``server.all`` / ``server.one``)."""

    server_id: str
    name: str
    description: str | None = None
    ip_address: str = ""
    port: int = 22
    username: str = "root"
    app_name: str | None = None
    server_status: str | None = None
    # Build servers arrived later; every server before that could host deployments.
    server_type: str = "deploy"
    created_at: str | None = None
    organization_id: str | None = None


class ComposeSummary(DokployModel):
    """A compose as listed inside a project or environment (a summary on recent Dokploy)."""

    compose_id: str
    name: str
    compose_status: str | None = None
    app_name: str | None = None
    server_id: str | None = None
    created_at: str | None = None
    description: str | None = None


#: The service lists beside ``compose`` in a project (< v0.25) or environment whose services
#: can publish host ports, each with the id key of its ``<kind>.one`` query. ``libsql`` exists
#: from v0.30.0; a list a server does not send is simply empty.
SERVICE_ID_KEYS: dict[str, str] = {
    "applications": "applicationId",
    "postgres": "postgresId",
    "mysql": "mysqlId",
    "mariadb": "mariadbId",
    "mongo": "mongoId",
    "redis": "redisId",
    "libsql": "libsqlId",
}


@dataclass(frozen=True)
class ServiceRef:
    """An application or database as a project lists it: its kind and id (from v0.28.3 the
    list holds nothing else, so its ports come from ``<kind>.one``)."""

    kind: str
    service_id: str

    @property
    def endpoint(self) -> str:
        """The query that returns the whole service: ``application.one``, ``postgres.one``…"""
        return ("application" if self.kind == "applications" else self.kind) + ".one"

    @property
    def id_param(self) -> str:
        """The query parameter naming the service (``applicationId``, ``postgresId``…)."""
        return SERVICE_ID_KEYS[self.kind]


class ServiceLists(DokployModel):
    """The application and database lists of a project or environment (raw rows)."""

    applications: list[Any] = Field(default_factory=list)
    postgres: list[Any] = Field(default_factory=list)
    mysql: list[Any] = Field(default_factory=list)
    mariadb: list[Any] = Field(default_factory=list)
    mongo: list[Any] = Field(default_factory=list)
    redis: list[Any] = Field(default_factory=list)
    libsql: list[Any] = Field(default_factory=list)

    @property
    def service_refs(self) -> list[ServiceRef]:
        """Every listed service with an id, in :data:`SERVICE_ID_KEYS` order."""
        refs: list[ServiceRef] = []
        for kind, id_key in SERVICE_ID_KEYS.items():
            for row in getattr(self, kind):
                service_id = row.get(id_key) if isinstance(row, dict) else None
                if isinstance(service_id, str) and service_id:
                    refs.append(ServiceRef(kind, service_id))
        return refs


class Environment(ServiceLists):
    """An environment of a project (Dokploy ≥ v0.25)."""

    environment_id: str
    name: str
    description: str | None = None
    is_default: bool | None = None
    project_id: str | None = None
    created_at: str | None = None
    composes: list[ComposeSummary] = Field(default_factory=list, alias="compose")


class Project(ServiceLists):
    """A Dokploy project.

    On Dokploy ≥ v0.25 composes are under ``environments``; before that ``environments`` is
    empty and ``composes`` lists the project's composes directly.
    """

    project_id: str
    name: str
    description: str | None = None
    created_at: str | None = None
    organization_id: str | None = None
    environments: list[Environment] = Field(default_factory=list)
    composes: list[ComposeSummary] = Field(default_factory=list, alias="compose")

    @property
    def all_composes(self) -> list[ComposeSummary]:
        """Every compose of the project, whichever version's layout it came in."""
        found = list(self.composes)
        for environment in self.environments:
            found.extend(environment.composes)
        return found

    @property
    def all_service_refs(self) -> list[ServiceRef]:
        """Every application and database of the project, whichever layout it came in."""
        found = list(self.service_refs)
        for environment in self.environments:
            found.extend(environment.service_refs)
        return found


class Deployment(DokployModel):
    """One deployment run of a compose (``deployment.allByCompose``)."""

    deployment_id: str
    title: str | None = None
    description: str | None = None
    status: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    error_message: str | None = None
    log_path: str | None = None


class Compose(DokployModel):
    """A compose service (``compose.one`` / ``compose.create`` / ``compose.update``)."""

    compose_id: str
    name: str
    app_name: str
    description: str | None = None
    compose_file: str = ""
    #: The compose's ``.env`` (KEY=value lines) that Dokploy writes beside the file.
    env: str | None = None
    compose_status: str = "idle"
    source_type: str | None = None
    compose_type: str = "docker-compose"
    server_id: str | None = None
    environment_id: str | None = None
    project_id: str | None = None
    created_at: str | None = None
    deployments: list[Deployment] = Field(default_factory=list)


class PublishedPort(DokployModel):
    """A port an application publishes (its ``ports`` rows; Swarm's ``PublishedPort``)."""

    published_port: int
    protocol: str = "tcp"


class Service(DokployModel):
    """An application or database as ``<kind>.one`` returns it, reduced to what decides the
    host ports it holds: the server it runs on and what it publishes."""

    name: str = ""
    app_name: str = ""
    server_id: str | None = None
    #: Applications: Swarm ports (ingress or host mode, both bind the port on the server).
    ports: list[PublishedPort] = Field(default_factory=list)
    #: Databases: the port Dokploy publishes in host mode when "external access" is on.
    external_port: int | None = None
    #: libsql (v0.30+) publishes two more.
    external_grpc_port: int | None = Field(default=None, alias="externalGRPCPort")
    external_admin_port: int | None = None

    def tcp_host_ports(self) -> set[int]:
        """The TCP ports this service holds on its server (a UDP port does not block SSH)."""
        found = {p.published_port for p in self.ports if p.protocol.lower() == "tcp"}
        external = (self.external_port, self.external_grpc_port, self.external_admin_port)
        return found | {port for port in external if port is not None}


class Container(DokployModel):
    """A container of a compose, from ``docker ps`` on its host."""

    container_id: str
    name: str
    state: str
    status: str = ""


class CreatedProject(DokployModel):
    """What ``project.create`` produced: the project and (≥ v0.25) its default environment."""

    project: Project
    environment: Environment | None = None
