"""Dokploy version modes: which API behaviours a given version number switches on."""

from __future__ import annotations

import re
from dataclasses import dataclass

MIN_VERSION = (0, 22, 7)
MAX_MINOR = (0, 30)
DEFAULT_VERSION = "v0.30.2"


class VersionError(ValueError):
    """The requested version is not one the emulator can imitate."""


def parse_version(text: str) -> tuple[int, int, int]:
    """``"v0.26.1"`` (or ``"0.26.1"``) → ``(0, 26, 1)``; VersionError outside 0.22.7..0.30.x."""
    match = re.fullmatch(r"v?(\d+)\.(\d+)\.(\d+)", text.strip())
    if not match:
        raise VersionError(f"not a version: {text!r} (expected vX.Y.Z)")
    parsed = (int(match.group(1)), int(match.group(2)), int(match.group(3)))
    if parsed < MIN_VERSION or parsed[:2] > MAX_MINOR:
        raise VersionError(
            f"unsupported Dokploy version {text!r}: emulated range is v0.22.7..v0.30.x"
        )
    return parsed


@dataclass(frozen=True)
class Features:
    """Feature switches derived from a Dokploy version (boundaries from the API notes)."""

    version: str
    environments: bool
    deploy_body: str  # "empty" (<=0.25), "message" (0.26), "full" (>=0.27)
    health_ok: bool
    trpc_v11: bool
    project_all_summary: bool
    compose_search: bool
    project_one_summary: bool
    read_logs: bool
    kill_build: bool
    deleted_compose_has_no_deployments: bool
    update_unknown_empty: bool
    delete_downs_without_dir: bool
    create_source_type: bool
    libsql: bool
    env_is_default: bool
    remote_servers_only: bool
    login_shell_stderr_fails_deploys: bool

    @classmethod
    def for_version(cls, text: str) -> Features:
        """Features of the given version string."""
        v = parse_version(text)
        if v < (0, 26, 0):
            deploy_body = "empty"
        elif v < (0, 27, 0):
            deploy_body = "message"
        else:
            deploy_body = "full"
        return cls(
            version=f"v{v[0]}.{v[1]}.{v[2]}",
            environments=v >= (0, 25, 0),
            deploy_body=deploy_body,
            health_ok=v >= (0, 27, 0),
            trpc_v11=v >= (0, 28, 0),
            project_all_summary=v >= (0, 28, 3),
            compose_search=v >= (0, 28, 3),
            project_one_summary=v >= (0, 29, 14),
            read_logs=v >= (0, 29, 5),
            kill_build=v >= (0, 25, 8),
            deleted_compose_has_no_deployments=v >= (0, 28, 7),
            update_unknown_empty=v >= (0, 28, 7),
            delete_downs_without_dir=v >= (0, 29, 0),
            create_source_type=v >= (0, 30, 0),
            libsql=v >= (0, 30, 0),
            env_is_default=v >= (0, 26, 1),
            remote_servers_only=v >= (0, 29, 6),
            login_shell_stderr_fails_deploys=(0, 28, 2) <= v < (0, 29, 14),
        )
