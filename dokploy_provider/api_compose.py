"""Dokploy's compose, deployment and container endpoints (``compose.*``, ``deployment.*``,
``docker.getContainersByAppNameMatch``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dokploy_provider.api_base import ApiBase, kind_of, sorted_newest_first
from dokploy_provider.api_errors import one_line
from dokploy_provider.errors import NotFound, ServerError
from dokploy_provider.models import Compose, Container, Deployment


class ComposeEndpoints(ApiBase):
    """Composes, their deployments and containers, one typed method per endpoint."""

    def create_compose(
        self,
        *,
        name: str,
        app_name: str,
        description: str | None,
        project_id: str | None,
        environment_id: str | None,
        server_id: str | None,
        compose_file: str | None = None,
    ) -> Compose:
        """Create a ``docker-compose`` compose (``compose.create``).

        Sends ``environmentId`` on Dokploy ≥ v0.25 and ``projectId`` before (the one the
        server needs must be given, else :class:`ValueError`), and ``sourceType: "raw"`` on
        ≥ v0.30.0 (older servers leave it ``github``; switch it with :meth:`update_compose`).
        Dokploy appends a random suffix to ``app_name``; the returned compose has the real one.
        """
        endpoint = "compose.create"
        version = self.version()
        body: dict[str, Any] = {
            "name": name,
            "appName": app_name,
            "description": description,
            "composeType": "docker-compose",
        }
        if version.has_environments:
            if not environment_id:
                raise ValueError(f"compose.create on Dokploy {version} needs environment_id")
            body["environmentId"] = environment_id
        else:
            if not project_id:
                raise ValueError(f"compose.create on Dokploy {version} needs project_id")
            body["projectId"] = project_id
        if server_id is not None:
            body["serverId"] = server_id
        if compose_file is not None:
            body["composeFile"] = compose_file
        if version.create_accepts_source_type:
            body["sourceType"] = "raw"
        return self._compose(endpoint, self._required(endpoint, self._post(endpoint, body)))

    def get_compose(self, compose_id: str) -> Compose:
        """One compose with its deployments, newest first (``compose.one``)."""
        endpoint = "compose.one"
        data = self._get(endpoint, {"composeId": compose_id})
        return self._compose(endpoint, self._required(endpoint, data))

    def get_converted_compose(self, compose_id: str) -> str | None:
        """The compose file as Dokploy will deploy it (``compose.getConvertedCompose``): for a
        Git-sourced compose, the file of its last clone on the server; ``None`` before any."""
        endpoint = "compose.getConvertedCompose"
        data = self._get(endpoint, {"composeId": compose_id})
        if not isinstance(data, str) or data.strip() in {"", "null"}:
            return None
        return data

    def update_compose(
        self,
        compose_id: str,
        *,
        compose_file: str | None = None,
        source_type: str | None = None,
        description: str | None = None,
        compose_status: str | None = None,
    ) -> Compose | None:
        """Change the given fields of a compose (``compose.update``); others are not sent.

        Returns ``None`` when the compose does not exist: Dokploy answers an empty body from
        v0.28.7 and a 404 before.
        """
        endpoint = "compose.update"
        body: dict[str, Any] = {"composeId": compose_id}
        for key, value in (
            ("composeFile", compose_file),
            ("sourceType", source_type),
            ("description", description),
            ("composeStatus", compose_status),
        ):
            if value is not None:
                body[key] = value
        try:
            data = self._post(endpoint, body)
        except NotFound:
            if self.version().update_unknown_is_empty:
                raise
            return None
        return None if data is None else self._compose(endpoint, data)

    def deploy_compose(
        self, compose_id: str, title: str | None = None, description: str | None = None
    ) -> None:
        """Queue a deployment (``compose.deploy``). Returns before it runs; no id is given."""
        self._queue_deploy("compose.deploy", compose_id, title, description)

    def redeploy_compose(
        self, compose_id: str, title: str | None = None, description: str | None = None
    ) -> None:
        """Queue a redeployment (``compose.redeploy``), rewriting the raw compose file."""
        self._queue_deploy("compose.redeploy", compose_id, title, description)

    def start_compose(self, compose_id: str, *, read_timeout: float | None = None) -> None:
        """``docker compose up -d`` synchronously (``compose.start``).

        Dokploy answers only when compose is done; ``read_timeout`` (default: the client's)
        bounds that wait. :class:`ResponseTimeout` means it may still be under way.
        """
        self._post("compose.start", {"composeId": compose_id}, read_timeout=read_timeout)

    def stop_compose(self, compose_id: str, *, read_timeout: float | None = None) -> None:
        """``docker compose stop`` synchronously (``compose.stop``): Docker waits up to the
        containers' stop grace period first. ``read_timeout`` as for :meth:`start_compose`."""
        self._post("compose.stop", {"composeId": compose_id}, read_timeout=read_timeout)

    def delete_compose(
        self, compose_id: str, *, delete_volumes: bool, read_timeout: float | None = None
    ) -> None:
        """Delete the compose row, then its containers (and volumes) best-effort.

        ``compose.delete`` (synchronous, ``docker compose down`` included); raises
        :class:`NotFound` when it is already gone. ``read_timeout`` as for :meth:`start_compose`.
        """
        self._post(
            "compose.delete",
            {"composeId": compose_id, "deleteVolumes": delete_volumes},
            read_timeout=read_timeout,
        )

    def clean_queues(self, compose_id: str) -> None:
        """Drop the compose's waiting (not running) deploy jobs (``compose.cleanQueues``)."""
        self._post("compose.cleanQueues", {"composeId": compose_id})

    def kill_build(self, compose_id: str) -> None:
        """Kill running docker build processes on the compose's host (``compose.killBuild``,
        v0.25.8+; nothing to do on older servers)."""
        if not self.version().has_kill_build:
            return
        self._post("compose.killBuild", {"composeId": compose_id})

    # -- deployments and containers --------------------------------------------------------

    def list_deployments(self, compose_id: str) -> list[Deployment]:
        """The compose's recent deployments, newest first (``deployment.allByCompose``)."""
        endpoint = "deployment.allByCompose"
        deployments = self._model_list(
            endpoint, Deployment, self._get(endpoint, {"composeId": compose_id})
        )
        return sorted_newest_first(deployments)

    def read_deployment_log(self, deployment_id: str, tail: int = 100) -> str | None:
        """The last ``tail`` lines of a deployment's log (``deployment.readLogs``).

        ``None`` when the server predates that endpoint (< v0.29.5).
        """
        if not self.version().has_read_logs:
            return None
        endpoint = "deployment.readLogs"
        data = self._get(endpoint, {"deploymentId": deployment_id, "tail": tail})
        if data is None:
            return ""
        if not isinstance(data, str):
            raise self._unexpected(endpoint, f"expected a string, got {kind_of(data)}")
        return data

    def get_containers(self, app_name: str, server_id: str | None = None) -> list[Container]:
        """Containers of the compose project ``app_name`` on its host.

        ``docker.getContainersByAppNameMatch`` with ``appType=docker-compose``. Dokploy answers
        ``[]`` whenever its ``docker ps`` printed anything on stderr, so ``[]`` is not proof
        that no container exists.
        """
        endpoint = "docker.getContainersByAppNameMatch"
        params: dict[str, Any] = {"appName": app_name, "appType": "docker-compose"}
        if server_id is not None:
            params["serverId"] = server_id
        data = self._get(endpoint, params)
        return [] if data is None else self._model_list(endpoint, Container, data)

    def _queue_deploy(
        self, endpoint: str, compose_id: str, title: str | None, description: str | None
    ) -> None:
        body: dict[str, Any] = {"composeId": compose_id}
        if title is not None:
            body["title"] = title
        if description is not None:
            body["description"] = description
        data = self._post(endpoint, body)
        # ≤ v0.25: empty; v0.26+: {success, message[, composeId]}; cloud: true.
        if isinstance(data, Mapping) and data.get("success") is False:
            message = data.get("message")
            raise ServerError(
                f"Dokploy did not queue {endpoint}: "
                f"{one_line(message) if isinstance(message, str) else 'no reason given'}",
                endpoint=endpoint,
                status_code=200,
            )
