"""``dokploy-provider doctor``: every check between "options set" and "SSH works", in order.

Each check reports ✓ or ✗ with what it found and, when it fails, how to fix it. A check that
needs an earlier one which did not pass is reported as skipped instead of failing again with a
confusing second-order error. Nothing here changes anything on Dokploy or in the machine
folder: projects, environments and composes are only looked up.

The placement lookups reuse :class:`MachineService`'s private helpers (``find_project``,
``find_environment``, ``resolve_server``, ``ssh_host``, ``all_composes``,
``get_owned_compose``), so doctor and ``create`` can never disagree about where a workspace
would go.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from dokploy_provider import log
from dokploy_provider.doctor_machine import MachineChecks
from dokploy_provider.doctor_report import (
    SET_OPTION,
    CheckFailed,
    CheckResult,
    Found,
    Outcome,
    _Check,
)
from dokploy_provider.errors import (
    AuthenticationFailed,
    ConfigurationError,
    PermissionDenied,
    ProviderError,
    ServerUnreachable,
    UnsupportedVersion,
)

if TYPE_CHECKING:
    from dokploy_provider.dokploy import DokployClient
    from dokploy_provider.options import Settings

logger = log.get("doctor")


ClientFactory = Callable[["Settings"], "DokployClient"]


def _default_client(settings: Settings) -> DokployClient:
    from dokploy_provider.dokploy import DokployClient

    return DokployClient(
        settings.server_url,
        settings.token,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.http_timeout,
        retry_attempts=1,
    )


class Doctor(MachineChecks):
    """Runs the checks against the options in ``environ`` and, optionally, one machine."""

    def __init__(
        self,
        environ: Mapping[str, str],
        *,
        machine_folder: Path | None = None,
        machine_id: str | None = None,
        client_factory: ClientFactory = _default_client,
        ssh_timeout: float = 10.0,
    ) -> None:
        self.environ = dict(environ)
        self.machine_folder = machine_folder
        self.machine_id = machine_id
        self.client_factory = client_factory
        self.ssh_timeout = ssh_timeout
        self.found = Found()

    # ------------------------------------------------------------------ driver

    def checks(self) -> list[_Check]:
        """The checks in the order they run."""
        server_fix = f"{SET_OPTION} DOKPLOY_SERVER_URL=http://<dokploy-host>:3000"
        checks = [
            _Check("url", "Dokploy URL", (), self._check_url, server_fix),
            _Check("options", "options", ("url",), self._check_options),
            _Check("reachable", "server reachable", ("options",), self._check_reachable),
            _Check("api_key", "API key", ("reachable",), self._check_api_key),
            _Check("version", "Dokploy version", ("api_key",), self._check_version),
            _Check("project", "project/environment", ("version",), self._check_project),
            _Check("server", "deploy server", ("version",), self._check_server),
            _Check("ssh_host", "SSH host", ("server",), self._check_ssh_host),
            _Check("ports", "SSH ports", ("server",), self._check_ports),
            _Check("login_shell", "remote deploys", ("server",), self._check_login_shell),
        ]
        if self.machine_folder is not None:
            checks += [
                _Check("state", "machine state", (), self._check_state),
                _Check("compose", "machine compose", ("state", "version"), self._check_compose),
                _Check("container", "machine container", ("compose",), self._check_container),
                _Check("ssh", "SSH login", ("state", "container"), self._check_ssh),
            ]
        return checks

    def run(self) -> list[CheckResult]:
        """Run every check in order; never raises for a failed check."""
        results: dict[str, CheckResult] = {}
        with ExitStack() as stack:
            stack.callback(self._close)
            for check in self.checks():
                blocked = [n for n in check.needs if results[n].outcome is not Outcome.OK]
                if blocked:
                    titles = ", ".join(results[n].title for n in blocked)
                    result = CheckResult(
                        check.key, check.title, Outcome.SKIP, f"skipped: needs {titles}"
                    )
                else:
                    logger.debug("checking %s", check.title)
                    result = self._run_one(check)
                results[check.key] = result
        return list(results.values())

    def _run_one(self, check: _Check) -> CheckResult:
        try:
            detail = check.run()
        except CheckFailed as exc:
            return CheckResult(
                check.key, check.title, Outcome.FAIL, exc.detail, exc.fix or check.default_fix
            )
        except ProviderError as exc:
            return CheckResult(
                check.key, check.title, Outcome.FAIL, exc.message, exc.hint or check.default_fix
            )
        except Exception as exc:  # a doctor reports, it does not crash
            logger.debug("check %s crashed", check.key, exc_info=True)
            return CheckResult(
                check.key,
                check.title,
                Outcome.FAIL,
                log.redact(f"unexpected error ({type(exc).__name__}: {exc})"),
                "rerun with -v and report it with the output",
            )
        return CheckResult(
            check.key,
            check.title,
            Outcome.OK,
            detail,
            data=self.found.data.get(check.key, {}),
        )

    def _close(self) -> None:
        if self.found.client is not None:
            self.found.client.close()

    # ------------------------------------------------------------------ server checks

    def _check_url(self) -> str:
        from dokploy_provider.urls import parse_server_url, plain_http_warning

        raw = self.environ.get("DOKPLOY_SERVER_URL", "").strip()
        if not raw:
            raise CheckFailed("DOKPLOY_SERVER_URL is not set")
        url = parse_server_url(raw)
        warning = plain_http_warning(url)
        if warning:
            log.get("doctor").warning("%s", warning)
            return (
                f"{url.base_url} (API at {url.api_base}); warning: plain HTTP to a public address"
            )
        return f"{url.base_url} (API at {url.api_base})"

    def _check_options(self) -> str:
        from dokploy_provider.machine import MachineService
        from dokploy_provider.options import load_settings

        try:
            settings = load_settings(self.environ)
        except ConfigurationError as exc:
            raise CheckFailed(exc.message, f"{SET_OPTION} NAME=value for each") from None
        client = self.client_factory(settings)
        self.found.settings = settings
        self.found.client = client
        self.found.service = MachineService(settings, client)
        return f"valid; SSH ports {settings.port_range}, project {settings.project_name!r}"

    def _check_reachable(self) -> str:
        client = self._client()
        try:
            self.found.version = client.version()
        except ServerUnreachable as exc:
            raise CheckFailed(
                exc.message,
                "check DOKPLOY_SERVER_URL (scheme, host, port) and that this machine can reach it",
            ) from None
        except (AuthenticationFailed, PermissionDenied, UnsupportedVersion) as exc:
            # It answered: whatever it said is for the next checks to judge.
            self.found.version_error = exc
        except ProviderError as exc:
            raise CheckFailed(
                f"{self._settings().server_url.base_url} answered, but not like Dokploy's API "
                f"({exc.message})",
                "point DOKPLOY_SERVER_URL at the Dokploy panel itself (the URL you log in at)",
            ) from None
        return f"{self._settings().server_url.base_url} answers"

    def _check_api_key(self) -> str:
        error = self.found.version_error
        if isinstance(error, AuthenticationFailed | PermissionDenied):
            raise CheckFailed(
                error.message,
                "create a key in Dokploy (Settings → Profile → API/CLI), then "
                f"{SET_OPTION} DOKPLOY_API_TOKEN=<key>",
            )
        self._client().health()
        return "accepted"

    def _check_version(self) -> str:
        from dokploy_provider.models import DokployVersion

        error = self.found.version_error
        if isinstance(error, UnsupportedVersion):
            raise CheckFailed(
                error.message, f"upgrade Dokploy to {DokployVersion.MINIMUM} or newer"
            )
        version = self.found.version or self._client().version()
        self.found.version = version
        if version.is_assumed:
            return f"{version} (not a version the provider can read; assuming the newest API)"
        if version > DokployVersion.NEWEST_TESTED:
            return f"{version} (newer than the newest tested, {DokployVersion.NEWEST_TESTED})"
        return f"{version} (supported: {DokployVersion.MINIMUM} to {DokployVersion.NEWEST_TESTED})"

    def _check_project(self) -> str:
        settings = self._settings()
        service = self._service()
        project = service.placer.find_project()
        self.found.project = project
        if project is None:
            return f"project {settings.project_name!r} will be created on first use"
        text = f"project {project.name!r} ({project.project_id})"
        if not self._version().has_environments:
            return text + " exists"
        environment = service.placer.find_environment(project)
        if environment is not None:
            return f"{text}, environment {environment.name!r}"
        if settings.environment_name:
            return f"{text}, environment {settings.environment_name!r} will be created on first use"
        raise CheckFailed(
            f"{text} has no environment to deploy into",
            f"{SET_OPTION} DOKPLOY_ENVIRONMENT_NAME=<name> (created on first use)",
        )

    def _check_server(self) -> str:
        settings = self._settings()
        if not settings.server_id.strip():
            from dokploy_provider.server_required import require_server

            require_server(self._client(), settings.server_id)  # Cloud / remote servers only
            return "DOKPLOY_SERVER_ID empty: workspaces deploy on the Dokploy host itself"
        server = self._service().placer.resolve_server(
            self.found.project, choose_auto=settings.auto_server
        )
        assert server is not None  # a non-empty DOKPLOY_SERVER_ID resolves or raises
        self.found.server = server
        status = server.server_status or "active"
        if status != "active":
            raise CheckFailed(
                f"server {server.name} ({server.server_id}) is {status}",
                "activate it in Dokploy (Servers), or choose another DOKPLOY_SERVER_ID",
            )
        how = "auto picks" if settings.auto_server else "DOKPLOY_SERVER_ID is"
        return f"{how} {server.name} ({server.server_id}, {server.ip_address or 'no IP'})"


def read_env_file(path: Path) -> dict[str, str]:
    """``NAME=value`` lines (``#`` comments, blank lines and an ``export`` prefix allowed)."""
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise ConfigurationError(
                f"{path}:{number} is not a NAME=value line", hint="fix or remove that line"
            )
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name.strip()] = value
    return values


def run_from_environment(
    *, machine_folder: str | None = None, env_file: str | None = None
) -> list[CheckResult]:
    """Run doctor the way the CLI does: options from the environment (and ``env_file``), the
    machine from ``machine_folder`` or ``MACHINE_FOLDER``/``MACHINE_ID``."""
    import os

    environ = dict(os.environ)
    if env_file:
        environ.update(read_env_file(Path(env_file)))
    folder = machine_folder or environ.get("MACHINE_FOLDER", "").strip() or None
    machine_id = environ.get("MACHINE_ID", "").strip() or None
    return Doctor(
        environ, machine_folder=Path(folder) if folder else None, machine_id=machine_id
    ).run()
