"""Every fault and bad input ends in a clear message and a deliberate exit code, and leaves
nothing behind: one table, one row per fault, all run with DEVPOD_DEBUG=true."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from e2e.conftest import (
    DevPod,
    EmulatorProcess,
    assert_no_private_keys,
    private_key_fragments,
    start_emulator,
    stop_emulator,
)
from support.ports import free_port

from dokploy_provider.keys import generate_keypair


@dataclass
class Ctx:
    """What a row's setup can reach."""

    devpod: DevPod
    emu: EmulatorProcess

    @property
    def folder(self) -> Path:
        return self.devpod.machine_folder("ws1")

    def state(self) -> dict:
        return json.loads((self.folder / "dokploy-machine.json").read_text())

    def write_state(self, **changes: object) -> None:
        state = self.state()
        state.update(changes)
        (self.folder / "dokploy-machine.json").write_text(json.dumps(state))

    def create(self, machine: str = "ws1") -> None:
        result = self.devpod.run("create", machine)
        assert result.returncode == 0, result.err

    def faults(self, **faults: object) -> None:
        self.emu.admin("faults", faults)

    def api_post(self, procedure: str, body: dict) -> None:
        httpx.post(
            f"{self.emu.url}/api/{procedure}", headers={"x-api-key": self.emu.token}, json=body
        ).raise_for_status()


@dataclass
class Row:
    """One fault: what is done, what the user sees, and what must be true afterwards."""

    name: str
    verb: str
    exit_code: int
    message: str
    options: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    setup: Callable[[Ctx], None] | None = None
    options_from: Callable[[EmulatorProcess], dict[str, str]] | None = None
    machine: str | None = "ws1"
    stdout: str = ""
    after: tuple[str, ...] = ("no_stray_compose",)
    #: project.remove only deletes database rows in Dokploy: its containers keep running.
    leaves_containers: bool = False
    #: The Dokploy version the row needs (its own emulator), and remote servers to give it.
    version: str | None = None
    remote_servers: tuple[str, ...] = ()


def _created(ctx: Ctx) -> None:
    ctx.create()


def _created_then(fn: Callable[[Ctx], None]) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        ctx.create()
        fn(ctx)

    return setup


def _state_text(text: str) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        ctx.folder.mkdir(parents=True, exist_ok=True)
        (ctx.folder / "dokploy-machine.json").write_text(text)

    return setup


def _other_pinned_host_key(ctx: Ctx) -> None:
    other = generate_keypair("impostor")
    ctx.write_state(host_key_public=other.public_line, host_key_fingerprint=other.fingerprint)


def _other_workspace_port(ctx: Ctx) -> None:
    ctx.create("ws2")
    other = json.loads((ctx.devpod.machine_folder("ws2") / "dokploy-machine.json").read_text())
    ctx.write_state(ssh_port=other["ssh_port"])


def _replace_client_key(ctx: Ctx) -> None:
    (ctx.folder / "id_ed25519").write_bytes(generate_keypair("stranger").private_openssh)


DISK_FULL = "write /var/lib/docker: no space left on device"
NOT_AUTHORIZED = "You are not authorized to access this compose"


def _delete_compose_behind_our_back(ctx: Ctx) -> None:
    ctx.api_post("compose.delete", {"composeId": ctx.state()["compose_id"], "deleteVolumes": True})


def _single_port_taken(ctx: Ctx) -> None:
    ctx.create("other")


def _the_only_port_and_environment(ctx: Ctx) -> tuple[int, str]:
    """After a first workspace made (and deleted) the project: the range's one port and the
    environment's id."""
    ctx.create("first")
    assert ctx.devpod.run("delete", "first").returncode == 0
    (port,) = {int(p) for p in ctx.devpod.options["DOKPLOY_SSH_PORT_RANGE"].split("-")}
    return port, ctx.emu.admin("state")["environments"][0]["environmentId"]


def _colleague_publishes_the_port(*, git: bool) -> Callable[[Ctx], None]:
    """A compose that is not ours publishes the only port of the range, unquoted (YAML 1.2
    reads a string, YAML 1.1 a base-60 integer): in its raw file, or in its Git clone."""

    def setup(ctx: Ctx) -> None:
        port, env_id = _the_only_port_and_environment(ctx)
        created = httpx.post(
            f"{ctx.emu.url}/api/compose.create",
            headers={"x-api-key": ctx.emu.token},
            json={"name": "other", "environmentId": env_id},
        ).json()
        text = f"services:\n  ssh:\n    image: x\n    ports:\n      - {port}:22\n"
        if git:
            ctx.api_post(
                "compose.update",
                {"composeId": created["composeId"], "sourceType": "git", "composeFile": ""},
            )
            ctx.emu.admin("clone", {"composeId": created["composeId"], "composeFile": text})
        else:
            ctx.api_post(
                "compose.update",
                {"composeId": created["composeId"], "sourceType": "raw", "composeFile": text},
            )

    return setup


def _database_publishes_the_port(ctx: Ctx) -> None:
    """A Postgres made in Dokploy's UI with external access on the only port of the range
    (nothing binds it here: only Dokploy's rows say it is taken)."""
    port, env_id = _the_only_port_and_environment(ctx)
    ctx.emu.admin("service", {"kind": "postgres", "environmentId": env_id, "externalPort": port})


def _first_server(emu: EmulatorProcess) -> dict[str, str]:
    return {"DOKPLOY_SERVER_ID": emu.api("server.all")[0]["serverId"]}


ROWS = [
    # -- options ---------------------------------------------------------------------------
    Row(
        "missing-url",
        "init",
        2,
        "DOKPLOY_SERVER_URL is required",
        options={"DOKPLOY_SERVER_URL": ""},
        machine=None,
        after=(),
    ),
    Row(
        "empty-token",
        "create",
        2,
        "DOKPLOY_API_TOKEN is required",
        options={"DOKPLOY_API_TOKEN": ""},
        after=("no_stray_compose", "no_state"),
    ),
    Row(
        "malformed-url",
        "init",
        2,
        "DOKPLOY_SERVER_URL",
        options={"DOKPLOY_SERVER_URL": "ftp://dokploy.example.com"},
        machine=None,
        after=(),
    ),
    Row(
        "url-trailing-slash",
        "init",
        0,
        "",
        options_from=lambda emu: {"DOKPLOY_SERVER_URL": emu.url + "/"},
        machine=None,
        after=(),
    ),
    Row(
        "url-pasted-api-suffix",
        "init",
        0,
        "",
        options_from=lambda emu: {"DOKPLOY_SERVER_URL": emu.url + "/api/"},
        machine=None,
        after=(),
    ),
    Row(
        "url-wrong-path-prefix",
        "init",
        5,
        "answers Dokploy's API",
        options_from=lambda emu: {"DOKPLOY_SERVER_URL": emu.url + "/dokploy"},
        machine=None,
        after=(),
    ),
    Row(
        "port-range-malformed",
        "create",
        2,
        "DOKPLOY_SSH_PORT_RANGE",
        options={"DOKPLOY_SSH_PORT_RANGE": "22-x"},
        after=("no_stray_compose", "no_state"),
    ),
    Row(
        "port-range-reversed",
        "init",
        2,
        "reversed",
        options={"DOKPLOY_SSH_PORT_RANGE": "2250-2222"},
        machine=None,
        after=(),
    ),
    Row(
        "port-range-outside",
        "init",
        2,
        "outside 1-65535",
        options={"DOKPLOY_SSH_PORT_RANGE": "0-70000"},
        machine=None,
        after=(),
    ),
    Row(
        "port-range-exhausted",
        "create",
        10,
        "DOKPLOY_SSH_PORT_RANGE",
        options_from=lambda emu: {"DOKPLOY_SSH_PORT_RANGE": str(free_port())},
        setup=_single_port_taken,
        after=("only_other_compose", "no_state"),
    ),
    Row(
        "size-malformed",
        "create",
        2,
        "WORKSPACE_MEMORY",
        options={"WORKSPACE_MEMORY": "lots"},
        after=("no_stray_compose", "no_state"),
    ),
    Row(
        "size-impossible",
        "create",
        2,
        "at most 512",
        options={"WORKSPACE_CPUS": "100000"},
        after=("no_stray_compose", "no_state"),
    ),
    Row(
        "unknown-server-id",
        "create",
        2,
        "not one of Dokploy's deploy servers",
        options={"DOKPLOY_SERVER_ID": "nope"},
        after=("no_stray_compose", "no_state"),
    ),
    Row(
        "machine-id-invalid",
        "create",
        2,
        "MACHINE_ID 'Bad_Id' is invalid",
        env={"MACHINE_ID": "Bad_Id"},
        after=("no_stray_compose",),
    ),
    Row(
        "machine-id-too-long",
        "create",
        2,
        "63-character appName",
        env={"MACHINE_ID": "w" * 60},
        after=("no_stray_compose",),
    ),
    Row(
        "machine-folder-unset",
        "status",
        2,
        "MACHINE_FOLDER is not set",
        env={"MACHINE_FOLDER": ""},
        after=(),
    ),
    Row(
        "machine-folder-is-a-file",
        "create",
        8,
        "cannot create machine folder",
        env={"MACHINE_FOLDER": "/etc/hostname/machine"},
        after=("no_stray_compose",),
    ),
    Row(
        "state-corrupt",
        "status",
        8,
        "is corrupt",
        setup=_state_text("{not json"),
        after=("state_intact",),
    ),
    Row(
        "state-half-written",
        "create",
        8,
        "is corrupt",
        setup=_state_text('{"schema": 1, "machine_id": "ws1", "compose_'),
        after=("state_intact", "no_stray_compose"),
    ),
    # -- network and server ----------------------------------------------------------------
    Row(
        "connection-refused",
        "init",
        3,
        "connection refused",
        options_from=lambda emu: {"DOKPLOY_SERVER_URL": f"http://127.0.0.1:{free_port()}"},
        machine=None,
        after=(),
    ),
    Row(
        "dns-failure",
        "init",
        3,
        "resolve",
        options={"DOKPLOY_SERVER_URL": "http://dokploy.invalid:3000"},
        machine=None,
        after=(),
    ),
    Row(
        "tls-failure",
        "init",
        3,
        "TLS",
        options_from=lambda emu: {"DOKPLOY_SERVER_URL": emu.url.replace("http://", "https://")},
        machine=None,
        after=(),
    ),
    Row(
        "read-timeout",
        "status",
        3,
        "no response",
        options={"DOKPLOY_HTTP_TIMEOUT": "1s"},
        setup=_created_then(lambda ctx: ctx.faults(delay_ms=2500)),
        after=("state_intact",),
    ),
    Row(
        "slow-server",
        "status",
        0,
        "",
        stdout="Running",
        options={"DOKPLOY_HTTP_TIMEOUT": "5s"},
        setup=_created_then(lambda ctx: ctx.faults(delay_ms=300)),
        after=("state_intact",),
    ),
    Row(
        "500-once-is-retried",
        "status",
        0,
        "",
        stdout="Running",
        setup=_created_then(lambda ctx: ctx.faults(http_500=1)),
        after=("state_intact",),
    ),
    Row(
        "500-always",
        "status",
        1,
        "Internal server error",
        setup=_created_then(lambda ctx: ctx.faults(http_500=100)),
        after=("state_intact",),
    ),
    Row(
        "rejected-key",
        "status",
        4,
        "rejected the API key",
        setup=_created_then(lambda ctx: ctx.faults(revoke_key=True)),
        after=("state_intact",),
    ),
    Row(
        "permission-denied",
        "status",
        4,
        "You are not authorized to access this compose",
        setup=_created_then(lambda ctx: ctx.faults(forbid=NOT_AUTHORIZED)),
        after=("state_intact",),
    ),
    Row(
        "permission-denied-on-create",
        "create",
        4,
        "You need to use a server to create a compose",
        setup=lambda ctx: ctx.faults(forbid="You need to use a server to create a compose"),
        after=("no_stray_compose", "no_state"),
    ),
    Row(
        "unsupported-version",
        "init",
        6,
        "needs v0.22.7 or newer",
        setup=lambda ctx: ctx.faults(report_version="v0.21.0"),
        machine=None,
        after=(),
    ),
    Row(
        "unsupported-version-on-create",
        "create",
        6,
        "needs v0.22.7 or newer",
        setup=lambda ctx: ctx.faults(report_version="v0.18.3"),
        after=("no_stray_compose", "no_state"),
    ),
    Row(
        "project-deleted-behind-our-back",
        "status",
        0,
        "",
        stdout="NotFound",
        setup=_created_then(
            lambda ctx: ctx.api_post("project.remove", {"projectId": ctx.state()["project_id"]})
        ),
        after=("state_intact",),
        leaves_containers=True,
    ),
    Row(
        "compose-deleted-then-start",
        "start",
        5,
        "no longer exists on Dokploy",
        setup=_created_then(
            lambda ctx: ctx.api_post(
                "compose.delete", {"composeId": ctx.state()["compose_id"], "deleteVolumes": True}
            )
        ),
        after=("state_intact", "no_stray_compose"),
    ),
    Row(
        "empty-container-list-running",
        "status",
        0,
        "",
        stdout="Running",
        setup=_created_then(lambda ctx: ctx.faults(empty_containers=True)),
        after=("state_intact",),
    ),
    Row(
        "empty-container-list-stopped",
        "status",
        0,
        "",
        stdout="Stopped",
        setup=_created_then(
            lambda ctx: (ctx.devpod.run("stop"), ctx.faults(empty_containers=True))[1]
        ),
        after=("state_intact",),
    ),
    # -- deploys ---------------------------------------------------------------------------
    Row(
        "deploy-error-shows-log-tail",
        "create",
        7,
        "no space left on device",
        setup=lambda ctx: ctx.faults(
            fail_next_deploys=1, deploy_error="write /var/lib/docker: no space left on device"
        ),
        after=("no_stray_compose", "no_state"),
    ),
    Row(
        "deploy-stuck-is-bounded",
        "create",
        9,
        "did not finish within DOKPLOY_DEPLOY_TIMEOUT",
        options={"DOKPLOY_DEPLOY_TIMEOUT": "2s"},
        setup=lambda ctx: ctx.faults(stuck_deploys=1),
        after=("no_stray_compose", "no_state"),
    ),
    Row(
        "container-exits-after-start",
        "create",
        9,
        "container is not running",
        options={"DOKPLOY_READY_TIMEOUT": "3s"},
        setup=lambda ctx: ctx.faults(exit_after_start=1),
        after=("no_stray_compose", "no_state"),
    ),
    # -- Dokploy as it really is (issue 12) --------------------------------------------
    Row(
        "stop-waits-out-a-slow-sigterm",  # compose.stop is synchronous: 35 s > the HTTP timeout
        "stop",
        0,
        "",
        setup=_created_then(lambda ctx: ctx.faults(ignore_sigterm_seconds=35)),
        after=(),
    ),
    Row(
        "delete-that-leaves-the-container",  # <= v0.28.8 skips `down` without the directory
        "delete",
        12,
        "docker rm -f",
        version="v0.28.8",
        setup=_created_then(lambda ctx: ctx.faults(compose_dir_missing=True)),
        after=(),
        leaves_containers=True,
    ),
    Row(
        "colleague-unquoted-port",
        "create",
        10,
        "published",
        options_from=lambda emu: {"DOKPLOY_SSH_PORT_RANGE": str(free_port())},
        setup=_colleague_publishes_the_port(git=False),
        after=("only_other_compose", "no_state"),
    ),
    Row(
        "git-sourced-compose-port",
        "create",
        10,
        "published",
        options_from=lambda emu: {"DOKPLOY_SSH_PORT_RANGE": str(free_port())},
        setup=_colleague_publishes_the_port(git=True),
        after=("only_other_compose", "no_state"),
    ),
    Row(
        "database-publishes-the-port",
        "create",
        10,
        "published",
        options_from=lambda emu: {"DOKPLOY_SSH_PORT_RANGE": str(free_port())},
        setup=_database_publishes_the_port,
        after=("no_stray_compose", "no_state"),
    ),
    Row(
        "cloud-needs-a-server",
        "create",
        2,
        "DOKPLOY_SERVER_ID",
        setup=lambda ctx: ctx.faults(cloud=True),
        after=("no_stray_compose", "no_state"),
    ),
    Row(
        "rejected-key-may-be-expired",
        "status",
        4,
        "expired or rate-limited",
        setup=_created_then(lambda ctx: ctx.faults(revoke_key=True)),
        after=("state_intact",),
    ),
    Row(
        "remote-login-shell-writes-stderr",  # Dokploy #4260, v0.28.2-v0.29.13
        "create",
        7,
        "login shell",
        version="v0.29.13",
        remote_servers=("edge-a",),
        options_from=_first_server,
        setup=lambda ctx: ctx.faults(login_shell_stderr=True),
        after=("no_stray_compose", "no_state"),
    ),
    Row(
        "deploy-error-without-deploy-logs",  # deployment.readLogs only from v0.29.5
        "create",
        7,
        "cannot return deploy logs",
        version="v0.29.4",
        setup=lambda ctx: ctx.faults(fail_next_deploys=1, deploy_error=DISK_FULL),
        after=("no_stray_compose", "no_state"),
    ),
    # -- SSH -------------------------------------------------------------------------------
    Row(
        "host-key-mismatch",
        "command",
        255,
        "host key",
        setup=_created_then(_other_pinned_host_key),
        after=("state_intact",),
    ),
    Row(
        "never-reaches-another-workspace",
        "command",
        255,
        "host key",
        setup=_created_then(_other_workspace_port),
        after=("state_intact",),
    ),
    Row(
        "client-key-refused",
        "command",
        255,
        "refused",
        setup=_created_then(_replace_client_key),
        after=("state_intact",),
    ),
    Row(
        "workspace-stopped",
        "command",
        255,
        "the workspace is stopped",
        setup=_created_then(lambda ctx: ctx.devpod.run("stop")),
        after=("state_intact",),
    ),
]


@pytest.fixture
def emulator_for(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[Row], EmulatorProcess]]:
    """The row's emulator: the shared latest one, or one of the version the row needs."""
    started: list[EmulatorProcess] = []

    def make(row: Row) -> EmulatorProcess:
        if row.version is None and not row.remote_servers:
            return request.getfixturevalue("emulator_latest")
        emu = start_emulator(tmp_path, row.version or "v0.30.2", remote_servers=row.remote_servers)
        started.append(emu)
        return emu

    yield make
    for emu in started:
        stop_emulator(emu)


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_fault(row: Row, emulator_for: Callable[[Row], EmulatorProcess], devpod_factory) -> None:
    emulator_latest = emulator_for(row)
    options = dict(row.options)
    if row.options_from:
        options.update(row.options_from(emulator_latest))
    devpod = devpod_factory(emulator_latest, **options)
    ctx = Ctx(devpod, emulator_latest)
    if row.setup:
        row.setup(ctx)
    composes_before = {c["composeId"] for c in emulator_latest.admin("state")["composes"]}
    state_path = ctx.folder / "dokploy-machine.json"
    state_before = state_path.read_bytes() if state_path.exists() else None

    env = {"DEVPOD_DEBUG": "true", **row.env}
    result = devpod.run(row.verb, row.machine, command="true", timeout=90, **env)

    print(result.err)  # shown with -rP: the messages users see
    assert result.returncode == row.exit_code, result.err
    assert row.message in result.err
    assert result.out.strip() == row.stdout
    if row.exit_code:
        assert "Traceback" not in result.err
        assert result.err.strip(), "a failure must say why"
    assert_no_private_keys(private_key_fragments(ctx.folder), result.out, result.err)
    token = devpod.options.get("DOKPLOY_API_TOKEN", "")
    assert not token or token not in result.out + result.err  # DEVPOD_DEBUG=true included

    composes_after = emulator_latest.admin("state")["composes"]
    if "no_stray_compose" in row.after:
        assert {c["composeId"] for c in composes_after} <= composes_before
    if "only_other_compose" in row.after:
        assert [c["name"] for c in composes_after] == ["other"]
    if "state_intact" in row.after:
        assert state_path.read_bytes() == state_before
    if "no_state" in row.after:
        assert not state_path.exists()
    if not row.leaves_containers:
        _assert_no_stray_port(emulator_latest)


def _assert_no_stray_port(emu: EmulatorProcess) -> None:
    state = emu.admin("state")
    owners = {c["appName"] for c in state["composes"]}
    published = []
    for container in state["containers"]:
        assert container["project"] in owners, f"container of a deleted compose: {container}"
        if container["state"] == "running":
            published += [p["published"] for p in container["ports"]]
    assert len(published) == len(set(published))
