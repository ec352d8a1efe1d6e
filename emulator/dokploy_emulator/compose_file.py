"""Reading a compose file the way ``docker compose`` would, for the parts the emulator runs.

Only what emulated containers need: services, their published ports, environment and named
volumes, after ``${VAR}`` interpolation from the ``.env`` Dokploy writes next to the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml


class ComposeError(ValueError):
    """The compose file cannot be run; the message is what ``docker compose`` would print."""


@dataclass(frozen=True)
class PortMapping:
    """One published port: ``host_ip:published -> target/protocol``."""

    published: int
    target: int
    protocol: str = "tcp"
    host_ip: str = ""


@dataclass(frozen=True)
class VolumeMount:
    """A named volume mounted at an absolute path inside the container."""

    name: str
    target: str


@dataclass(frozen=True)
class ServiceSpec:
    """What the runtime needs of one service."""

    name: str
    container_name: str | None
    ports: tuple[PortMapping, ...]
    environment: dict[str, str]
    volumes: tuple[VolumeMount, ...]


@dataclass(frozen=True)
class ComposeSpec:
    """A parsed compose project."""

    services: tuple[ServiceSpec, ...]
    volume_names: dict[str, str] = field(default_factory=dict)  # compose key -> engine name
    external_volumes: frozenset[str] = frozenset()  # compose keys not owned by the project


def parse_dotenv(text: str | None) -> dict[str, str]:
    """``KEY=VALUE`` lines (comments, blanks and ``export`` ignored; quotes stripped)."""
    values: dict[str, str] = {}
    for raw_line in (text or "").splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


_VAR = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


def interpolate(text: str, variables: dict[str, str]) -> str:
    """Compose-style ``$VAR``/``${VAR}``/``${VAR:-default}``/``${VAR:?error}`` substitution."""

    def replace(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("braced") or match.group("named")
        op, arg = match.group("op"), match.group("arg") or ""
        value = variables.get(name)
        if op in (":-", ":?") and not value:
            value = None
        if value is not None:
            return value
        if op in ("-", ":-"):
            return interpolate(arg, variables)
        if op in ("?", ":?"):
            raise ComposeError(f"required variable {name} is missing a value: {arg}")
        return ""

    return _VAR.sub(replace, text)


def _interpolate_tree(node: Any, variables: dict[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, variables)
    if isinstance(node, list):
        return [_interpolate_tree(item, variables) for item in node]
    if isinstance(node, dict):
        return {key: _interpolate_tree(value, variables) for key, value in node.items()}
    return node


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _environment(raw: Any, service: str) -> dict[str, str]:
    env: dict[str, str] = {}
    if raw is None:
        return env
    if isinstance(raw, dict):
        for key, value in raw.items():
            if value is not None:  # a bare key takes the (empty) host environment: unset
                env[str(key)] = _scalar(value)
        return env
    if isinstance(raw, list):
        for item in raw:
            key, sep, value = str(item).partition("=")
            if sep:
                env[key] = value
        return env
    raise ComposeError(f"services.{service}.environment must be a mapping or a list")


def _port(raw: Any, service: str) -> list[PortMapping]:
    if isinstance(raw, dict):
        if "target" not in raw:
            raise ComposeError(f"services.{service}.ports: target is required")
        published = raw.get("published")
        if published is None:
            return []
        return [
            PortMapping(
                int(str(published)),
                int(raw["target"]),
                str(raw.get("protocol", "tcp")),
                str(raw.get("host_ip", "")),
            )
        ]
    text = str(raw)
    spec, _, protocol = text.partition("/")
    parts = spec.rsplit(":", 2) if spec.count(":") <= 2 else [spec]
    try:
        if len(parts) == 1:
            return []  # container port only: Docker picks an ephemeral host port
        host_ip = parts[0] if len(parts) == 3 else ""
        published, target = parts[-2], parts[-1]
        if "-" in published or "-" in target:
            lo, _, hi = published.partition("-")
            tlo, _, thi = target.partition("-")
            hosts = range(int(lo), int(hi or lo) + 1)
            targets = range(int(tlo), int(thi or tlo) + 1)
            return [
                PortMapping(h, t, protocol or "tcp", host_ip)
                for h, t in zip(hosts, targets, strict=False)
            ]
        if not published:
            return []
        return [PortMapping(int(published), int(target), protocol or "tcp", host_ip)]
    except ValueError as exc:
        raise ComposeError(f"invalid port specification: {text!r}") from exc


def _volumes(raw: Any, service: str) -> list[VolumeMount]:
    mounts: list[VolumeMount] = []
    for item in raw or []:
        if isinstance(item, dict):
            if item.get("type", "volume") != "volume" or not item.get("source"):
                continue
            source, target = str(item["source"]), str(item.get("target", ""))
        else:
            source, _, rest = str(item).partition(":")
            target = rest.split(":")[0]
            if not rest:
                continue  # anonymous volume
        if source.startswith(("/", ".", "~")):
            continue  # host bind mount: not emulated
        if not target.startswith("/"):
            raise ComposeError(f"services.{service}.volumes: {target!r} is not an absolute path")
        mounts.append(VolumeMount(source, target))
    return mounts


class _ComposeLoader(yaml.SafeLoader):
    """YAML as Compose (Go yaml.v3, YAML 1.2) reads it: ``2222:22`` stays a string where
    PyYAML's YAML 1.1 rules make it the base-60 integer 133342, ``on``/``yes`` stay strings.
    (The provider has its own reader, ``dokploy_provider.yaml12``: the emulator is a separate
    program and imports nothing of the provider.)"""


_YAML11_ONLY = {"tag:yaml.org,2002:int", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:float"}
_ComposeLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _YAML11_ONLY]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_ComposeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_ComposeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789")
)
_ComposeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)(?:[eE][-+]?[0-9]+)?$"),
    list("-+.0123456789"),
)


def parse_compose(text: str, variables: dict[str, str], project: str) -> ComposeSpec:
    """Parse and interpolate a compose file; raise ComposeError like ``docker compose`` fails."""
    try:
        data = yaml.load(text, Loader=_ComposeLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ComposeError(f"yaml: {exc}") from exc
    if not isinstance(data, dict):
        raise ComposeError("Top-level object must be a mapping")
    data = _interpolate_tree(data, variables)
    services_raw = data.get("services")
    if not isinstance(services_raw, dict) or not services_raw:
        raise ComposeError("no service selected")
    declared = data.get("volumes") or {}
    if not isinstance(declared, dict):
        raise ComposeError("volumes must be a mapping")
    volume_names: dict[str, str] = {}
    external_keys: set[str] = set()
    for key, raw_conf in declared.items():
        conf = raw_conf or {}
        external = isinstance(conf, dict) and bool(conf.get("external"))
        explicit = conf.get("name") if isinstance(conf, dict) else None
        volume_names[str(key)] = str(explicit or (key if external else f"{project}_{key}"))
        if external:
            external_keys.add(str(key))
    services: list[ServiceSpec] = []
    for name, raw_service in services_raw.items():
        conf = raw_service or {}
        if not isinstance(conf, dict):
            raise ComposeError(f"services.{name} must be a mapping")
        ports: list[PortMapping] = []
        for port in conf.get("ports") or []:
            ports.extend(_port(port, str(name)))
        volumes = _volumes(conf.get("volumes"), str(name))
        for volume in volumes:
            if volume.name not in volume_names:
                raise ComposeError(
                    f'service "{name}" refers to undefined volume {volume.name}: '
                    "invalid compose project"
                )
        services.append(
            ServiceSpec(
                name=str(name),
                container_name=str(conf["container_name"]) if conf.get("container_name") else None,
                ports=tuple(ports),
                environment=_environment(conf.get("environment"), str(name)),
                volumes=tuple(volumes),
            )
        )
    return ComposeSpec(
        services=tuple(services),
        volume_names=volume_names,
        external_volumes=frozenset(external_keys),
    )
