"""Dokploy's failures → the provider's exceptions: one mapping, stdlib only.

Both HTTP clients use it: :class:`dokploy_provider.dokploy.DokployClient` (httpx) and the
``status`` fast path (:mod:`dokploy_provider.fast_status`, ``http.client``). A rejected key, an
unreachable server or a 404 therefore gives the same exception class, message and exit code
whichever client met it. The two clients also share from here what they send (headers) and
how they retry a query (:class:`RetryPolicy`, :func:`retry_query`).
"""

from __future__ import annotations

import json
import random
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from dokploy_provider import __version__, log
from dokploy_provider.errors import (
    AuthenticationFailed,
    ConfigurationError,
    Conflict,
    DokployError,
    NotFound,
    PermissionDenied,
    ResponseTimeout,
    ServerError,
    ServerUnreachable,
    ValidationFailed,
)

MESSAGE_MAX = 300

#: How both clients retry a query: tries, time budget (s), backoff multiplier (s).
RETRY_ATTEMPTS = 3
RETRY_MAX_SECONDS = 10.0
RETRY_BACKOFF_SECONDS = 0.5

API_KEY_HINT = (
    "check DOKPLOY_API_TOKEN: a wrong, expired or rate-limited key all look the same to "
    "Dokploy (HTTP 401); create a key in the Dokploy dashboard under Settings → Profile → "
    "API/CLI (pick the organization, and an expiry you can live with), and if a proxy such as "
    "Cloudflare sits in front of Dokploy make sure it passes the x-api-key header"
)
#: Dokploy Cloud, and v0.29.6+ with remote servers only: compose.create without a server.
NEEDS_SERVER_MESSAGE = "you need to use a server to create a compose"
NEEDS_SERVER_HINT = (
    "this Dokploy deploys only on remote servers: set DOKPLOY_SERVER_ID to one of them "
    "(its id is on Dokploy's Servers page, or `auto`: `devpod provider set-options dokploy "
    "-o DOKPLOY_SERVER_ID=<id>`); `dokploy-provider doctor` then checks that server"
)
REACH_HINT = "check DOKPLOY_SERVER_URL and that Dokploy is running and reachable from this machine"

#: How a request failed before any HTTP response, as far as the transport can tell.
FailureKind = Literal[
    "connect_timeout", "read_timeout", "write_timeout", "pool_timeout", "protocol", "io", "other"
]

_R = TypeVar("_R")


class TransportFailure(Exception):
    """A request got no HTTP response; ``kind`` says what the transport knows, ``__cause__``
    is the transport's own exception (read by :func:`describe_transport_failure`)."""

    def __init__(self, kind: FailureKind, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.kind: FailureKind = kind
        self.__cause__ = cause


@dataclass(frozen=True)
class RetryPolicy:
    """How a query (a GET) is retried: at most ``attempts`` tries within ``max_seconds``,
    after a connection failure, a timeout or a 5xx answer, never after a refused certificate.

    After try *n* it pauses a random time up to ``backoff * 2 ** (n - 1)`` s, capped at
    ``max_seconds``. Both HTTP paths follow it: :class:`~dokploy_provider.dokploy.DokployClient`
    builds tenacity's stop and wait from it, the fast path runs :func:`retry_query`.
    """

    attempts: int = RETRY_ATTEMPTS
    max_seconds: float = RETRY_MAX_SECONDS
    backoff: float = RETRY_BACKOFF_SECONDS

    def may_retry(self, attempt: int, elapsed: float) -> bool:
        """Whether try ``attempt`` (1-based), ``elapsed`` s after the first, may be followed
        by another."""
        return attempt < max(1, self.attempts) and elapsed < max(0.0, self.max_seconds)

    def pause(self, attempt: int) -> float:
        """Seconds to wait after try ``attempt`` failed."""
        high = min(max(0.0, self.max_seconds), self.backoff * 2 ** (attempt - 1))
        return random.uniform(0, high) if high > 0 else 0.0


def retry_query(
    send: Callable[[], _R],
    status_of: Callable[[_R], int],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> _R:
    """``send()`` under ``policy``: the first answer that is not a 5xx, or the last answer.

    ``send`` raises :class:`TransportFailure` when no answer came; that is retried unless the
    certificate was refused, and re-raised once the policy gives up.
    """
    started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        try:
            answer = send()
        except TransportFailure as exc:
            retry = not is_tls_verify_failure(exc)
            if not (retry and policy.may_retry(attempt, time.monotonic() - started)):
                raise
        else:
            if status_of(answer) < 500 or not policy.may_retry(attempt, time.monotonic() - started):
                return answer
        sleep(policy.pause(attempt))


_NAME_RESOLUTION_MARKERS = (
    "name or service not known",
    "nodename nor servname",
    "temporary failure in name resolution",
    "getaddrinfo failed",
    "no address associated",
    "name does not resolve",
    "name resolution",
)


def one_line(text: str, limit: int = MESSAGE_MAX) -> str:
    """Redacted, whitespace-collapsed, length-capped text for a one-line message."""
    flat = " ".join(log.redact(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def exception_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and its causes/contexts, outermost first, each once."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def is_tls_verify_failure(exc: BaseException) -> bool:
    """Whether ``exc`` (or a cause) is a failed certificate verification."""
    chain = exception_chain(exc)
    if any(isinstance(item, ssl.SSLCertVerificationError) for item in chain):
        return True
    text = " ".join(str(item) for item in chain).lower()
    return "certificate_verify_failed" in text or "certificate verify failed" in text


def api_headers(api_token: str) -> dict[str, str]:
    """The headers of every request: the (stripped) API key, JSON, and who is asking."""
    return {
        "x-api-key": api_token.strip(),
        "Accept": "application/json",
        "User-Agent": f"dokploy-provider/{__version__}",
    }


def token_problem(api_token: str) -> ConfigurationError | None:
    """Why ``api_token`` cannot be sent as the ``x-api-key`` header, or ``None``."""
    token = (api_token or "").strip()
    if not token:
        return ConfigurationError(
            "DOKPLOY_API_TOKEN is empty",
            hint="create a key in the Dokploy dashboard under Settings → Profile → API/CLI",
        )
    if not token.isascii() or not token.isprintable() or any(c.isspace() for c in token):
        return ConfigurationError(
            "DOKPLOY_API_TOKEN contains spaces, control or non-ASCII characters",
            hint="paste the key exactly as Dokploy showed it",
        )
    return None


def describe_transport_failure(
    exc: BaseException, kind: FailureKind, connect_timeout: float, read_timeout: float
) -> tuple[str, str]:
    """``(cause in plain words, hint)`` for a request that produced no HTTP response.

    ``kind`` is what the client library knows about the failure; the rest is read from the
    exception chain (TLS, refused, DNS, reset…).
    """
    chain = exception_chain(exc)
    text = " ".join(str(item) for item in chain).lower()
    if kind == "connect_timeout":
        return f"no connection within {connect_timeout:g} s", REACH_HINT
    if kind == "read_timeout":
        return (
            f"no response within {read_timeout:g} s",
            "Dokploy may be overloaded; retry, or check it is healthy",
        )
    if kind == "write_timeout":
        return f"could not send the request within {read_timeout:g} s", REACH_HINT
    if kind == "pool_timeout":
        return "timed out waiting for a free connection", REACH_HINT
    if is_tls_verify_failure(exc):
        return (
            "TLS certificate verify failed",
            "the server's certificate is not trusted by this machine; give Dokploy a valid "
            "certificate or point SSL_CERT_FILE at your CA bundle",
        )
    if "wrong version number" in text or "record layer failure" in text:
        return (
            "TLS handshake failed (the port seems to speak plain HTTP)",
            "use http:// for Dokploy's own port 3000 and https:// only for a TLS domain",
        )
    if any(isinstance(item, ssl.SSLError) for item in chain) or "ssl" in text:
        return "TLS handshake failed", REACH_HINT
    if any(isinstance(item, ConnectionRefusedError) for item in chain) or "refused" in text:
        return (
            "connection refused",
            "check the host and port in DOKPLOY_SERVER_URL and that Dokploy is running",
        )
    if any(isinstance(item, socket.gaierror) for item in chain) or any(
        marker in text for marker in _NAME_RESOLUTION_MARKERS
    ):
        return (
            "name does not resolve",
            "check the host name in DOKPLOY_SERVER_URL and this machine's DNS",
        )
    for marker in ("no route to host", "network is unreachable", "host is unreachable"):
        if marker in text:
            return marker, REACH_HINT
    if "reset" in text:
        return "the connection was reset", REACH_HINT
    if kind == "protocol":
        return "the server closed the connection without answering", REACH_HINT
    if kind == "io":
        return "the connection broke", REACH_HINT
    detail = one_line(str(exc), 160)
    return (f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__), REACH_HINT


def unreachable_error(
    server_url: object, endpoint: str, cause: str, hint: str, *, sent: bool = False
) -> ServerUnreachable:
    """The :class:`ServerUnreachable` for a request to ``endpoint`` that got no response
    (a :class:`ResponseTimeout` when it was ``sent`` and the answer did not come in time)."""
    kind = ResponseTimeout if sent else ServerUnreachable
    return kind(
        f"Cannot reach Dokploy at {server_url} ({endpoint}): {cause}",
        endpoint=endpoint,
        hint=hint,
    )


def error_fields(body: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """``(dotted field paths, "path: message" notes)`` from a 400 body (tRPC v10 or v11)."""
    fields: list[str] = []
    notes: list[str] = []
    issues = body.get("issues")
    if isinstance(issues, list):
        for issue in issues:
            if not isinstance(issue, Mapping):
                continue
            path = issue.get("path")
            dotted = ".".join(str(part) for part in path) if isinstance(path, list) else ""
            if dotted and dotted not in fields:
                fields.append(dotted)
            message = issue.get("message")
            if isinstance(message, str):
                notes.append(f"{dotted}: {message}" if dotted else message)
    data = body.get("data")
    zod = data.get("zodError") if isinstance(data, Mapping) else None
    field_errors = zod.get("fieldErrors") if isinstance(zod, Mapping) else None
    if not fields and isinstance(field_errors, Mapping):
        for name, messages in field_errors.items():
            fields.append(str(name))
            if isinstance(messages, list) and messages:
                notes.append(f"{name}: {messages[0]}")
    return fields, notes


def status_error(
    server_url: object, endpoint: str, status: int, reason: str, content: bytes
) -> DokployError:
    """The exception for an HTTP error answer (4xx/5xx) to ``endpoint``."""
    body: Any = None
    if content.strip():
        try:
            body = json.loads(content)
        except ValueError:
            body = None
    message: str | None = None
    code: str | None = None
    if isinstance(body, Mapping):
        if isinstance(body.get("message"), str):
            message = body["message"]
        if isinstance(body.get("code"), str):
            code = body["code"]
        data = body.get("data")
        if code is None and isinstance(data, Mapping) and isinstance(data.get("code"), str):
            code = data["code"]
    elif body is None:
        text = content.decode("utf-8", "replace").strip()
        if text and len(text) <= 200 and not text.startswith("<"):
            message = text
    lines = [line for line in log.redact(message or "").splitlines() if line.strip()]
    said = one_line(lines[0]) if lines else f"HTTP {status} {reason}".strip()
    details = [one_line(line, 500) for line in lines[1:20]]
    where = f"Dokploy {endpoint}"

    if status == 401 and code is None:
        return AuthenticationFailed(
            f"Dokploy at {server_url} rejected the API key ({endpoint}: HTTP 401)",
            endpoint=endpoint,
            status_code=status,
            hint=API_KEY_HINT,
        )
    if status in (401, 403):
        access_hint: str
        if said.lower().rstrip(".") == NEEDS_SERVER_MESSAGE:
            access_hint = NEEDS_SERVER_HINT
        else:
            # Dokploy's message names what is refused ("... access this server/compose")
            what = next(
                (w for w in ("server", "compose", "project", "environment") if w in said.lower()),
                "project or server",
            )
            access_hint = (
                f"the API key's user lacks access to this {what}; use a key of an owner "
                f"or admin, or grant the user access to the {what} in Dokploy"
            )
        return PermissionDenied(
            f"{where}: {said} (HTTP {status})",
            endpoint=endpoint,
            status_code=status,
            hint=access_hint,
        )
    if status == 404:
        hint = None
        if said.lower() == "not found":
            hint = f"this Dokploy version may not have {endpoint}"
        return NotFound(
            f"{where}: {said} (HTTP 404)", endpoint=endpoint, status_code=status, hint=hint
        )
    if status == 400:
        fields, notes = error_fields(body) if isinstance(body, Mapping) else ([], [])
        extra = f" ({one_line('; '.join(notes), 200)})" if notes else ""
        return ValidationFailed(
            f"Dokploy refused the input to {endpoint}: {said}{extra}",
            fields=fields,
            endpoint=endpoint,
            status_code=status,
        )
    if status == 409:
        return Conflict(f"{where}: {said} (HTTP 409)", endpoint=endpoint, status_code=status)
    if status >= 500:
        return ServerError(
            f"{where} failed on the server: {said} (HTTP {status})",
            endpoint=endpoint,
            status_code=status,
            hint="see the Dokploy server logs; retry if it was transient",
            details=details,
        )
    return DokployError(
        f"{where}: {said} (HTTP {status})",
        endpoint=endpoint,
        status_code=status,
        details=details,
    )
