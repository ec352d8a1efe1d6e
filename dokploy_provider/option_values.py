"""The pure parsers and checks behind the provider options, stdlib only.

:mod:`dokploy_provider.option_table` gives each option its check from here; the pydantic
settings model (:mod:`dokploy_provider.options`) and the ``status`` fast path
(:mod:`dokploy_provider.fast_status`, without pydantic) both apply that table, so there is one
set of rules.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from dokploy_provider.errors import ConfigurationError
from dokploy_provider.urls import parse_server_url

_GO_DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
_MEMORY = re.compile(r"^(\d+(\.\d+)?)([kmgt]?)(i?b?)$", re.IGNORECASE)
_MEMORY_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_MACHINE_ID = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
#: Dokploy's appName is at most 63 characters: "devpod-" + id + "-" + 6 random characters.
MAX_MACHINE_ID_LENGTH = 63 - len("devpod-") - 7
BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
MIN_MEMORY = 64 * 1024**2
#: The longest wait for a connection, however long DOKPLOY_HTTP_TIMEOUT lets a response take.
MAX_CONNECT_TIMEOUT = 10.0


def parse_duration(value: str) -> float:
    """Seconds in a Go duration (``90s``, ``10m``, ``1h30m``); a bare number means seconds."""
    text = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    if not _GO_DURATION.match(text):
        raise ValueError(f"{value!r} is not a duration like 90s, 10m or 1h30m")
    return sum(float(n) * _DURATION_UNITS[u] for n, u in _DURATION_PART.findall(text))


def connect_timeout(http_timeout: float) -> float:
    """Seconds to wait for a connection given DOKPLOY_HTTP_TIMEOUT's seconds."""
    return min(MAX_CONNECT_TIMEOUT, http_timeout)


def parse_memory(value: str) -> int:
    """Bytes in a size like ``4g``, ``512m``, ``2GiB``, ``1073741824``."""
    match = _MEMORY.match(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a memory size like 512m, 4g or 2GiB")
    number, unit = float(match.group(1)), match.group(3).lower()
    return int(number * _MEMORY_UNITS[unit])


def parse_bool(value: str) -> bool:
    """``true``/``false`` (also ``1``/``0``, ``yes``/``no``), case-insensitive."""
    try:
        return BOOLEANS[value.strip().lower()]
    except KeyError:
        raise ValueError(f"{value!r} must be true or false") from None


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


# Checks: each raises ValueError (or ConfigurationError for the URL) on a bad value. ---------


def check_not_empty(value: str) -> str:
    """A name that must not be empty (``DOKPLOY_PROJECT_NAME``)."""
    if value == "":
        raise ValueError("must not be empty")
    return value


def check_server_url(value: str) -> str:
    """``DOKPLOY_SERVER_URL`` must parse (raises :class:`ConfigurationError` otherwise)."""
    parse_server_url(value)
    return value


def check_port_range(value: str) -> str:
    """``DOKPLOY_SSH_PORT_RANGE`` must be a valid range."""
    PortRange.parse(value)
    return value


def check_positive_duration(value: str) -> str:
    """A duration option must parse and be longer than zero."""
    if parse_duration(value) <= 0:
        raise ValueError(f"{value!r} must be longer than zero")
    return value


def check_cpus(value: str) -> str:
    """``WORKSPACE_CPUS``: empty, or a number in (0, 512]."""
    if value:
        try:
            cpus = float(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a number of CPUs like 2 or 0.5") from None
        if cpus <= 0 or cpus > 512:
            raise ValueError(f"{value!r} must be more than 0 and at most 512")
    return value


def check_memory(value: str) -> str:
    """``WORKSPACE_MEMORY``: empty, or a size of at least 64m."""
    if value and parse_memory(value) < MIN_MEMORY:
        raise ValueError(f"{value!r} is below the 64m a workspace needs to boot")
    return value


def normalize_gpu(value: str) -> str:
    """``WORKSPACE_GPU``: ``none``, ``all`` or a positive count; returns the normalised text."""
    text = value.strip().lower()
    if text in {"none", "all", ""} or (text.isdigit() and int(text) > 0):
        return text or "none"
    raise ValueError(f"{value!r} must be none, all, or a number of GPUs like 1")


def check_bool(value: str) -> str:
    """A boolean option must be one of :data:`BOOLEANS`."""
    parse_bool(value)
    return value


#: A Docker image reference: ``[registry[:port]/]path[:tag][@sha256:digest]``, lower-case path
#: components, nothing that could end the ``FROM`` line of the workspace's Dockerfile.
IMAGE_REFERENCE = re.compile(
    r"^(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)


def check_image(value: str) -> str:
    """``WORKSPACE_IMAGE``: one image reference (it becomes the Dockerfile's ``FROM``)."""
    if not IMAGE_REFERENCE.match(value):
        raise ValueError(
            f"{value!r} is not an image reference like debian:bookworm or "
            "registry.example.com/team/dind:27 (no spaces, line breaks or upper-case names)"
        )
    return value


def check_agent_path(value: str) -> str:
    """``AGENT_PATH``: absolute, and not under ``/tmp`` (wiped on restart)."""
    if not value.startswith("/"):
        raise ValueError(f"{value!r} must be an absolute path")
    if value == "/tmp" or value.startswith("/tmp/"):  # noqa: S108 - refusing /tmp, not using it
        raise ValueError(
            f"{value!r} is under /tmp, which is wiped on restart (the agent would vanish)"
        )
    return value


def _machine_variable(name: str, environ: Mapping[str, str] | None) -> str:
    """``name`` from ``environ`` (default :data:`os.environ`), stripped; DevPod sets it."""
    value = (os.environ if environ is None else environ).get(name, "").strip()
    if not value:
        raise ConfigurationError(
            f"{name} is not set", hint="this verb is run by DevPod for a machine"
        )
    return value


def machine_id_from_env(environ: Mapping[str, str] | None = None) -> str:
    """``MACHINE_ID``, validated: lower-case letters, digits and dashes, short enough for Dokploy."""
    machine_id = _machine_variable("MACHINE_ID", environ)
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


def machine_folder_from_env(environ: Mapping[str, str] | None = None) -> str:
    """``MACHINE_FOLDER``, required for every machine verb."""
    return _machine_variable("MACHINE_FOLDER", environ)
