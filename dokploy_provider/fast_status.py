"""``dokploy-provider status`` without pydantic, httpx or click (DevPod's most frequent call).

DevPod runs ``status`` before every ``devpod ssh``, every IDE connection and on each poll of
the desktop app, so its start-up time is felt. This path is a transport, not a second client: it reads the
options with their declared checks and defaults (:mod:`dokploy_provider.option_table`), asks
Dokploy the two questions status needs (``compose.one`` and
``docker.getContainersByAppNameMatch``) with ``http.client``, retries and maps failures with
:mod:`dokploy_provider.api_errors` (:class:`~dokploy_provider.api_errors.RetryPolicy`, the
error mapping), reads the answers into :mod:`dokploy_provider.status_views`, and decides with
:func:`dokploy_provider.status.workspace_status`: the same rules, exceptions, messages and exit
codes as the full path. Whatever it is not sure to answer the same way (an invalid option, a
proxy in the environment, a redirect, a body of an unexpected shape) it hands to the full path
by returning ``False`` from :func:`main`, before anything was printed.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

from dokploy_provider import log
from dokploy_provider.api_errors import (
    RETRY_ATTEMPTS,
    RETRY_BACKOFF_SECONDS,
    RETRY_MAX_SECONDS,
    RetryPolicy,
    TransportFailure,
    api_headers,
    describe_transport_failure,
    retry_query,
    status_error,
    token_problem,
    unreachable_error,
)
from dokploy_provider.errors import ConfigurationError, ProviderError
from dokploy_provider.option_table import option_value, options_problem
from dokploy_provider.option_values import (
    connect_timeout,
    machine_folder_from_env,
    machine_id_from_env,
    parse_duration,
)
from dokploy_provider.status_views import (
    Compose,
    Container,
    Deployment,
    Fallback,
    parse_compose,
    parse_containers,
)
from dokploy_provider.tls import trust_context
from dokploy_provider.urls import ServerURL, parse_server_url
from dokploy_provider.verbs import run_verb

# The views are part of this module's interface (its tests and callers name them from here).
__all__ = [
    "Compose",
    "Container",
    "Deployment",
    "Fallback",
    "FastClient",
    "answer",
    "main",
    "parse_compose",
    "parse_containers",
]

_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy")
_http_log = log.get("http")
_log = log.get("fast_status")


class FastClient:
    """The ``http.client`` transport for the two calls of ``status``, on one kept-alive
    connection; retries follow the shared :class:`~dokploy_provider.api_errors.RetryPolicy`."""

    def __init__(
        self,
        server_url: ServerURL,
        api_token: str,
        *,
        connect_timeout: float,
        read_timeout: float,
        attempts: int = RETRY_ATTEMPTS,
        max_seconds: float = RETRY_MAX_SECONDS,
        backoff: float = RETRY_BACKOFF_SECONDS,
    ) -> None:
        self._url = server_url
        self._headers = api_headers(api_token)
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._retry = RetryPolicy(attempts, max_seconds, backoff)
        self._conn: http.client.HTTPConnection | None = None

    def __enter__(self) -> FastClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def get_compose(self, compose_id: str) -> Compose:
        """``compose.one``; 404 raises :class:`~dokploy_provider.errors.NotFound`."""
        data = self.get("compose.one", {"composeId": compose_id})
        if data is None:
            raise Fallback("compose.one answered an empty body")
        return parse_compose(data)

    def get_containers(self, app_name: str, server_id: str | None = None) -> list[Container]:
        """The compose's containers (``docker.getContainersByAppNameMatch``)."""
        params = {"appName": app_name, "appType": "docker-compose"}
        if server_id is not None:
            params["serverId"] = server_id
        return parse_containers(self.get("docker.getContainersByAppNameMatch", params))

    def get(self, endpoint: str, params: Mapping[str, str]) -> Any:
        """One query's decoded JSON body (``None`` when empty), or the mapped exception."""
        path = f"{self._url.api_path}/{endpoint}?{urlencode(params)}"
        try:
            status, reason, body = retry_query(
                lambda: self._send_once(endpoint, path), lambda answer: answer[0], self._retry
            )
        except TransportFailure as exc:
            cause, hint = describe_transport_failure(
                exc, exc.kind, self._connect_timeout, self._read_timeout
            )
            raise unreachable_error(
                self._url, endpoint, cause, hint, sent=exc.kind == "read_timeout"
            ) from exc
        if 200 <= status < 300:
            if not body.strip():
                return None
            try:
                return json.loads(body)
            except ValueError:
                raise Fallback(f"{endpoint} answered something that is not JSON") from None
        if 300 <= status < 400:
            raise Fallback(f"{endpoint} answered a redirect")
        raise status_error(self._url, endpoint, status, reason, body)

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is not None:
            return self._conn
        host, port = self._url.host, self._url.port
        conn: http.client.HTTPConnection
        if self._url.scheme == "https":
            conn = http.client.HTTPSConnection(
                host, port, timeout=self._connect_timeout, context=trust_context()
            )
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self._connect_timeout)
        try:
            conn.connect()
        except TimeoutError as exc:
            conn.close()
            raise TransportFailure("connect_timeout", exc) from exc
        except OSError as exc:
            conn.close()
            raise TransportFailure("other", exc) from exc
        if conn.sock is not None:
            conn.sock.settimeout(self._read_timeout)
            # Small request then small answer: never wait on Nagle or delayed ACKs.
            if conn.sock.family in (socket.AF_INET, socket.AF_INET6):
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._conn = conn
        return conn

    def _send_once(self, endpoint: str, path: str) -> tuple[int, str, bytes]:
        started = time.monotonic()
        conn = self._connection()
        try:
            conn.request("GET", path, headers=self._headers)
            _quick_ack(conn.sock)
            response = conn.getresponse()
            body = response.read()
        except TimeoutError as exc:
            self.close()
            raise TransportFailure("read_timeout", exc) from exc
        except (http.client.RemoteDisconnected, http.client.BadStatusLine) as exc:
            self.close()
            raise TransportFailure("protocol", exc) from exc
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise TransportFailure("io", exc) from exc
        if response.will_close:
            self.close()
        _http_log.debug(
            "GET %s -> %d in %.0f ms",
            endpoint,
            response.status,
            1000 * (time.monotonic() - started),
        )
        return response.status, response.reason, body


def _quick_ack(sock: socket.socket | None) -> None:
    # A server that writes its headers and body separately (Nagle on its side) would wait for
    # our delayed ACK, ~40 ms on Linux, on every call of a kept-alive connection.
    quick_ack = getattr(socket, "TCP_QUICKACK", None)
    if sock is not None and quick_ack is not None and sock.family != socket.AF_UNIX:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, quick_ack, 1)


def _proxy_configured(environ: Mapping[str, str]) -> bool:
    # httpx would send through the proxy; only the full path knows how.
    return any(
        environ.get(name, "").strip() or environ.get(name.upper(), "").strip()
        for name in _PROXY_VARIABLES
    )


@dataclass(frozen=True)
class _Inputs:
    server_url: ServerURL
    token: str
    folder: str
    http_timeout: float
    deploy_timeout: float
    ready_timeout: float


def _inputs(environ: Mapping[str, str]) -> _Inputs | None:
    """What status needs from the environment, or ``None`` if the full path must judge it."""
    if options_problem(environ) is not None or _proxy_configured(environ):
        return None
    token = environ["DOKPLOY_API_TOKEN"]
    if token_problem(token) is not None:
        return None
    try:
        folder = machine_folder_from_env(environ)
        machine_id_from_env(environ)
        server_url = parse_server_url(environ["DOKPLOY_SERVER_URL"])
    except ConfigurationError:
        return None

    def seconds(name: str) -> float:
        return parse_duration(option_value(environ, name))

    return _Inputs(
        server_url=server_url,
        token=token,
        folder=folder,
        http_timeout=seconds("DOKPLOY_HTTP_TIMEOUT"),
        deploy_timeout=seconds("DOKPLOY_DEPLOY_TIMEOUT"),
        ready_timeout=seconds("DOKPLOY_READY_TIMEOUT"),
    )


def answer(inputs: _Inputs) -> str:
    """The status word for the machine in ``inputs.folder`` (raises like the full path)."""
    from dokploy_provider.state import MachineFolder
    from dokploy_provider.status import sshd_answers, workspace_status

    state = MachineFolder(inputs.folder).load()
    with FastClient(
        inputs.server_url,
        inputs.token,
        connect_timeout=connect_timeout(inputs.http_timeout),
        read_timeout=inputs.http_timeout,
    ) as client:
        return workspace_status(
            state,
            client.get_compose,
            client.get_containers,
            deploy_timeout=inputs.deploy_timeout,
            ready_timeout=inputs.ready_timeout,
            probe=sshd_answers,
        ).value


def main(environ: Mapping[str, str] | None = None) -> bool:
    """Answer ``dokploy-provider status``; ``False`` (nothing printed) means "use the full path".

    Errors end the process through :func:`dokploy_provider.verbs.run_verb`, exactly as on the
    full path.
    """
    inputs = _inputs(os.environ if environ is None else environ)
    if inputs is None:
        return False
    log.setup(0)
    log.register_secret(inputs.token)
    log.register_secret(inputs.token.strip())

    def action() -> str | None:
        try:
            return answer(inputs)
        except ProviderError:
            raise
        except Fallback as exc:
            _log.debug("status fast path hands over to the full path: %s", exc)
            return None
        except Exception:  # the full path will report it, or answer
            _log.debug("status fast path failed; using the full path", exc_info=True)
            return None

    word = run_verb("status", action)
    if word is None:
        return False
    sys.stdout.write(word + "\n")
    sys.stdout.flush()
    return True
