"""Provider options: DevPod's environment variables → one frozen, validated settings object.

Every field's alias is the option's name in ``provider.yaml`` (a test keeps the two in sync).
DevPod exports an option left empty as ``NAME=``; empty values count as unset, so defaults apply.
Validation errors become one :class:`ConfigurationError` naming each bad option and its fix.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dokploy_provider.errors import ConfigurationError
from dokploy_provider.log import register_secret
from dokploy_provider.urls import ServerURL, parse_server_url

DEFAULT_WORKSPACE_IMAGE = "cruizba/ubuntu-dind:noble-27.0.3-r0"
DEFAULT_AGENT_PATH = "/var/lib/devpod/devpod"
AUTO_SERVER = "auto"

_GO_DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
_MEMORY = re.compile(r"^(\d+(\.\d+)?)([kmgt]?)(i?b?)$", re.IGNORECASE)
_MEMORY_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_MACHINE_ID = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
#: Dokploy's appName is at most 63 characters: "devpod-" + id + "-" + 6 random characters.
MAX_MACHINE_ID_LENGTH = 63 - len("devpod-") - 7
_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def parse_duration(value: str) -> float:
    """Seconds in a Go duration (``90s``, ``10m``, ``1h30m``); a bare number means seconds."""
    text = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    if not _GO_DURATION.match(text):
        raise ValueError(f"{value!r} is not a duration like 90s, 10m or 1h30m")
    return sum(float(n) * _DURATION_UNITS[u] for n, u in _DURATION_PART.findall(text))


def parse_memory(value: str) -> int:
    """Bytes in a size like ``4g``, ``512m``, ``2GiB``, ``1073741824``."""
    match = _MEMORY.match(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a memory size like 512m, 4g or 2GiB")
    number, unit = float(match.group(1)), match.group(3).lower()
    return int(number * _MEMORY_UNITS[unit])


@dataclass(frozen=True)
class PortRange:
    """An inclusive range of host ports for workspace SSH."""

    first: int
    last: int

    def __contains__(self, port: object) -> bool:
        return isinstance(port, int) and self.first <= port <= self.last

    def __len__(self) -> int:
        return self.last - self.first + 1

    def __str__(self) -> str:
        return f"{self.first}-{self.last}"

    @classmethod
    def parse(cls, text: str) -> PortRange:
        """Parse ``2222-2250`` (or a single port)."""
        match = re.fullmatch(r"\s*(\d{1,5})\s*(?:-\s*(\d{1,5})\s*)?", text)
        if not match:
            raise ValueError(f"{text!r} is not a port range like 2222-2250")
        first = int(match.group(1))
        last = int(match.group(2) or first)
        if not (1 <= first <= 65535 and 1 <= last <= 65535):
            raise ValueError(f"{text!r} has a port outside 1-65535")
        if last < first:
            raise ValueError(f"{text!r} is reversed; write the lower port first")
        return cls(first, last)


class Settings(BaseSettings):
    """Every option in ``provider.yaml``, read from the environment DevPod sets."""

    model_config = SettingsConfigDict(
        frozen=True,
        case_sensitive=True,
        env_ignore_empty=True,
        extra="ignore",
        populate_by_name=True,
    )

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

    @field_validator("server_url_raw")
    @classmethod
    def _check_url(cls, value: str) -> str:
        try:
            parse_server_url(value)
        except ConfigurationError as exc:
            raise ValueError(str(exc).removeprefix("DOKPLOY_SERVER_URL ")) from None
        return value

    @field_validator("port_range_raw")
    @classmethod
    def _check_ports(cls, value: str) -> str:
        PortRange.parse(value)
        return value

    @field_validator(
        "http_timeout_raw", "deploy_timeout_raw", "ready_timeout_raw", "inactivity_timeout"
    )
    @classmethod
    def _check_duration(cls, value: str) -> str:
        if parse_duration(value) <= 0:
            raise ValueError(f"{value!r} must be longer than zero")
        return value

    @field_validator("workspace_cpus")
    @classmethod
    def _check_cpus(cls, value: str) -> str:
        if value:
            try:
                cpus = float(value)
            except ValueError:
                raise ValueError(f"{value!r} is not a number of CPUs like 2 or 0.5") from None
            if cpus <= 0 or cpus > 512:
                raise ValueError(f"{value!r} must be more than 0 and at most 512")
        return value

    @field_validator("workspace_memory")
    @classmethod
    def _check_memory(cls, value: str) -> str:
        if value and parse_memory(value) < 64 * 1024**2:
            raise ValueError(f"{value!r} is below the 64m a workspace needs to boot")
        return value

    @field_validator("workspace_gpu")
    @classmethod
    def _check_gpu(cls, value: str) -> str:
        text = value.strip().lower()
        if text in {"none", "all", ""} or (text.isdigit() and int(text) > 0):
            return text or "none"
        raise ValueError(f"{value!r} must be none, all, or a number of GPUs like 1")

    @field_validator("keep_volumes_raw", "inject_git_credentials", "inject_docker_credentials")
    @classmethod
    def _check_bool(cls, value: str) -> str:
        if value.strip().lower() not in _BOOLEANS:
            raise ValueError(f"{value!r} must be true or false")
        return value

    @field_validator("agent_path")
    @classmethod
    def _check_agent_path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"{value!r} must be an absolute path")
        if value == "/tmp" or value.startswith("/tmp/"):  # noqa: S108 - refusing /tmp, not using it
            raise ValueError(
                f"{value!r} is under /tmp, which is wiped on restart (the agent would vanish)"
            )
        return value

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
        return _BOOLEANS[self.keep_volumes_raw.strip().lower()]

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


def machine_id_from_env(environ: dict[str, str] | None = None) -> str:
    """``MACHINE_ID``, validated: lower-case letters, digits and dashes, short enough for Dokploy."""
    env = os.environ if environ is None else environ
    machine_id = env.get("MACHINE_ID", "").strip()
    if not machine_id:
        raise ConfigurationError(
            "MACHINE_ID is not set", hint="this verb is run by DevPod for a machine"
        )
    if not _MACHINE_ID.match(machine_id):
        raise ConfigurationError(
            f"MACHINE_ID {machine_id!r} is invalid",
            hint="use lower-case letters, digits and dashes, starting and ending with a letter or digit",
        )
    if len(machine_id) > MAX_MACHINE_ID_LENGTH:
        raise ConfigurationError(
            f"MACHINE_ID {machine_id!r} is {len(machine_id)} characters, over the "
            f"{MAX_MACHINE_ID_LENGTH} that fit in Dokploy's 63-character appName",
            hint="choose a shorter machine name",
        )
    return machine_id


def machine_folder_from_env(environ: dict[str, str] | None = None) -> str:
    """``MACHINE_FOLDER``, required for every machine verb."""
    env = os.environ if environ is None else environ
    folder = env.get("MACHINE_FOLDER", "").strip()
    if not folder:
        raise ConfigurationError(
            "MACHINE_FOLDER is not set", hint="this verb is run by DevPod for a machine"
        )
    return folder
