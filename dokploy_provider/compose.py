"""The workspace's compose file and boot script, as ``create`` sends them to Dokploy.

Dokploy runs the file with plain ``docker compose -p <appName> up -d --build`` and leaves
``ports``, ``privileged``, ``volumes``, ``restart`` and ``entrypoint`` alone (dokploy-api.md
§1.6), so what is rendered here is what runs. Design choices:

* sshd and curl are baked into an image built once per server from ``WORKSPACE_IMAGE``,
  tagged by a hash of its recipe: later workspaces and restarts reuse it, nothing installs
  at boot.
* Named volumes only (Dokploy wipes the compose's ``code`` folder on every deploy), for the
  inner Docker's data and for DevPod's agent and workspace data.
* The pinned host key and the authorized client key arrive as environment variables.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

import yaml

from dokploy_provider.options import Settings, parse_memory

SERVICE_NAME = "workspace"
SSH_CONTAINER_PORT = 22
DEVPOD_DATA_DIR = "/var/lib/devpod"
MARKER_PREFIX = "[dokploy-provider machine="
ENV_AUTHORIZED_KEY = "DEVPOD_SSH_AUTHORIZED_KEY"
ENV_HOST_KEY = "DEVPOD_SSH_HOST_KEY"
ENV_MACHINE_ID = "DEVPOD_MACHINE_ID"

#: Installed once into the image, never at boot.
IMAGE_PACKAGES = ("openssh-server", "curl", "ca-certificates", "procps")

DOCKERFILE_TEMPLATE = """\
FROM {base_image}
RUN set -eux; \\
    export DEBIAN_FRONTEND=noninteractive; \\
    apt-get update; \\
    apt-get install -y --no-install-recommends {packages}; \\
    rm -rf /var/lib/apt/lists/*; \\
    rm -f /etc/ssh/ssh_host_*; \\
    mkdir -p /run/sshd {data_dir}
"""

# The boot script runs as the container's command under `init: true` (tini is PID 1 and reaps).
# `$` must be doubled in the compose file: compose would interpolate it otherwise.
BOOT_SCRIPT = """\
#!/bin/sh
# dokploy-provider workspace boot: pinned host key, key-only sshd, own dockerd.
set -eu
umask 077
mkdir -p /root/.ssh /etc/ssh/devpod {data_dir}
printf '%s\\n' "$DEVPOD_SSH_AUTHORIZED_KEY" > /root/.ssh/authorized_keys
printf '%s' "$DEVPOD_SSH_HOST_KEY" | base64 -d > /etc/ssh/devpod/ssh_host_ed25519_key
unset DEVPOD_SSH_HOST_KEY
cat > /etc/ssh/devpod/sshd_config <<'EOF'
Port 22
HostKey /etc/ssh/devpod/ssh_host_ed25519_key
AuthorizedKeysFile .ssh/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
X11Forwarding no
PrintMotd no
PrintLastLog no
Banner none
ClientAliveInterval 30
Subsystem sftp internal-sftp
EOF
if command -v dockerd >/dev/null 2>&1 && ! [ -S /var/run/docker.sock ]; then
  (dockerd >/var/log/dockerd.log 2>&1 &)
fi
exec /usr/sbin/sshd -D -e -f /etc/ssh/devpod/sshd_config
"""


_MARKER = re.compile(r"\[dokploy-provider machine=([a-z0-9-]+)(?: owner=([0-9a-f]+))?\]")


@dataclass(frozen=True)
class Marker:
    """Who owns a compose: the DevPod machine, and the DevPod installation that created it."""

    machine_id: str
    owner: str | None


def marker(machine_id: str, owner: str) -> str:
    """The token in a compose's description that says which DevPod machine owns it."""
    return f"{MARKER_PREFIX}{machine_id} owner={owner}]"


def description(machine_id: str, owner: str) -> str:
    """The compose description: readable in Dokploy's UI, and carrying the ownership marker."""
    return f"DevPod workspace {machine_id}, managed by dokploy-provider {marker(machine_id, owner)}"


def parse_marker(description_text: str | None) -> Marker | None:
    """The marker in a compose description, or ``None`` if it has none."""
    match = _MARKER.search(description_text or "")
    return Marker(match.group(1), match.group(2)) if match else None


def owner_of(description_text: str | None) -> str | None:
    """The machine id in a compose description's marker, or ``None`` if it has none."""
    found = parse_marker(description_text)
    return found.machine_id if found else None


@dataclass(frozen=True)
class WorkspaceSpec:
    """Everything that varies between workspaces."""

    machine_id: str
    ssh_port: int
    authorized_key: str
    host_key_b64: str


def dockerfile(settings: Settings) -> str:
    """The inline Dockerfile that bakes sshd and curl into the base image."""
    return DOCKERFILE_TEMPLATE.format(
        base_image=settings.workspace_image,
        packages=" ".join(IMAGE_PACKAGES),
        data_dir=DEVPOD_DATA_DIR,
    )


def image_tag(settings: Settings) -> str:
    """A tag that changes exactly when the image recipe does, so servers reuse builds."""
    digest = hashlib.sha256(dockerfile(settings).encode("utf-8")).hexdigest()[:12]
    return f"dokploy-provider-workspace:{digest}"


def boot_script() -> str:
    """The script the container runs at every start."""
    return BOOT_SCRIPT.format(data_dir=DEVPOD_DATA_DIR)


def render(settings: Settings, spec: WorkspaceSpec) -> str:
    """The compose file for one workspace, as YAML text."""
    service: dict[str, Any] = {
        "image": image_tag(settings),
        "build": {"context": ".", "dockerfile_inline": dockerfile(settings)},
        "privileged": True,
        "init": True,
        "restart": "on-failure",
        "hostname": f"devpod-{spec.machine_id}",
        "entrypoint": ["/bin/sh", "-c", boot_script().replace("$", "$$")],
        "ports": [f"{spec.ssh_port}:{SSH_CONTAINER_PORT}"],
        "environment": {
            ENV_MACHINE_ID: spec.machine_id,
            ENV_AUTHORIZED_KEY: spec.authorized_key,
            ENV_HOST_KEY: spec.host_key_b64,
        },
        "volumes": ["docker-data:/var/lib/docker", f"devpod-data:{DEVPOD_DATA_DIR}"],
        "labels": {
            "dev.devpod.machine-id": spec.machine_id,
            "dev.devpod.managed-by": "dokploy-provider",
        },
    }
    service.update(_resources(settings))
    document = {
        "services": {SERVICE_NAME: service},
        "volumes": {"docker-data": {}, "devpod-data": {}},
    }
    return yaml.safe_dump(document, sort_keys=False, width=1000)


def _resources(settings: Settings) -> dict[str, Any]:
    limits: dict[str, Any] = {}
    if settings.workspace_cpus:
        limits["cpus"] = float(settings.workspace_cpus)
    if settings.workspace_memory:
        limits["mem_limit"] = parse_memory(settings.workspace_memory)
    gpu = settings.workspace_gpu
    if gpu != "none":
        device: dict[str, Any] = {"driver": "nvidia", "capabilities": ["gpu"]}
        device["count"] = "all" if gpu == "all" else int(gpu)
        limits["deploy"] = {"resources": {"reservations": {"devices": [device]}}}
    return limits


def mask_secrets(compose_text: str) -> str:
    """The compose text with the private host key replaced, for ``plan`` and logs."""
    lines = []
    for line in compose_text.splitlines():
        if line.strip().startswith(f"{ENV_HOST_KEY}:"):
            indent = line[: len(line) - len(line.lstrip())]
            lines.append(f"{indent}{ENV_HOST_KEY}: '***'")
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"
