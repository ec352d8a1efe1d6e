"""Provider options: DevPod's environment variables → one frozen, validated settings object.

Every field's alias is the option's name in ``provider.yaml`` (a test keeps the two in sync).
DevPod exports an option left empty as ``NAME=``; empty values count as unset, so defaults apply.
Validation errors become one :class:`ConfigurationError` naming each bad option and its fix.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from dokploy_provider.errors import ConfigurationError
from dokploy_provider.log import register_secret
from dokploy_provider.option_values import (
    MAX_MACHINE_ID_LENGTH,
    OPTION_CHECKS,
    PortRange,
    connect_timeout,
    machine_folder_from_env,
    machine_id_from_env,
    parse_bool,
    parse_duration,
    parse_memory,
)
from dokploy_provider.urls import ServerURL, parse_server_url

DEFAULT_WORKSPACE_IMAGE = "cruizba/ubuntu-dind:noble-27.0.3-r0"
DEFAULT_AGENT_PATH = "/var/lib/devpod/devpod"
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


class Settings(BaseSettings):
    """Every option in ``provider.yaml``, read from the environment DevPod sets."""

    model_config = SettingsConfigDict(
        frozen=True,
        case_sensitive=True,
        env_ignore_empty=True,
        extra="ignore",
        populate_by_name=True,
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only what the caller passes: :func:`load_settings` hands over the environment it
        was given, so a test's mapping is never mixed with the process environment."""
        return (init_settings,)

    server_url_raw: str = Field(alias="DOKPLOY_SERVER_URL")
    api_token: SecretStr = Field(alias="DOKPLOY_API_TOKEN")
    project_name: str = Field("devpod-workspaces", alias="DOKPLOY_PROJECT_NAME", min_length=1)
    environment_name: str = Field("", alias="DOKPLOY_ENVIRONMENT_NAME")
    server_id: str = Field("", alias="DOKPLOY_SERVER_ID")
    ssh_host_override: str = Field("", alias="DOKPLOY_SSH_HOST")
    port_range_raw: str = Field("2222-2250", alias="DOKPLOY_SSH_PORT_RANGE")
    http_timeout_raw: str = Field("30s", alias="DOKPLOY_HTTP_TIMEOUT")
    deploy_timeout_raw: str = Field("15m", alias="DOKPLOY_DEPLOY_TIMEOUT")
    ready_timeout_raw: str = Field("2m", alias="DOKPLOY_READY_TIMEOUT")
    workspace_image: str = Field(DEFAULT_WORKSPACE_IMAGE, alias="WORKSPACE_IMAGE", min_length=1)
    workspace_cpus: str = Field("", alias="WORKSPACE_CPUS")
    workspace_memory: str = Field("", alias="WORKSPACE_MEMORY")
    workspace_gpu: str = Field("none", alias="WORKSPACE_GPU")
    keep_volumes_raw: str = Field("false", alias="WORKSPACE_KEEP_VOLUMES")
    agent_path: str = Field(DEFAULT_AGENT_PATH, alias="AGENT_PATH")
    inactivity_timeout: str = Field("10m", alias="INACTIVITY_TIMEOUT")
    inject_git_credentials: str = Field("true", alias="INJECT_GIT_CREDENTIALS")
    inject_docker_credentials: str = Field("true", alias="INJECT_DOCKER_CREDENTIALS")

    @field_validator("*")
    @classmethod
    def _check(cls, value: Any, info: ValidationInfo) -> Any:
        # The option's rule from OPTION_CHECKS, the same one the status fast path applies.
        name = str(cls.model_fields[str(info.field_name)].alias)
        check, _ = OPTION_CHECKS[name]
        try:
            return check(value)
        except ConfigurationError as exc:  # the URL's message names the option itself
            raise ValueError(str(exc).removeprefix(f"{name} ")) from None

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


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read and validate every option; raise one ConfigurationError listing all problems."""
    env = dict(os.environ if environ is None else environ)
    token = env.get("DOKPLOY_API_TOKEN")
    register_secret(token)
    aliases = {name: str(field.alias) for name, field in Settings.model_fields.items()}
    values: dict[str, Any] = {
        alias: env[alias] for alias in aliases.values() if env.get(alias, "").strip() != ""
    }
    try:
        # Validate the mapping we were given rather than letting the env source read
        # os.environ itself: tests pass their own environment, and the CLI passes os.environ.
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
