"""Where a workspace goes on Dokploy: its project, environment, deploy server and SSH host."""

from __future__ import annotations

from dataclasses import dataclass

from dokploy_provider import log
from dokploy_provider.dokploy import DokployClient
from dokploy_provider.errors import ConfigurationError, NotFound, ProviderError
from dokploy_provider.models import Environment, Project, Server
from dokploy_provider.options import Settings
from dokploy_provider.port_claim import workspaces_per_server
from dokploy_provider.server_required import require_server

logger = log.get("machine")


@dataclass(frozen=True)
class Placement:
    """Where a workspace lives on Dokploy."""

    project_id: str
    environment_id: str | None
    server_id: str | None
    ssh_host: str


class Placer:
    """Placement decisions from the settings and what Dokploy holds."""

    def __init__(self, settings: Settings, client: DokployClient) -> None:
        self.settings = settings
        self.client = client

    def place(self) -> Placement:
        """Find or create the project (and environment) and choose the server and SSH host."""
        require_server(self.client, self.settings.server_id)
        project = self.find_project() or self.create_project()
        environment_id: str | None = None
        if self.client.version().has_environments:
            environment = self.find_environment(project) or self.create_environment(project)
            environment_id = environment.environment_id
        server = self.resolve_server(project, choose_auto=self.settings.auto_server)
        server_id = server.server_id if server else None
        return Placement(project.project_id, environment_id, server_id, self.ssh_host(server))

    def find_project(self) -> Project | None:
        """The project named DOKPLOY_PROJECT_NAME (the oldest, if Dokploy holds several)."""
        matches = [p for p in self.client.list_projects() if p.name == self.settings.project_name]
        # Names are not unique in Dokploy; concurrent first creates may each make one. All
        # machines agree on the oldest, so workspaces never spread over duplicates.
        matches.sort(key=lambda p: (p.created_at or "", p.project_id))
        return matches[0] if matches else None

    def create_project(self) -> Project:
        """Create DOKPLOY_PROJECT_NAME, keeping the oldest if a concurrent create made one too."""
        logger.info("Creating Dokploy project %r", self.settings.project_name)
        created = self.client.create_project(
            self.settings.project_name, "DevPod workspaces (managed by dokploy-provider)"
        )
        project = self.find_project()
        if project is not None and project.project_id != created.project.project_id:
            # Another create made the same project at the same moment and it is older: use
            # that one and remove ours, which is still empty.
            logger.info("Project %r already existed; removing the duplicate", project.name)
            try:
                self.client.remove_project(created.project.project_id)
            except ProviderError as exc:
                logger.warning("could not remove duplicate project: %s", exc)
        if project is None:
            raise NotFound(
                f"project {self.settings.project_name!r} was created but is not listed",
                endpoint="project.all",
                hint="check that the API key's user can see the projects it creates",
            )
        return project

    def find_environment(self, project: Project) -> Environment | None:
        """DOKPLOY_ENVIRONMENT_NAME in ``project``, else its default environment."""
        environments = project.environments or self.client.list_environments(project.project_id)
        wanted = self.settings.environment_name
        if wanted:
            matches = sorted(
                (e for e in environments if e.name == wanted),
                key=lambda e: (e.created_at or "", e.environment_id),
            )
            return matches[0] if matches else None
        for env in environments:
            if env.is_default:
                return env
        for env in environments:
            if env.name == "production":
                return env
        return environments[0] if environments else None

    def create_environment(self, project: Project) -> Environment:
        """Create DOKPLOY_ENVIRONMENT_NAME in ``project`` (an empty name cannot be created)."""
        wanted = self.settings.environment_name
        if not wanted:
            raise NotFound(
                f"project {project.name!r} has no environment",
                endpoint="environment.byProjectId",
                hint="set DOKPLOY_ENVIRONMENT_NAME to an environment to use or create",
            )
        logger.info("Creating Dokploy environment %r in project %r", wanted, project.name)
        self.client.create_environment(project.project_id, wanted, "DevPod workspaces")
        refreshed = self.client.get_project(project.project_id)
        environment = self.find_environment(refreshed)
        if environment is None:
            raise NotFound(f"environment {wanted!r} was created but is not listed")
        return environment

    def resolve_server(self, project: Project | None, *, choose_auto: bool) -> Server | None:
        """The deploy server DOKPLOY_SERVER_ID names (``None``: the Dokploy host); with
        ``auto``, the active deploy server holding the fewest DevPod workspaces."""
        wanted = self.settings.server_id.strip()
        if not wanted:
            return None
        servers = [s for s in self.client.list_servers() if s.server_type == "deploy"]
        if choose_auto:
            active = [s for s in servers if (s.server_status or "active") == "active"]
            if not active:
                raise ConfigurationError(
                    "DOKPLOY_SERVER_ID=auto but Dokploy has no active deploy server",
                    hint="add a remote server in Dokploy, or leave DOKPLOY_SERVER_ID empty",
                )
            if project is None:
                return active[0]
            counts = workspaces_per_server(self.client)
            return min(active, key=lambda s: counts.get(s.server_id, 0))
        for server in servers:
            if server.server_id == wanted:
                return server
        valid = ", ".join(f"{s.server_id} ({s.name})" for s in servers) or "none"
        raise ConfigurationError(
            f"DOKPLOY_SERVER_ID {wanted!r} is not one of Dokploy's deploy servers",
            hint=f"valid ids: {valid}; or `auto`, or empty for the Dokploy host",
        )

    def ssh_host(self, server: Server | None) -> str:
        """Where workspaces on ``server`` are reached: DOKPLOY_SSH_HOST, else the server's IP,
        else Dokploy's configured IP, else the URL's host."""
        if self.settings.ssh_host_override:
            return self.settings.ssh_host_override
        if server is not None and server.ip_address:
            return server.ip_address
        ip = self.client.get_ip()
        return ip or self.settings.server_url.host
