"""Dokploy's project and environment endpoints (``project.*``, ``environment.*``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dokploy_provider.api_base import ApiBase, kind_of
from dokploy_provider.errors import UnsupportedVersion
from dokploy_provider.models import CreatedProject, Environment, Project


class ProjectEndpoints(ApiBase):
    """Projects and their environments, one typed method per endpoint."""

    def list_projects(self) -> list[Project]:
        """All projects the key's user can see (``project.all``), newest first.

        On Dokploy < v0.25 ``Project.environments`` is empty and ``Project.composes`` holds
        the composes; from v0.25 on, composes are inside the environments.
        """
        endpoint = "project.all"
        data = self._required(endpoint, self._get(endpoint))
        if not isinstance(data, list):
            raise self._unexpected(endpoint, f"expected a list, got {kind_of(data)}")
        return [self._project(endpoint, item) for item in data]

    def get_project(self, project_id: str) -> Project:
        """One project with its environments and compose summaries (``project.one``)."""
        endpoint = "project.one"
        return self._project(endpoint, self._get(endpoint, {"projectId": project_id}))

    def create_project(self, name: str, description: str | None = None) -> CreatedProject:
        """Create a project (``project.create``).

        On Dokploy ≥ v0.25 the answer includes the auto-created default environment, which is
        also placed in ``project.environments``; on older servers ``environment`` is ``None``.
        """
        endpoint = "project.create"
        body: dict[str, Any] = {"name": name}
        if description is not None:
            body["description"] = description
        data = self._required(endpoint, self._post(endpoint, body))
        if not isinstance(data, Mapping):
            raise self._unexpected(endpoint, f"expected an object, got {kind_of(data)}")
        if isinstance(data.get("project"), Mapping) and "projectId" not in data:
            project = self._project(endpoint, data["project"])
            raw_env = data.get("environment")
            environment = None
            if isinstance(raw_env, Mapping):
                environment = self._model(endpoint, Environment, raw_env)
                if environment.project_id is None:
                    environment.project_id = project.project_id
                if not project.environments:
                    project.environments = [environment]
            return CreatedProject(project=project, environment=environment)
        return CreatedProject(project=self._project(endpoint, data), environment=None)

    def remove_project(self, project_id: str) -> None:
        """Delete a project's database rows (``project.remove``); Dokploy stops no containers."""
        self._post("project.remove", {"projectId": project_id})

    def list_environments(self, project_id: str) -> list[Environment]:
        """The project's environments (``environment.byProjectId``), oldest first.

        ``[]`` on Dokploy < v0.25, which has no environments.
        """
        if not self.version().has_environments:
            return []
        endpoint = "environment.byProjectId"
        environments = self._model_list(
            endpoint, Environment, self._get(endpoint, {"projectId": project_id})
        )
        for environment in environments:
            if environment.project_id is None:
                environment.project_id = project_id
        return environments

    def create_environment(self, project_id: str, name: str, description: str = "") -> Environment:
        """Create an environment in a project (``environment.create``, Dokploy ≥ v0.25)."""
        endpoint = "environment.create"
        version = self.version()
        if not version.has_environments:
            raise UnsupportedVersion(
                f"Dokploy at {self._url} is {version}, which has no environments "
                "(they arrived in v0.25.0)",
                endpoint=endpoint,
                hint="upgrade Dokploy, or do not ask for an environment",
            )
        body = {"name": name, "description": description, "projectId": project_id}
        environment = self._model(endpoint, Environment, self._post(endpoint, body))
        if environment.project_id is None:
            environment.project_id = project_id
        return environment
