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
from pydantic import BaseModel
from tenacity import RetryCallState, Retrying, retry_if_exception

from dokploy_provider import log
from dokploy_provider.api_compose import ComposeEndpoints
from dokploy_provider.api_errors import (
    RETRY_ATTEMPTS,
    RETRY_BACKOFF_SECONDS,
    RETRY_MAX_SECONDS,
    FailureKind,
    RetryPolicy,
    api_headers,
    describe_transport_failure,
    is_tls_verify_failure,
    status_error,
    token_problem,
    unreachable_error,
)
from dokploy_provider.api_projects import ProjectEndpoints
from dokploy_provider.api_services import ServiceEndpoints
from dokploy_provider.errors import (
    DokployError,
    UnexpectedResponse,
)
from dokploy_provider.models import (
    DokployVersion,
    Server,
)
from dokploy_provider.tls import trust_context
from dokploy_provider.urls import ServerURL

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


class DokployClient(ProjectEndpoints, ComposeEndpoints, ServiceEndpoints):
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
        self._retry = RetryPolicy(
            max(1, retry_attempts), max(0.0, retry_max_seconds), RETRY_BACKOFF_SECONDS
        )
        self._version: DokployVersion | None = None
        self._http = httpx.Client(
            headers=api_headers(token),
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            transport=transport,
            follow_redirects=False,
            # an injected transport brings its own TLS; httpx ignores verify then
            verify=trust_context() if transport is None else True,
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

    # -- settings and servers --------------------------------------------------------------

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
        policy = self._retry
        retrying = Retrying(
            # the fast path (api_errors.retry_query) follows the same policy object
            stop=lambda state: (
                not policy.may_retry(state.attempt_number, state.seconds_since_start or 0.0)
            ),
            wait=lambda state: policy.pause(state.attempt_number),
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
        attempts = self._retry.attempts

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
