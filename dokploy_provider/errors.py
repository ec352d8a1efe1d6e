"""The provider's one exception tree, and the exit code each branch ends the process with.

    ProviderError                         exit 1   base: anything the provider reports to the user
    ├── ConfigurationError                exit 2   an option or environment variable is missing or malformed
    ├── StateError                        exit 8   MACHINE_FOLDER missing, unwritable, or its state file corrupt
    ├── DokployError                      exit 1   base of every failure talking to Dokploy's API
    │   ├── ServerUnreachable             exit 3   connect/DNS/TLS failure or timeout (URL and cause in the message)
    │   │   └── ResponseTimeout           exit 3   sent, but no answer in time (Dokploy may still be acting on it)
    │   ├── AuthenticationFailed          exit 4   401 with body {"message":"Unauthorized"}: the API key is rejected
    │   ├── PermissionDenied              exit 4   401/403 carrying a tRPC `code`: the key's user may not do this
    │   ├── NotFound                      exit 5   404: the project/environment/compose/server does not exist
    │   ├── ValidationFailed              exit 1   400: Dokploy refused the input (field paths from `issues`)
    │   ├── Conflict                      exit 1   409
    │   ├── ServerError                   exit 1   5xx with Dokploy's message
    │   ├── UnexpectedResponse            exit 1   a body that does not have the shape this Dokploy version sends
    │   └── UnsupportedVersion            exit 6   Dokploy older than the oldest release we support
    ├── DeployFailed                      exit 7   the compose deployment ended in `error` (deploy log tail attached)
    ├── ReadyTimeout                      exit 9   a bounded wait (deploy, SSH readiness) ran out of time
    ├── PortRangeExhausted                exit 10  every port of DOKPLOY_SSH_PORT_RANGE is taken
    ├── NotOwned                          exit 11  a compose exists but belongs to another (or no) machine
    ├── CleanupIncomplete                 exit 12  Dokploy deleted the compose but left its container behind
    └── SSHError                          exit 255 could not reach the workspace over SSH (like OpenSSH's client)
        ├── SSHConnectFailed              exit 255 TCP connect refused/timed out, or no SSH banner
        ├── HostKeyMismatch               exit 255 the workspace presented a host key other than the pinned one
        ├── SSHAuthRefused                exit 255 the workspace refused our client key
        └── SSHConnectionLost             exit 255 the connection dropped after it was established

Lower-level exceptions (httpx, paramiko, OSError, pydantic) are converted at the module boundary
with ``raise ... from exc``; nothing outside this tree reaches the Click layer.
"""

from __future__ import annotations

from collections.abc import Sequence

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIGURATION = 2
EXIT_UNREACHABLE = 3
EXIT_AUTH = 4
EXIT_NOT_FOUND = 5
EXIT_UNSUPPORTED = 6
EXIT_DEPLOY_FAILED = 7
EXIT_STATE = 8
EXIT_TIMEOUT = 9
EXIT_PORTS_EXHAUSTED = 10
EXIT_NOT_OWNED = 11
EXIT_CLEANUP_INCOMPLETE = 12
EXIT_INTERRUPTED = 130
EXIT_SSH = 255


class ProviderError(Exception):
    """Base of every error the provider reports. ``str(err)`` is the one line the user sees.

    ``hint`` says what to do about it; ``details`` are extra lines (e.g. a deploy log tail)
    printed after the message.
    """

    exit_code: int = EXIT_FAILURE

    def __init__(
        self, message: str, *, hint: str | None = None, details: Sequence[str] = ()
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = list(details)

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} — {self.hint}"
        return self.message


class ConfigurationError(ProviderError):
    """An option or environment variable is missing or malformed."""

    exit_code = EXIT_CONFIGURATION


class StateError(ProviderError):
    """The machine folder or its state file cannot be used."""

    exit_code = EXIT_STATE


class DokployError(ProviderError):
    """Base of every failure while talking to Dokploy's API.

    ``endpoint`` is the procedure called (e.g. ``compose.one``); ``status_code`` the HTTP status,
    when there was a response.
    """

    def __init__(
        self,
        message: str,
        *,
        endpoint: str | None = None,
        status_code: int | None = None,
        hint: str | None = None,
        details: Sequence[str] = (),
    ) -> None:
        super().__init__(message, hint=hint, details=details)
        self.endpoint = endpoint
        self.status_code = status_code


class ServerUnreachable(DokployError):
    """No HTTP response: connection refused, DNS failure, TLS failure, or a timeout."""

    exit_code = EXIT_UNREACHABLE


class ResponseTimeout(ServerUnreachable):
    """The request reached Dokploy but no answer came in time: it may still be acting on it."""


class AuthenticationFailed(DokployError):
    """Dokploy rejected the API key itself (401 whose body is only ``{"message":"Unauthorized"}``)."""

    exit_code = EXIT_AUTH


class PermissionDenied(DokployError):
    """The key is valid but its user may not do this (401/403 with a tRPC ``code``)."""

    exit_code = EXIT_AUTH


class NotFound(DokployError):
    """Dokploy answered 404 for the resource."""

    exit_code = EXIT_NOT_FOUND


class ValidationFailed(DokployError):
    """Dokploy refused the input (400). ``fields`` lists the offending field paths."""

    def __init__(
        self,
        message: str,
        *,
        fields: Sequence[str] = (),
        endpoint: str | None = None,
        status_code: int | None = 400,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, endpoint=endpoint, status_code=status_code, hint=hint)
        self.fields = list(fields)


class Conflict(DokployError):
    """Dokploy answered 409 (e.g. an appName that already exists)."""


class ServerError(DokployError):
    """Dokploy answered 5xx."""


class UnexpectedResponse(DokployError):
    """The response body does not have the shape this Dokploy version is known to send."""


class UnsupportedVersion(DokployError):
    """The Dokploy server is older than the oldest release this provider supports."""

    exit_code = EXIT_UNSUPPORTED


class DeployFailed(ProviderError):
    """A compose deployment ended in ``error``. ``details`` holds the tail of Dokploy's deploy log."""

    exit_code = EXIT_DEPLOY_FAILED


class ReadyTimeout(ProviderError):
    """A bounded wait ran out of time; the message says what was still missing."""

    exit_code = EXIT_TIMEOUT


class PortRangeExhausted(ProviderError):
    """Every port of the configured SSH port range is already published on the target server."""

    exit_code = EXIT_PORTS_EXHAUSTED


class NotOwned(ProviderError):
    """A compose was found that this machine does not own; the provider refuses to touch it."""

    exit_code = EXIT_NOT_OWNED


class CleanupIncomplete(ProviderError):
    """Dokploy reported the compose deleted, but containers of it are still on the server."""

    exit_code = EXIT_CLEANUP_INCOMPLETE


class SSHError(ProviderError):
    """Could not talk to the workspace over SSH. ``target`` is ``user@host:port``."""

    exit_code = EXIT_SSH

    def __init__(
        self,
        message: str,
        *,
        target: str | None = None,
        hint: str | None = None,
        details: Sequence[str] = (),
    ) -> None:
        super().__init__(message, hint=hint, details=details)
        self.target = target


class SSHConnectFailed(SSHError):
    """TCP connect refused or timed out, or the port did not speak SSH."""


class HostKeyMismatch(SSHError):
    """The workspace presented a host key other than the one pinned at create time."""


class SSHAuthRefused(SSHError):
    """The workspace's sshd refused the machine's client key."""


class SSHConnectionLost(SSHError):
    """An established SSH connection dropped."""
