"""The decoding every Dokploy endpoint shares, and the version its methods consult.

:class:`ApiBase` turns a decoded JSON body into the models of :mod:`dokploy_provider.models`
(or an :class:`UnexpectedResponse` naming the endpoint) and fetches the server's version once.
The endpoint areas (:mod:`dokploy_provider.api_projects`, :mod:`dokploy_provider.api_compose`)
build on it; :class:`dokploy_provider.dokploy.DokployClient` supplies the transport.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from dokploy_provider import log
from dokploy_provider.api_errors import one_line
from dokploy_provider.errors import NotFound, UnexpectedResponse, UnsupportedVersion
from dokploy_provider.models import Compose, Deployment, DokployVersion, Project
from dokploy_provider.urls import EXAMPLE, ServerURL

_log = log.get("dokploy")

_M = TypeVar("_M", bound=BaseModel)


def _describe_validation(exc: ValidationError) -> str:
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{where}: {first['msg']}"


def sorted_newest_first(deployments: list[Deployment]) -> list[Deployment]:
    """``deployments`` newest first (by ``createdAt``)."""
    return sorted(deployments, key=lambda item: item.created_at or "", reverse=True)


class ApiBase(ABC):
    """Decoding helpers and the cached server version; the transport is abstract."""

    _url: ServerURL
    _version: DokployVersion | None

    @abstractmethod
    def _get(self, endpoint: str, params: Mapping[str, Any] | None = None) -> Any:
        """Send a query; its decoded JSON body, ``None`` for an empty body."""

    @abstractmethod
    def _post(
        self, endpoint: str, body: Mapping[str, Any], *, read_timeout: float | None = None
    ) -> Any:
        """Send a mutation; its decoded JSON body, ``None`` for an empty body."""

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
            raise self._unexpected(endpoint, f"expected a version string, got {kind_of(data)}")
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

    # -- decoding helpers ------------------------------------------------------------------

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
            raise self._unexpected(endpoint, f"expected an object, got {kind_of(data)}")
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise self._unexpected(endpoint, _describe_validation(exc)) from exc

    def _model_list(self, endpoint: str, model: type[_M], data: Any) -> list[_M]:
        data = self._required(endpoint, data)
        if not isinstance(data, list):
            raise self._unexpected(endpoint, f"expected a list, got {kind_of(data)}")
        items: list[_M] = []
        for index, item in enumerate(data):
            if not isinstance(item, Mapping):
                raise self._unexpected(endpoint, f"item {index} is {kind_of(item)}")
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
        compose.deployments = sorted_newest_first(compose.deployments)
        return compose


def kind_of(value: Any) -> str:
    """How an unexpected JSON value is named in an error message ("a list", "nothing", …)."""
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
