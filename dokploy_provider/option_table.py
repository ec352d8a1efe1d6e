"""Every provider option, declared once: name, default, check, description (stdlib only).

The rest derives from :data:`OPTIONS`: the fields of :class:`dokploy_provider.options.Settings`
(alias and default), the checks and defaults the ``status`` fast path applies
(:func:`options_problem`, :func:`option_value`), and the ``options`` and ``optionGroups`` of
``provider.yaml``, which DevPod reads from the repository: :func:`provider_yaml_sections` is
what that file must say, and a unit test holds it to that.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from dokploy_provider.errors import ConfigurationError
from dokploy_provider.option_values import (
    check_agent_path,
    check_bool,
    check_cpus,
    check_image,
    check_memory,
    check_not_empty,
    check_port_range,
    check_positive_duration,
    check_server_url,
    normalize_gpu,
)

#: DevPod's option types (``provider.yaml`` ``type``); ``string`` is DevPod's default.
OptionType = Literal["string", "duration", "boolean"]


def _any(value: str) -> str:
    return value


@dataclass(frozen=True)
class Option:
    """One provider option. ``default`` ``None`` means required (DevPod asks for it).

    ``check`` is the provider's rule (raises :class:`ValueError`, or
    :class:`~dokploy_provider.errors.ConfigurationError` for the URL; returns the value to
    keep). ``pattern``/``pattern_message`` are DevPod's ``validationPattern`` and
    ``validationMessage``, a coarser first check DevPod applies at ``set-options`` time.
    """

    name: str
    group: str
    description: str
    default: str | None
    check: Callable[[str], str] = _any
    type: OptionType = "string"
    local: bool = False
    password: bool = False
    pattern: str | None = None
    pattern_message: str | None = None

    @property
    def required(self) -> bool:
        """Whether the option must be set (it has no default)."""
        return self.default is None

    def provider_yaml(self) -> dict[str, object]:
        """This option's entry under ``provider.yaml``'s ``options``."""
        entry: dict[str, object] = {"description": self.description}
        if self.default is None:
            entry["required"] = True
        else:
            entry["default"] = self.default
        if self.type != "string":
            entry["type"] = self.type
        if self.local:
            entry["local"] = True
        if self.password:
            entry["password"] = True
        if self.pattern is not None:
            entry["validationPattern"] = self.pattern
        if self.pattern_message is not None:
            entry["validationMessage"] = self.pattern_message
        return entry


#: ``provider.yaml``'s option groups (desktop app), in order, with ``defaultVisible``.
GROUPS: Mapping[str, bool] = {
    "Dokploy": True,
    "Workspace": True,
    "Network and timeouts": False,
    "Agent options": False,
}

_NETWORK = "Network and timeouts"
_AGENT = "Agent options"

_OPTIONS = (
    Option(
        "DOKPLOY_SERVER_URL",
        "Dokploy",
        "URL of your Dokploy panel, e.g. https://dokploy.example.com (a path prefix is "
        "allowed; plain http:// only on a private network: the key is root on the server). "
        "The provider calls its REST API under <URL>/api.",
        None,
        check_server_url,
        pattern=r"^https?://[^\s/?#@]+(/[^\s?#]*)?$",
        pattern_message="must be an http:// or https:// URL without credentials, query or fragment",
    ),
    Option(
        "DOKPLOY_API_TOKEN",
        "Dokploy",
        "Dokploy API key (Settings → Profile → API/CLI → Generate). Sent only in the "
        "x-api-key header; never printed.",
        None,
        password=True,
    ),
    Option(
        "DOKPLOY_PROJECT_NAME",
        "Dokploy",
        "Dokploy project that holds the workspaces; created on first use.",
        "devpod-workspaces",
        check_not_empty,
        pattern=r"^\S.*$",
    ),
    Option(
        "DOKPLOY_ENVIRONMENT_NAME",
        "Dokploy",
        "Environment of that project (Dokploy v0.25+). Empty uses the project's default "
        "environment; another name is created on first use.",
        "",
    ),
    Option(
        "DOKPLOY_SERVER_ID",
        "Dokploy",
        "Deploy on one of Dokploy's remote servers (its id from Dokploy's Servers page). Empty "
        'deploys on the Dokploy host itself; "auto" picks the active deploy server with the '
        "fewest DevPod workspaces, once per machine.",
        "",
        local=True,
        pattern=r"^([A-Za-z0-9_-]*)$",
    ),
    Option(
        "DOKPLOY_SSH_HOST",
        _NETWORK,
        "Host name or IP the workspaces' SSH ports are reached on. Empty derives it: the "
        "remote server's IP, else Dokploy's configured server IP, else the host of "
        "DOKPLOY_SERVER_URL.",
        "",
        local=True,
    ),
    Option(
        "DOKPLOY_SSH_PORT_RANGE",
        _NETWORK,
        "Host ports workspaces publish their SSH on, one per workspace per server. Open them "
        "in your firewall.",
        "2222-2250",
        check_port_range,
        pattern=r"^\d{1,5}(-\d{1,5})?$",
        pattern_message="must be a port or a range like 2222-2250",
    ),
    Option(
        "DOKPLOY_HTTP_TIMEOUT",
        _NETWORK,
        "How long one Dokploy API call may take.",
        "30s",
        check_positive_duration,
        type="duration",
    ),
    Option(
        "DOKPLOY_DEPLOY_TIMEOUT",
        _NETWORK,
        "How long a Dokploy deployment may take, queue included. The first workspace on a "
        "server builds the workspace image, which takes minutes.",
        "15m",
        check_positive_duration,
        type="duration",
    ),
    Option(
        "DOKPLOY_READY_TIMEOUT",
        _NETWORK,
        "How long the workspace's sshd may take to answer after its container started.",
        "2m",
        check_positive_duration,
        type="duration",
    ),
    Option(
        "WORKSPACE_IMAGE",
        "Workspace",
        "Base image of the workspace container: Debian/Ubuntu with dockerd. sshd and curl are "
        "baked into an image built from it once per server. Pin an exact tag.",
        "cruizba/ubuntu-dind:noble-27.0.3-r0",
        check_image,
        local=True,
        pattern=r"^[A-Za-z0-9./_:@-]+$",
        pattern_message="must be one image reference like debian:bookworm (no spaces or line breaks)",
    ),
    Option(
        "WORKSPACE_CPUS",
        "Workspace",
        "CPU limit of the workspace container, e.g. 2 or 0.5. Empty means no limit.",
        "",
        check_cpus,
        local=True,
        pattern=r"^(\d+(\.\d+)?)?$",
        pattern_message="must be a number like 2 or 0.5",
    ),
    Option(
        "WORKSPACE_MEMORY",
        "Workspace",
        "Memory limit of the workspace container, e.g. 4g or 512m. Empty means no limit.",
        "",
        check_memory,
        local=True,
        pattern=r"^(\d+(\.\d+)?([kKmMgGtT]i?[bB]?)?)?$",
        pattern_message="must be a size like 512m, 4g or 8GiB",
    ),
    Option(
        "WORKSPACE_GPU",
        "Workspace",
        "NVIDIA GPUs for the workspace - none, all, or a count like 1.",
        "none",
        normalize_gpu,
        local=True,
        pattern=r"^(none|all|[1-9][0-9]*)$",
    ),
    Option(
        "WORKSPACE_KEEP_VOLUMES",
        "Workspace",
        "Keep the workspace's volumes (inner Docker data, agent and workspace data) when the "
        "machine is deleted.",
        "false",
        check_bool,
        type="boolean",
    ),
    Option(
        "AGENT_PATH",
        _AGENT,
        "Where DevPod's agent lives in the workspace: on the persistent volume, not under /tmp.",
        "/var/lib/devpod/devpod",
        check_agent_path,
        pattern=r"^/.+",
    ),
    Option(
        "INACTIVITY_TIMEOUT",
        _AGENT,
        "Idle time (e.g. 10m, 1h) after which DevPod's agent stops the workspace container; "
        "the next devpod up starts it again with its data (see README, Auto-stop).",
        "10m",
        check_positive_duration,
        type="duration",
    ),
    Option(
        "INJECT_GIT_CREDENTIALS",
        _AGENT,
        "Forward your git credentials into the workspace.",
        "true",
        check_bool,
        type="boolean",
    ),
    Option(
        "INJECT_DOCKER_CREDENTIALS",
        _AGENT,
        "Forward your Docker registry credentials into the workspace.",
        "true",
        check_bool,
        type="boolean",
    ),
)

#: Every option by name, in ``provider.yaml``'s order.
OPTIONS: Mapping[str, Option] = {option.name: option for option in _OPTIONS}


def default(name: str) -> str:
    """The default of the optional option ``name``."""
    value = OPTIONS[name].default
    if value is None:
        raise KeyError(f"{name} is required and has no default")
    return value


def provider_yaml_sections() -> dict[str, object]:
    """``provider.yaml``'s ``optionGroups`` and ``options`` as :data:`OPTIONS` declares them."""
    return {
        "optionGroups": [
            {
                "name": group,
                "defaultVisible": visible,
                "options": [option.name for option in _OPTIONS if option.group == group],
            }
            for group, visible in GROUPS.items()
        ],
        "options": {option.name: option.provider_yaml() for option in _OPTIONS},
    }


def options_problem(environ: Mapping[str, str]) -> str | None:
    """``None`` when every option in ``environ`` passes its check, else the first problem.

    Empty values count as unset, as in :func:`dokploy_provider.options.load_settings`.
    """
    for option in _OPTIONS:
        value = environ.get(option.name, "")
        if value.strip() == "":
            if option.required:
                return f"{option.name} is not set"
            continue
        try:
            option.check(value)
        except (ValueError, ConfigurationError) as exc:
            return f"{option.name}: {exc}"
    return None


def option_value(environ: Mapping[str, str], name: str) -> str:
    """``environ[name]``, or the option's default when it is unset or blank."""
    value = environ.get(name, "")
    return value if value.strip() else default(name)
