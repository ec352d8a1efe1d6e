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

import enum
import socket
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dokploy_provider import log
from dokploy_provider.errors import (
    AuthenticationFailed,
    ConfigurationError,
    NotFound,
    PermissionDenied,
    ProviderError,
    ServerUnreachable,
    UnsupportedVersion,
)

if TYPE_CHECKING:
    from dokploy_provider.dokploy import DokployClient
    from dokploy_provider.machine import MachineService
    from dokploy_provider.models import Compose, DokployVersion, Project, Server
    from dokploy_provider.options import Settings
    from dokploy_provider.state import MachineFolder, MachineState

logger = log.get("doctor")

SET_OPTION = "devpod provider set-options dokploy -o"
#: How many taken ports the human-readable line names (JSON has them all).
PORTS_SHOWN = 8


class Outcome(str, enum.Enum):
    """How one check ended."""

    OK = "ok"
    FAIL = "fail"
    SKIP = "skip"

    @property
    def mark(self) -> str:
        """The symbol shown in front of the check."""
        return {"ok": "✓", "fail": "✗", "skip": "-"}[self.value]


@dataclass(frozen=True)
class CheckResult:
    """One line of the report."""

    key: str
    title: str
    outcome: Outcome
    detail: str
    fix: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        """The result as a row for :func:`dokploy_provider.output.render`."""
        return {
            "mark": self.outcome.mark,
            "check": self.key,
            "title": self.title,
            "status": self.outcome.value,
            "detail": self.detail,
            "fix": self.fix,
            "data": self.data,
        }


COLUMNS = [("mark", ""), ("title", "check"), ("detail", "result"), ("fix", "fix")]


class CheckFailed(Exception):
    """Raised by a check: what is wrong and what to do about it."""

    def __init__(self, detail: str, fix: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.fix = fix


@dataclass(frozen=True)
class _Check:
    key: str
    title: str
    needs: tuple[str, ...]
    run: Callable[[], str]
    default_fix: str | None = None


@dataclass
class Found:
    """What the checks learned, for the ones after them."""

    settings: Settings | None = None
    client: DokployClient | None = None
    service: MachineService | None = None
    version: DokployVersion | None = None
    version_error: ProviderError | None = None
    project: Project | None = None
    server: Server | None = None
    ssh_host: str = ""
    state: MachineState | None = None
    app_name: str = ""
    data: dict[str, dict[str, Any]] = field(default_factory=dict)


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


class Doctor:
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
            return f"{url.base_url} (API at {url.api_base}); warning: plain HTTP to a public address"
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
        project = service.find_project()
        self.found.project = project
        if project is None:
            return f"project {settings.project_name!r} will be created on first use"
        text = f"project {project.name!r} ({project.project_id})"
        if not self._version().has_environments:
            return text + " exists"
        environment = service.find_environment(project)
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
        server = self._service().resolve_server(
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

    def _check_login_shell(self) -> str:
        """Dokploy #4260: on v0.28.2 to v0.29.13 a noisy login shell fails remote deploys."""
        from dokploy_provider import login_shell

        server = self.found.server
        version = self._version()
        if server is None:
            return "the Dokploy host deploys without SSH: not affected by Dokploy #4260"
        if not version.remote_deploy_fails_on_login_stderr:
            return f"Dokploy {version} does not read compose files back over SSH"
        on_server = [
            c for c in self._service().all_composes() if c.server_id == server.server_id
        ]
        failed = login_shell.composes_failed_by_it(self._client(), on_server)
        if failed:
            names = ", ".join(sorted(c.app_name for c in failed))
            raise CheckFailed(
                f"deploys on {server.name} fail with '{login_shell.COMPOSE_FILE_NOT_FOUND}' "
                f"({names}): " + login_shell.explanation(server.server_id, version),
                login_shell.FIX,
            )
        logs = "no deploy there failed that way" if version.has_read_logs else (
            "this version cannot show deploy logs, so past failures were not checked"
        )
        return (
            f"Dokploy {version} fails every deploy on {server.name} if root's login shell "
            f"there writes to stderr (Dokploy #4260); {logs}"
        )

    def _check_ssh_host(self) -> str:
        settings = self._settings()
        server = self.found.server
        host = self._service().ssh_host(server)
        self.found.ssh_host = host
        if settings.ssh_host_override:
            source = "DOKPLOY_SSH_HOST"
        elif server is not None and server.ip_address:
            source = "the remote server's IP"
        elif host != settings.server_url.host:
            source = "Dokploy's configured server IP"
        else:
            source = "the host of DOKPLOY_SERVER_URL"
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise CheckFailed(
                f"{host} (from {source}) does not resolve: {exc}",
                f"{SET_OPTION} DOKPLOY_SSH_HOST=<name or IP of the Docker host>",
            ) from None
        addresses = sorted({str(info[4][0]) for info in infos})
        return f"{host} (from {source}) resolves to {', '.join(addresses)}"

    def _check_ports(self) -> str:
        settings = self._settings()
        port_range = settings.port_range
        server = self.found.server
        server_id = server.server_id if server else None
        where = f"server {server.name}" if server else "the Dokploy host"
        logger.info("Reading the ports every compose on %s publishes…", where)
        taken = {
            port: [_label(compose) for compose in composes]
            for port, composes in self._service().ports_on_server(server_id).items()
            if port in port_range
        }
        free = len(port_range) - len(taken)
        self.found.data["ports"] = {
            "range": str(port_range),
            "free": free,
            "taken": {str(p): apps for p, apps in sorted(taken.items())},
        }
        shown = [f"{p} {'+'.join(apps)}" for p, apps in sorted(taken.items())[:PORTS_SHOWN]]
        if len(taken) > PORTS_SHOWN:
            shown.append(f"… {len(taken) - PORTS_SHOWN} more (--json lists all)")
        summary = f"{free} of {len(port_range)} free in {port_range} on {where}"
        if taken:
            summary += "; taken: " + ", ".join(shown)
        if free <= 0:
            raise CheckFailed(
                summary,
                "delete unused workspaces (`devpod delete`) or widen the range: "
                f"{SET_OPTION} DOKPLOY_SSH_PORT_RANGE={port_range.first}-"
                f"{min(port_range.last + 50, 65535)}",
            )
        return summary

    # ------------------------------------------------------------------ machine checks

    def _folder(self) -> MachineFolder:
        from dokploy_provider.state import MachineFolder

        assert self.machine_folder is not None
        return MachineFolder(self.machine_folder)

    def _check_state(self) -> str:
        folder = self._folder()
        if not folder.path.is_dir():
            raise CheckFailed(
                f"machine folder {folder.path} does not exist",
                "pass the folder DevPod made: ~/.devpod/contexts/<context>/machines/<machine>",
            )
        state = folder.load()
        if state is None:
            raise CheckFailed(
                f"no state file in {folder.path}: this machine was never created here",
                "run `devpod up` (or `devpod machine create`)",
            )
        if self.machine_id and state.machine_id != self.machine_id:
            raise CheckFailed(
                f"{folder.state_path} belongs to machine {state.machine_id!r}, "
                f"not {self.machine_id!r}",
                "MACHINE_FOLDER and MACHINE_ID must name the same machine",
            )
        if not state.compose_id:
            raise CheckFailed(
                f"machine {state.machine_id}'s create stopped before its compose existed "
                f"(phase {state.phase})",
                "run `devpod up` again: create resumes where it stopped",
            )
        if not folder.client_key_path.is_file():
            raise CheckFailed(
                f"the machine's SSH key {folder.client_key_path} is missing",
                "recreate the machine: `devpod machine delete --force <machine>` then `devpod up`",
            )
        self.found.state = state
        return (
            f"machine {state.machine_id}, phase {state.phase}, compose {state.compose_id}, "
            f"SSH {state.target}"
        )

    def _check_compose(self) -> str:
        state = self._state()
        try:
            compose = self._service().get_owned_compose(state)
        except NotFound:
            raise CheckFailed(
                f"Dokploy has no compose {state.compose_id} any more (deleted outside DevPod)",
                "`devpod machine delete --force <machine>`, then `devpod up` makes a new one",
            ) from None
        self.found.app_name = compose.app_name
        where = f"server {compose.server_id}" if compose.server_id else "the Dokploy host"
        if compose.compose_status == "error":
            raise CheckFailed(
                f"{compose.app_name}: its last Dokploy deployment failed",
                "open its Deployments tab in Dokploy for the log; `devpod up` redeploys it",
            )
        return f"{compose.app_name} on {where}, deploy status {compose.compose_status}"

    def _check_container(self) -> str:
        state = self._state()
        containers = self._client().get_containers(self.found.app_name, state.server_id)
        if not containers:
            raise CheckFailed(
                f"Dokploy lists no container for {self.found.app_name}",
                "`devpod up` redeploys it (or `devpod machine start <machine>`)",
            )
        running = [c for c in containers if c.state == "running"]
        if not running:
            states = ", ".join(f"{c.name} {c.status or c.state}" for c in containers)
            raise CheckFailed(
                f"the workspace is not running ({states})",
                "`devpod up` (or `devpod machine start <machine>`) starts it",
            )
        return ", ".join(f"{c.name} {c.status or c.state}" for c in running)

    def _check_ssh(self) -> str:
        from dokploy_provider import ssh

        state = self._state()
        logger.info("Trying an SSH login to %s…", state.target)
        result = ssh.probe(state, self._folder().client_key_path, self.ssh_timeout)
        if result.ok:
            return f"{result.detail}; host key {state.host_key_fingerprint or 'pinned'}"
        fixes = {
            ssh.PORT_CLOSED: f"open port {state.ssh_port} on {state.ssh_host} in the firewall, "
            "or set DOKPLOY_SSH_HOST to an address that reaches the Docker host",
            ssh.NO_BANNER: f"something other than the workspace's sshd holds port "
            f"{state.ssh_port}; check DOKPLOY_SSH_HOST and the server's firewall/NAT",
            ssh.HOST_KEY_MISMATCH: "another workspace answers on that port; recreate this one: "
            "`devpod machine delete --force <machine>` then `devpod up`",
            ssh.AUTH_REFUSED: "the workspace does not hold this machine's key; `devpod up` "
            "redeploys it with the key",
        }
        raise CheckFailed(result.detail, fixes.get(result.kind))

    # ------------------------------------------------------------------ accessors

    def _settings(self) -> Settings:
        assert self.found.settings is not None
        return self.found.settings

    def _client(self) -> DokployClient:
        assert self.found.client is not None
        return self.found.client

    def _service(self) -> MachineService:
        assert self.found.service is not None
        return self.found.service

    def _version(self) -> DokployVersion:
        assert self.found.version is not None
        return self.found.version

    def _state(self) -> MachineState:
        assert self.found.state is not None
        return self.found.state


def _label(compose: Compose) -> str:
    """A compose's app name, and the DevPod machine whose marker it carries."""
    from dokploy_provider.marker import owner_of

    owner = owner_of(compose.description)
    return compose.app_name + (f" (machine {owner})" if owner else "")


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


def failed(results: list[CheckResult]) -> list[CheckResult]:
    """The results that failed."""
    return [r for r in results if r.outcome is Outcome.FAIL]


def iter_rows(results: list[CheckResult]) -> Iterator[dict[str, Any]]:
    """Rows for :func:`dokploy_provider.output.render`."""
    for result in results:
        yield result.row()


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
