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
* The boot script owns the container's life: it starts dockerd, waits for it, starts sshd,
  and on SIGTERM stops them and exits 0. ``restart: on-failure`` therefore leaves a workspace
  stopped by ``docker compose stop`` or by DevPod's auto-stop (``kill 1``) stopped, and only
  restarts one whose sshd crashed.
* DevPod's agent owns its inactivity daemon (see :data:`INIT_FUNCTIONS`); the boot script
  only lets the agent's own service script work without an init system, and runs that script
  again after a restart.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import yaml

from dokploy_provider.marker import MARKER_PREFIX
from dokploy_provider.options import Settings, parse_memory

SERVICE_NAME = "workspace"
SSH_CONTAINER_PORT = 22
DEVPOD_DATA_DIR = "/var/lib/devpod"
#: DevPod's ``agent.dataPath`` in provider.yaml; the inactivity daemon watches it.
AGENT_DATA_DIR = f"{DEVPOD_DATA_DIR}/agent"
ENV_AUTHORIZED_KEY = "DEVPOD_SSH_AUTHORIZED_KEY"
ENV_HOST_KEY = "DEVPOD_SSH_HOST_KEY"
ENV_MACHINE_ID = "DEVPOD_MACHINE_ID"
#: What `plan` shows instead of the private host key.
MASKED = "***"
DOCKER_VOLUME = "docker-data"
DEVPOD_VOLUME = "devpod-data"
#: What ``agent.exec.shutdown`` runs: SIGTERM to PID 1 (tini), which the boot script turns
#: into a clean stop with exit code 0.
SHUTDOWN_COMMAND = "kill -TERM 1"
#: compose.stop and auto-stop let the inner dockerd stop its containers first.
STOP_GRACE_PERIOD = "40s"
#: A boot that keeps failing ends as ``exited`` (Stopped) instead of restarting for ever.
RESTART_POLICY = "on-failure:3"

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

#: The inner dockerd's configuration: the image's ``/etc/docker/daemon.json`` as it was on the
#: container's first boot (see the boot script for why not that file itself).
INNER_DOCKERD_CONFIG = "/etc/docker/dokploy-provider-daemon.json"
#: Service scripts that DevPod's agent (``devpod``) or Devsy's (``devsy``) installs for its
#: inactivity daemon when there is no systemd (takama/daemon's SysV template).
AGENT_SERVICES = ("devpod", "devsy")
#: Where the boot script keeps a copy of those scripts, on the persistent volume, so that a
#: recreated container (Dokploy's nightly prune, a redeploy) gets them back.
SAVED_SERVICES_DIR = f"{DEVPOD_DATA_DIR}/.services"

#: The three helpers of RHEL's ``/etc/rc.d/init.d/functions`` that DevPod's SysV service
#: script sources and calls. Debian and Ubuntu have no such file, so there ``status`` fails,
#: the agent's "already running?" check is always "no", ``start`` finds the pid file of the
#: running daemon and exits 7 ("Error starting service: exit status 7"), and the agent falls
#: back to starting a second daemon. With these, the script answers truthfully: one daemon,
#: started once, and a ``devpod up`` after a restart sees it running.
INIT_FUNCTIONS = """\
# dokploy-provider: what DevPod's SysV service script needs of RHEL's init functions.
success() { return 0; }
failure() { return 1; }
_pidfile_arg() { if [ "${1:-}" = "-p" ]; then echo "$2"; fi; }
status() {
  pidfile=$(_pidfile_arg "$@"); [ "${1:-}" = "-p" ] && shift 2
  pid=$(cat "$pidfile" 2>/dev/null || true)
  if [ -n "$pid" ] && [ -d "/proc/$pid" ]; then echo "$1 (pid  $pid) is running..."; return 0; fi
  echo "$1 is stopped"; return 3
}
killproc() {
  pidfile=$(_pidfile_arg "$@")
  pid=$(cat "$pidfile" 2>/dev/null || true)
  [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
  rm -f "$pidfile"
}
"""

# The boot script runs as the container's command under `init: true` (tini is PID 1, reaps,
# and forwards SIGTERM to this script). `$` must be doubled in the compose file: compose
# would interpolate it otherwise.
BOOT_SCRIPT = """\
#!/bin/sh
# dokploy-provider workspace boot: pinned host key, key-only sshd, own dockerd.
set -eu
log() {{ echo "workspace-boot: $*" >&2; }}
dockerd_pid= sshd_pid=
# SIGTERM (compose.stop, or `kill 1` from DevPod's auto-stop via tini) is a clean stop and
# exits 0, which `restart: on-failure` leaves stopped; dockerd gets to stop its containers.
stop_workspace() {{
  trap '' TERM INT
  log "stopping"
  kill -TERM $sshd_pid 2>/dev/null || true
  save_agent_services
  if [ -n "$dockerd_pid" ]; then
    kill -TERM "$dockerd_pid" 2>/dev/null || true
    wait "$dockerd_pid" 2>/dev/null || true
  fi
  exit 0
}}
trap stop_workspace TERM INT
save_agent_services() {{
  mkdir -p {saved_services}
  for name in {services}; do
    if [ -f "/etc/init.d/$name" ]; then cp "/etc/init.d/$name" {saved_services}/; fi
  done
}}

(
  umask 077
  mkdir -p /root/.ssh /etc/ssh/devpod
  printf '%s\\n' "$DEVPOD_SSH_AUTHORIZED_KEY" > /root/.ssh/authorized_keys
  printf '%s' "$DEVPOD_SSH_HOST_KEY" | base64 -d > /etc/ssh/devpod/ssh_host_ed25519_key
)
unset DEVPOD_SSH_HOST_KEY
# Without PAM, sshd refuses every login of a '!'-locked account, keys included.
sed -i 's/^root:!/root:*/' /etc/shadow
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
mkdir -p /run/sshd {data_dir}

# Pid files and sockets left by this container's previous run name processes that no
# longer exist (or, worse, unrelated ones with a reused pid): dockerd would refuse to start.
rm -rf /var/run/docker.pid /var/run/docker.sock /var/run/docker /run/containerd /tmp/daemon.pid
for name in {services}; do
  rm -f "/var/run/$name.pid" "/var/lock/subsys/$name"
  if [ ! -e "/etc/init.d/$name" ] && [ -f "{saved_services}/$name" ]; then
    mkdir -p /etc/init.d && cp "{saved_services}/$name" /etc/init.d/
  fi
done
if [ ! -e /etc/rc.d/init.d/functions ]; then
  mkdir -p /etc/rc.d/init.d
  cat > /etc/rc.d/init.d/functions <<'EOF'
{init_functions}EOF
fi

# dockerd reads a copy of the image's daemon.json taken on this container's first boot. The
# agents of DevPod's successors merge `containerd-snapshotter` into /etc/docker/daemon.json and
# SIGHUP dockerd even with agent.local "false"; reading our copy, dockerd reloads unchanged
# instead of moving every inner image to another store at the next restart.
if [ ! -f {daemon_config} ]; then
  mkdir -p /etc/docker
  cp /etc/docker/daemon.json {daemon_config} 2>/dev/null || echo '{{}}' > {daemon_config}
fi
dockerd --config-file {daemon_config} >>/var/log/dockerd.log 2>&1 &
dockerd_pid=$!
# sshd waits for dockerd: DevPod's agent uses Docker as soon as SSH answers.
tries=0
until curl -sf --unix-socket /var/run/docker.sock http://localhost/_ping >/dev/null 2>&1; do
  tries=$((tries + 1))
  if [ "$tries" -ge 600 ] || ! kill -0 "$dockerd_pid" 2>/dev/null; then
    log "dockerd is not answering; see /var/log/dockerd.log"
    break
  fi
  sleep 0.1
done

/usr/sbin/sshd -D -e -f /etc/ssh/devpod/sshd_config &
sshd_pid=$!

# DevPod's agent installed its inactivity daemon as a service on an earlier `devpod up`; after
# a restart nothing else starts it. Its script carries the agent's own subcommand, agent dir
# and interval, and its status check (see the functions above) keeps it to one daemon.
for name in {services}; do
  if [ -x "/etc/init.d/$name" ]; then
    "/etc/init.d/$name" start >/dev/null 2>&1 || log "could not start the $name service"
  fi
done

set +e
wait "$sshd_pid"
status=$?
log "sshd exited ($status)"
kill -TERM "$dockerd_pid" 2>/dev/null
wait "$dockerd_pid" 2>/dev/null
exit 1
"""


def marker(machine_id: str, owner: str) -> str:
    """The token in a compose's description that says which DevPod machine owns it."""
    return f"{MARKER_PREFIX}{machine_id} owner={owner}]"


def description(machine_id: str, owner: str) -> str:
    """The compose description: readable in Dokploy's UI, and carrying the ownership marker."""
    return f"DevPod workspace {machine_id}, managed by dokploy-provider {marker(machine_id, owner)}"


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
    """The script the container runs at every start (the same for every workspace)."""
    return BOOT_SCRIPT.format(
        data_dir=DEVPOD_DATA_DIR,
        services=" ".join(AGENT_SERVICES),
        saved_services=SAVED_SERVICES_DIR,
        init_functions=INIT_FUNCTIONS,
        daemon_config=INNER_DOCKERD_CONFIG,
    )


def container_hostname(machine_id: str) -> str:
    """The workspace container's host name: ``devpod-<machine id>``, unless that would make
    DevPod take the workspace for ARM.

    DevPod's agent injection decides the architecture with ``case "$(uname -a)" in *arm*|
    *aarch*``, and ``uname -a`` includes the host name: a machine called ``warm`` or ``swarm``
    would get the arm64 agent and never come up. Such machines get a hex digest instead, which
    cannot spell either word.
    """
    name = f"devpod-{machine_id}"
    if "arm" in name.lower() or "aarch" in name.lower():
        return f"devpod-{hashlib.sha256(machine_id.encode()).hexdigest()[:12]}"
    return name


def render(settings: Settings, spec: WorkspaceSpec) -> str:
    """The compose file for one workspace, as YAML text."""
    service: dict[str, Any] = {
        "image": image_tag(settings),
        "build": {"context": ".", "dockerfile_inline": dockerfile(settings)},
        "privileged": True,
        "init": True,
        "restart": RESTART_POLICY,
        "stop_grace_period": STOP_GRACE_PERIOD,
        "hostname": container_hostname(spec.machine_id),
        "entrypoint": ["/bin/sh", "-c", boot_script().replace("$", "$$")],
        "ports": [f"{spec.ssh_port}:{SSH_CONTAINER_PORT}"],
        "environment": {
            ENV_MACHINE_ID: spec.machine_id,
            ENV_AUTHORIZED_KEY: spec.authorized_key,
            ENV_HOST_KEY: spec.host_key_b64,
        },
        "volumes": [f"{DOCKER_VOLUME}:/var/lib/docker", f"{DEVPOD_VOLUME}:{DEVPOD_DATA_DIR}"],
        "labels": {
            "dev.devpod.machine-id": spec.machine_id,
            "dev.devpod.managed-by": "dokploy-provider",
        },
    }
    service.update(_resources(settings))
    document = {
        "services": {SERVICE_NAME: service},
        "volumes": {DOCKER_VOLUME: {}, DEVPOD_VOLUME: {}},
    }
    return yaml.dump(document, Dumper=_BlockDumper, sort_keys=False, width=1000)


class _BlockDumper(yaml.SafeDumper):
    """Writes multi-line strings (the Dockerfile, the boot script) as readable ``|`` blocks."""


def plan_text(settings: Settings, machine_id: str, ssh_port: int) -> str:
    """What ``plan`` prints: the compose file a create would send and its boot script,
    with the keys a create makes shown as placeholders."""
    text = render(
        settings,
        WorkspaceSpec(
            machine_id=machine_id,
            ssh_port=ssh_port,
            authorized_key="ssh-ed25519 <the machine's client key, made by create>",
            host_key_b64=MASKED,
        ),
    )
    return (
        "# docker-compose.yml sent to Dokploy\n"
        + text
        + "\n# boot script (the service's entrypoint)\n"
        + boot_script()
    )


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_BlockDumper.add_representer(str, _represent_str)


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
