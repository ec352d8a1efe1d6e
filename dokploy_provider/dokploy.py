"""Dokploy REST client: one typed method per endpoint, no policy.

Talks to the REST surface ``<server>/api/<router>.<procedure>`` (queries are ``GET`` with the
input in the query string, mutations ``POST`` with a JSON body), authenticates with the
``x-api-key`` header, converts every transport and HTTP failure into the provider's exception
tree (:mod:`dokploy_provider.errors`) and hides differences between Dokploy versions behind
the models of :mod:`dokploy_provider.models`.

Retries are limited to what cannot repeat a side effect: queries are retried on connection
errors, timeouts and 5xx answers; mutations only when the connection was never established.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from dokploy_provider import log
from dokploy_provider.api_errors import (
    RETRY_ATTEMPTS,
    RETRY_BACKOFF_SECONDS,
    RETRY_MAX_SECONDS,
    FailureKind,
    api_headers,
    describe_transport_failure,
    is_tls_verify_failure,
    one_line,
    status_error,
    token_problem,
    unreachable_error,
)
from dokploy_provider.errors import (
    DokployError,
    NotFound,
    ServerError,
    UnexpectedResponse,
    UnsupportedVersion,
)
from dokploy_provider.models import (
    Compose,
    Container,
    CreatedProject,
    Deployment,
    DokployVersion,
    Environment,
    Project,
    Server,
)
from dokploy_provider.urls import EXAMPLE, ServerURL

_http_log = log.get("http")
_log = log.get("dokploy")

_M = TypeVar("_M", bound=BaseModel)


class _RetryableStatus(Exception):
    """A 5xx answer to a query: retried, and handed back as the response when retries run out."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def _failure_kind(exc: httpx.TransportError) -> FailureKind:
    if isinstance(exc, httpx.ConnectTimeout):
        return "connect_timeout"
    if isinstance(exc, httpx.ReadTimeout):
        return "read_timeout"
    if isinstance(exc, httpx.WriteTimeout):
        return "write_timeout"
    if isinstance(exc, httpx.PoolTimeout):
        return "pool_timeout"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "protocol"
    if isinstance(exc, (httpx.ReadError, httpx.WriteError, httpx.CloseError)):
        return "io"
    return "other"


def _retryable_get(exc: BaseException) -> bool:
    if isinstance(exc, _RetryableStatus):
        return True
    if isinstance(exc, (httpx.NetworkError, httpx.TimeoutException, httpx.RemoteProtocolError)):
        return not is_tls_verify_failure(exc)
    return False


def _retryable_post(exc: BaseException) -> bool:
    # Only failures where the request provably never reached the server.
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
        return not is_tls_verify_failure(exc)
    return False


def _describe_validation(exc: ValidationError) -> str:
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{where}: {first['msg']}"


def _sorted_newest_first(deployments: list[Deployment]) -> list[Deployment]:
    return sorted(deployments, key=lambda item: item.created_at or "", reverse=True)


class DokployClient:
    """Client for one Dokploy server, authenticated with one API key.

    ``retry_attempts`` is the total number of tries of a retryable request (1 = no retry);
    ``retry_max_seconds`` bounds the time spent retrying it. ``transport`` replaces httpx's
    network transport (tests). Use as a context manager or call :meth:`close`.
    """

    def __init__(
        self,
        server_url: ServerURL,
        api_token: str,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        retry_attempts: int = RETRY_ATTEMPTS,
        retry_max_seconds: float = RETRY_MAX_SECONDS,
    ) -> None:
        token = (api_token or "").strip()
        log.register_secret(api_token)
        log.register_secret(token)
        problem = token_problem(token)
        if problem is not None:
            raise problem
        self._url = server_url
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._retry_attempts = max(1, retry_attempts)
        self._retry_max_seconds = max(0.0, retry_max_seconds)
        self._version: DokployVersion | None = None
        self._http = httpx.Client(
            headers=api_headers(token),
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            transport=transport,
            follow_redirects=False,
        )

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> DokployClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DokployClient(server_url={str(self._url)!r})"

    @property
    def server_url(self) -> ServerURL:
        """The Dokploy server this client talks to."""
        return self._url

    @property
    def timeout(self) -> httpx.Timeout:
        """The connect/read/write/pool timeouts of every request."""
        return self._http.timeout

    # -- settings --------------------------------------------------------------------------

    def version(self) -> DokployVersion:
        """The server's Dokploy version (``settings.getDokployVersion``), fetched once.

        Raises :class:`UnsupportedVersion` below :attr:`DokployVersion.MINIMUM`. A version
        string that cannot be parsed is assumed to be the newest API (with a warning).
        """
        if self._version is not None:
            return self._version
        endpoint = "settings.getDokployVersion"
        try:
            data = self._required(endpoint, self._get(endpoint))
        except NotFound as exc:
            # Every Dokploy since v0.19 serves this query: a 404 means the URL is not Dokploy's.
            raise NotFound(
                f"nothing at {self._url} answers Dokploy's API ({endpoint}: HTTP 404)",
                endpoint=endpoint,
                status_code=404,
                hint="check DOKPLOY_SERVER_URL: use the panel's address without extra path, "
                f"e.g. {EXAMPLE}",
            ) from exc
        if not isinstance(data, str):
            raise self._unexpected(endpoint, f"expected a version string, got {_kind(data)}")
        try:
            found = DokployVersion.parse(data)
        except ValueError:
            _log.warning(
                "Dokploy at %s reports version %r, which the provider cannot read; "
                "assuming it has the newest API",
                self._url,
                one_line(data, 60),
            )
            found = DokployVersion.assume_newest(data)
        else:
            if found < DokployVersion.MINIMUM:
                raise UnsupportedVersion(
                    f"Dokploy at {self._url} is {found}; the provider needs "
                    f"{DokployVersion.MINIMUM} or newer",
                    endpoint=endpoint,
                    hint="upgrade Dokploy",
                )
            if found.at_least(0, 31, 0):
                _log.debug(
                    "Dokploy %s is newer than the newest tested release %s; carrying on",
                    found,
                    DokployVersion.NEWEST_TESTED,
                )
        self._version = found
        return found

    def health(self) -> None:
        """Check that Dokploy answers and accepts the API key (``settings.health``)."""
        self._get("settings.health")

    def get_ip(self) -> str:
        """The web server's configured public IP (``settings.getIp``); ``""`` when unset."""
        data = self._get("settings.getIp")
        # Old servers answer `true` (cloud) and unset values come back null.
        return data.strip() if isinstance(data, str) else ""

    def is_cloud(self) -> bool:
        """Whether this is Dokploy Cloud (``settings.isCloud``): composes need a server there."""
        return self._get("settings.isCloud") is True

    def remote_servers_only(self) -> bool:
        """Whether the admin set "remote servers only" (``settings.getWebServerSettings``,
        v0.29.6+): composes then need a server. ``False`` where the setting is absent (older
        servers, Cloud's ``null``)."""
        data = self._get("settings.getWebServerSettings")
        return isinstance(data, dict) and data.get("remoteServersOnly") is True

    # -- servers ---------------------------------------------------------------------------

    def list_servers(self) -> list[Server]:
        """Remote servers the key's user can access (``server.all``), newest first."""
        endpoint = "server.all"
        return self._model_list(endpoint, Server, self._get(endpoint))

    def get_server(self, server_id: str) -> Server:
        """One remote server (``server.one``)."""
        endpoint = "server.one"
        return self._model(endpoint, Server, self._get(endpoint, {"serverId": server_id}))

    # -- projects and environments ---------------------------------------------------------

    def list_projects(self) -> list[Project]:
        """All projects the key's user can see (``project.all``), newest first.

        On Dokploy < v0.25 ``Project.environments`` is empty and ``Project.composes`` holds
        the composes; from v0.25 on, composes are inside the environments.
        """
        endpoint = "project.all"
        data = self._required(endpoint, self._get(endpoint))
        if not isinstance(data, list):
            raise self._unexpected(endpoint, f"expected a list, got {_kind(data)}")
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
            raise self._unexpected(endpoint, f"expected an object, got {_kind(data)}")
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

    # -- compose ---------------------------------------------------------------------------

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
        return _sorted_newest_first(deployments)

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
            raise self._unexpected(endpoint, f"expected a string, got {_kind(data)}")
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

    # -- decoding helpers ------------------------------------------------------------------

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

    def _unexpected(self, endpoint: str, what: str) -> UnexpectedResponse:
        return UnexpectedResponse(
            f"Dokploy at {self._url} sent an unexpected answer to {endpoint}: {what}",
            endpoint=endpoint,
            hint="check that DOKPLOY_SERVER_URL points at the Dokploy panel and that its "
            "version is supported",
        )

    def _required(self, endpoint: str, data: Any) -> Any:
        if data is None:
            raise self._unexpected(endpoint, "the body is empty")
        return data

    def _model(self, endpoint: str, model: type[_M], data: Any) -> _M:
        data = self._required(endpoint, data)
        if not isinstance(data, Mapping):
            raise self._unexpected(endpoint, f"expected an object, got {_kind(data)}")
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise self._unexpected(endpoint, _describe_validation(exc)) from exc

    def _model_list(self, endpoint: str, model: type[_M], data: Any) -> list[_M]:
        data = self._required(endpoint, data)
        if not isinstance(data, list):
            raise self._unexpected(endpoint, f"expected a list, got {_kind(data)}")
        items: list[_M] = []
        for index, item in enumerate(data):
            if not isinstance(item, Mapping):
                raise self._unexpected(endpoint, f"item {index} is {_kind(item)}")
            try:
                items.append(model.model_validate(item))
            except ValidationError as exc:
                raise self._unexpected(
                    endpoint, f"item {index}: {_describe_validation(exc)}"
                ) from exc
        return items

    def _project(self, endpoint: str, data: Any) -> Project:
        project = self._model(endpoint, Project, data)
        for environment in project.environments:
            if environment.project_id is None:
                environment.project_id = project.project_id
        return project

    def _compose(self, endpoint: str, data: Any) -> Compose:
        compose = self._model(endpoint, Compose, data)
        if compose.project_id is None and isinstance(data, Mapping):
            # ≥ v0.25 rows carry environmentId; the project hangs off the nested environment.
            environment = data.get("environment")
            if isinstance(environment, Mapping):
                project_id = environment.get("projectId")
                project = environment.get("project")
                if not isinstance(project_id, str) and isinstance(project, Mapping):
                    project_id = project.get("projectId")
                if isinstance(project_id, str):
                    compose.project_id = project_id
        compose.deployments = _sorted_newest_first(compose.deployments)
        return compose

    # -- transport -------------------------------------------------------------------------

    def _get(self, endpoint: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._request("GET", endpoint, params=params)

    def _post(
        self, endpoint: str, body: Mapping[str, Any], *, read_timeout: float | None = None
    ) -> Any:
        return self._request("POST", endpoint, body=body, read_timeout=read_timeout)

    def _request(
        self,
        method: str,
        endpoint: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        read_timeout: float | None = None,
    ) -> Any:
        """Send one call; return its decoded JSON body, ``None`` for an empty body."""
        response = self._send(method, endpoint, params, body, read_timeout)
        status = response.status_code
        if 200 <= status < 300:
            return self._decode(endpoint, response)
        if 300 <= status < 400:
            raise self._redirect_error(endpoint, response)
        raise self._status_error(endpoint, response)

    def _send(
        self,
        method: str,
        endpoint: str,
        params: Mapping[str, Any] | None,
        body: Mapping[str, Any] | None,
        read_timeout: float | None = None,
    ) -> httpx.Response:
        is_get = method == "GET"
        retrying = Retrying(
            stop=stop_after_attempt(self._retry_attempts)
            | stop_after_delay(self._retry_max_seconds),
            wait=wait_random_exponential(
                multiplier=RETRY_BACKOFF_SECONDS, max=self._retry_max_seconds
            ),
            retry=retry_if_exception(_retryable_get if is_get else _retryable_post),
            before_sleep=self._retry_logger(method, endpoint),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    response = self._send_once(method, endpoint, params, body, read_timeout)
                    if is_get and response.status_code >= 500:
                        raise _RetryableStatus(response)
                    return response
        except _RetryableStatus as exc:
            return exc.response
        except httpx.TransportError as exc:
            kind = _failure_kind(exc)
            cause, hint = describe_transport_failure(
                exc, kind, self._connect_timeout, read_timeout or self._read_timeout
            )
            raise unreachable_error(
                self._url, endpoint, cause, hint, sent=kind == "read_timeout"
            ) from exc
        raise AssertionError("retry loop ended without a result")  # pragma: no cover

    def _retry_logger(self, method: str, endpoint: str) -> Callable[[RetryCallState], None]:
        attempts = self._retry_attempts

        def before_sleep(state: RetryCallState) -> None:
            outcome = state.outcome
            exc = outcome.exception() if outcome is not None else None
            reason = str(exc) if isinstance(exc, _RetryableStatus) else type(exc).__name__
            wait = state.next_action.sleep if state.next_action is not None else 0.0
            _http_log.debug(
                "%s %s: %s; retry %d/%d in %.1f s",
                method,
                endpoint,
                reason,
                state.attempt_number + 1,
                attempts,
                wait,
            )

        return before_sleep

    def _send_once(
        self,
        method: str,
        endpoint: str,
        params: Mapping[str, Any] | None,
        body: Mapping[str, Any] | None,
        read_timeout: float | None = None,
    ) -> httpx.Response:
        url = f"{self._url.api_base}/{endpoint}"
        started = time.monotonic()
        timeout = (
            httpx.Timeout(read_timeout, connect=self._connect_timeout)
            if read_timeout is not None
            else httpx.USE_CLIENT_DEFAULT
        )
        try:
            if method == "GET":
                query = {key: value for key, value in (params or {}).items() if value is not None}
                response = self._http.get(url, params=query, timeout=timeout)
            else:
                response = self._http.post(
                    url,
                    json=dict(body or {}),
                    headers={"Content-Type": "application/json"},
                    timeout=timeout,
                )
        except httpx.TransportError as exc:
            elapsed = (time.monotonic() - started) * 1000
            _http_log.debug(
                "%s %s failed after %.0f ms: %s", method, endpoint, elapsed, type(exc).__name__
            )
            raise
        elapsed = (time.monotonic() - started) * 1000
        _http_log.debug("%s %s -> %d in %.0f ms", method, endpoint, response.status_code, elapsed)
        return response

    def _decode(self, endpoint: str, response: httpx.Response) -> Any:
        content = response.content
        if not content.strip():
            return None
        try:
            return response.json()
        except ValueError as exc:
            looks_html = content.lstrip()[:1] == b"<"
            what = "the body is HTML, not JSON" if looks_html else "the body is not JSON"
            raise self._unexpected(endpoint, what) from exc

    def _redirect_error(self, endpoint: str, response: httpx.Response) -> UnexpectedResponse:
        location = response.headers.get("location", "")
        target = ""
        if location:
            try:
                url = response.request.url.join(location).copy_with(query=None, fragment=None)
            except (httpx.InvalidURL, ValueError):
                url = None
            if url is not None:
                path = url.path
                suffix = f"/api/{endpoint}"
                if path.lower().endswith(suffix.lower()):
                    path = path[: -len(suffix)]
                target = str(url.copy_with(path=path or "/", userinfo=b"")).rstrip("/")
        error = self._unexpected(
            endpoint,
            f"HTTP {response.status_code} redirect" + (f" to {target}" if target else ""),
        )
        error.status_code = response.status_code
        if target:
            error.hint = f"set DOKPLOY_SERVER_URL to {target}"
        return error

    def _status_error(self, endpoint: str, response: httpx.Response) -> DokployError:
        return status_error(
            self._url, endpoint, response.status_code, response.reason_phrase, response.content
        )


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__
