"""Provider options: DevPod's environment variables → one frozen, validated settings object.

Each option is declared once, in :data:`dokploy_provider.option_table.OPTIONS` (name, default,
check, description); every field here takes its alias (the option's name), default and check
from there. This is a plain pydantic model, not pydantic-settings: :func:`load_settings` reads
the mapping it is given (the CLI gives it ``os.environ``) and nothing else. DevPod exports an
option left empty as ``NAME=``; empty values count as unset, so defaults apply. Validation
errors become one :class:`ConfigurationError` naming each bad option and its fix.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from dokploy_provider.errors import ConfigurationError
from dokploy_provider.log import register_secret
from dokploy_provider.option_table import OPTIONS, default
from dokploy_provider.option_values import (
    MAX_MACHINE_ID_LENGTH,
    PortRange,
    connect_timeout,
    machine_folder_from_env,
    machine_id_from_env,
    parse_bool,
    parse_duration,
    parse_memory,
)
from dokploy_provider.urls import ServerURL, parse_server_url

DEFAULT_WORKSPACE_IMAGE = default("WORKSPACE_IMAGE")
DEFAULT_AGENT_PATH = default("AGENT_PATH")
AUTO_SERVER = "auto"

# The pure parsers live in option_values (stdlib only, shared with the status fast path);
# callers keep importing them from here.
__all__ = [
    "AUTO_SERVER",
    "DEFAULT_AGENT_PATH",
    "DEFAULT_WORKSPACE_IMAGE",
    "MAX_MACHINE_ID_LENGTH",
    "PortRange",
    "Settings",
    "load_settings",
    "machine_folder_from_env",
    "machine_id_from_env",
    "option_names",
    "parse_duration",
    "parse_memory",
]


def _option(name: str) -> Any:
    """The field for option ``name``: its alias and, unless required, its default."""
    option = OPTIONS[name]
    if option.default is None:
        return Field(alias=name)
    return Field(option.default, alias=name)


class Settings(BaseModel):
    """Every option in ``provider.yaml``, validated with the checks of its declaration."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    server_url_raw: str = _option("DOKPLOY_SERVER_URL")
    api_token: SecretStr = _option("DOKPLOY_API_TOKEN")
    project_name: str = _option("DOKPLOY_PROJECT_NAME")
    environment_name: str = _option("DOKPLOY_ENVIRONMENT_NAME")
    server_id: str = _option("DOKPLOY_SERVER_ID")
    ssh_host_override: str = _option("DOKPLOY_SSH_HOST")
    port_range_raw: str = _option("DOKPLOY_SSH_PORT_RANGE")
    http_timeout_raw: str = _option("DOKPLOY_HTTP_TIMEOUT")
    deploy_timeout_raw: str = _option("DOKPLOY_DEPLOY_TIMEOUT")
    ready_timeout_raw: str = _option("DOKPLOY_READY_TIMEOUT")
    workspace_image: str = _option("WORKSPACE_IMAGE")
    workspace_cpus: str = _option("WORKSPACE_CPUS")
    workspace_memory: str = _option("WORKSPACE_MEMORY")
    workspace_gpu: str = _option("WORKSPACE_GPU")
    keep_volumes_raw: str = _option("WORKSPACE_KEEP_VOLUMES")
    agent_path: str = _option("AGENT_PATH")
    inactivity_timeout: str = _option("INACTIVITY_TIMEOUT")
    inject_git_credentials: str = _option("INJECT_GIT_CREDENTIALS")
    inject_docker_credentials: str = _option("INJECT_DOCKER_CREDENTIALS")

    @field_validator("*")
    @classmethod
    def _check(cls, value: Any, info: ValidationInfo) -> Any:
        # The option's declared check, the same one the status fast path applies.
        name = str(cls.model_fields[str(info.field_name)].alias)
        secret = isinstance(value, SecretStr)
        try:
            checked = OPTIONS[name].check(value.get_secret_value() if secret else value)
        except ConfigurationError as exc:  # the URL's message names the option itself
            raise ValueError(str(exc).removeprefix(f"{name} ")) from None
        return SecretStr(checked) if secret else checked

    # Derived, typed views -------------------------------------------------------------

    @property
    def server_url(self) -> ServerURL:
        """The parsed Dokploy URL."""
        return parse_server_url(self.server_url_raw)

    @property
    def port_range(self) -> PortRange:
        """The SSH port range."""
        return PortRange.parse(self.port_range_raw)

    @property
    def http_timeout(self) -> float:
        """Seconds to wait for one API response."""
        return parse_duration(self.http_timeout_raw)

    @property
    def connect_timeout(self) -> float:
        """Seconds to wait for a connection to Dokploy (the HTTP timeout, at most 10 s)."""
        return connect_timeout(self.http_timeout)

    @property
    def deploy_timeout(self) -> float:
        """Seconds a deployment may take (includes the first image build on a server)."""
        return parse_duration(self.deploy_timeout_raw)

    @property
    def ready_timeout(self) -> float:
        """Seconds the workspace's sshd may take to answer after its container started."""
        return parse_duration(self.ready_timeout_raw)

    @property
    def keep_volumes(self) -> bool:
        """Whether ``delete`` keeps the workspace's named volumes."""
        return parse_bool(self.keep_volumes_raw)

    @property
    def auto_server(self) -> bool:
        """Whether DOKPLOY_SERVER_ID=auto (spread workspaces over the deploy servers)."""
        return self.server_id.strip().lower() == AUTO_SERVER

    @property
    def token(self) -> str:
        """The API token (only ever put in the ``x-api-key`` header)."""
        return self.api_token.get_secret_value()


def option_names() -> set[str]:
    """The environment variable name of every setting the code reads."""
    return {str(field.alias) for field in Settings.model_fields.values()}


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every option from ``environ`` (default :data:`os.environ`) alone;
    raise one ConfigurationError listing all problems."""
    env = dict(os.environ if environ is None else environ)
    token = env.get("DOKPLOY_API_TOKEN")
    register_secret(token)
    aliases = {name: str(field.alias) for name, field in Settings.model_fields.items()}
    values: dict[str, Any] = {
        alias: env[alias] for alias in aliases.values() if env.get(alias, "").strip() != ""
    }
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        raise ConfigurationError(_explain(exc, aliases)) from None


def _explain(exc: ValidationError, aliases: dict[str, str]) -> str:
    problems: list[str] = []
    for error in exc.errors(include_input=False, include_url=False):
        loc = str(error["loc"][0]) if error["loc"] else ""
        name = aliases.get(loc, loc)
        if error["type"] == "missing":
            problems.append(f"{name} is required but not set (devpod provider set-options)")
            continue
        message = str(error.get("msg", "invalid value"))
        message = message.removeprefix("Value error, ")
        if name == "DOKPLOY_API_TOKEN":
            message = "invalid token value"
        problems.append(f"{name}: {message}")
    return "invalid provider options: " + "; ".join(problems)
