"""End-to-end fixtures: the emulator as a separate process, the provider's real console script,
and the environment exactly as DevPod sets it."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.ports import free_port_block

from dokploy_emulator.process import EmulatorProcess, launch

BIN = Path(sys.executable).parent
PROVIDER = shutil.which("dokploy-provider", path=str(BIN)) or str(BIN / "dokploy-provider")
VERSIONS = ["v0.22.7", "v0.26.0", "v0.30.2"]
#: Which CLI generation's environment the verbs get: ``devpod`` (DevPod v0.6.15 and the
#: skevetter fork: ``DEVPOD*`` variables, exec lines through bash) or ``devsy`` (Devsy v1.1:
#: ``DEVSY*`` variables only, exec lines through a plain POSIX shell). `.ci/run` runs the e2e
#: lane once with each.
GENERATION = os.environ.get("DOKPLOY_TEST_DEVPOD_GENERATION", "devpod")
#: The shell that runs exec lines: DevPod v0.6.15 uses bash; the fork and Devsy an emulated
#: POSIX shell, for which dash (no bash-isms) stands in.
#: The base variables Devsy v1.1 renames (its pkg/config/env.go).
DEVSY_NAMES = {
    name: "DEVSY" + name[len("DEVPOD") :]
    for name in ("DEVPOD", "DEVPOD_OS", "DEVPOD_ARCH", "DEVPOD_LOG_LEVEL", "DEVPOD_DEBUG")
}
EXEC_SHELL = shutil.which("bash" if GENERATION == "devpod" else "dash") or "sh"


def start_emulator(
    tmp: Path, version: str, remote_servers: tuple[str, ...] = (), runtime: str = "sshd"
) -> EmulatorProcess:
    """The emulator as a separate process, its state under ``tmp``."""
    return launch(
        tmp / "emulator",
        version=version,
        runtime=runtime,
        remote_servers=remote_servers,
        log_path=tmp / "emulator.log",
        label="e2e",
    )


def stop_emulator(emu: EmulatorProcess) -> None:
    emu.stop()


@pytest.fixture(params=VERSIONS)
def emulator(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EmulatorProcess]:
    emu = start_emulator(tmp_path, request.param)
    yield emu
    stop_emulator(emu)


@pytest.fixture
def emulator_latest(tmp_path: Path) -> Iterator[EmulatorProcess]:
    emu = start_emulator(tmp_path, VERSIONS[-1])
    yield emu
    stop_emulator(emu)


@dataclass
class Result:
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def out(self) -> str:
        return self.stdout.decode()

    @property
    def err(self) -> str:
        return self.stderr.decode()


@dataclass
class DevPod:
    """Runs provider verbs the way DevPod does: env vars only, cwd not the checkout."""

    emulator: EmulatorProcess
    home: Path
    options: dict[str, str]

    def env(
        self, machine_id: str | None, command: str | None = None, **extra: str
    ) -> dict[str, str]:
        prefixes = ("DOKPLOY_", "MACHINE_", "DEVPOD", "DEVSY")
        env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
        env.update(self.options)
        env.update(
            {
                "DEVPOD": "/usr/local/bin/devpod",
                "DEVPOD_OS": "linux",
                "DEVPOD_ARCH": "amd64",
                "DEVPOD_LOG_LEVEL": "info",
                "PROVIDER_ID": "dokploy",
                "PROVIDER_CONTEXT": "default",
                "PROVIDER_FOLDER": str(self.home / "contexts/default/providers/dokploy"),
            }
        )
        if machine_id is not None:
            env.update(
                {
                    "MACHINE_ID": machine_id,
                    "MACHINE_FOLDER": str(self.machine_folder(machine_id)),
                    "MACHINE_CONTEXT": "default",
                    "MACHINE_PROVIDER": "dokploy",
                }
            )
        else:  # `init` gets neither MACHINE_* nor DEVPOD nor PROVIDER_FOLDER
            for name in ("DEVPOD", "PROVIDER_FOLDER"):
                env.pop(name)
        if command is not None:
            env["COMMAND"] = command
        env.update(extra)
        if GENERATION == "devsy":  # Devsy renames its base variables and sets no DEVPOD*
            env = {(DEVSY_NAMES.get(k, k)): v for k, v in env.items()}
            if "DEVSY" in env:
                env["DEVSY"] = "/usr/local/bin/devsy"
        return env

    def machine_folder(self, machine_id: str) -> Path:
        return self.home / "contexts/default/machines" / machine_id

    def run(
        self,
        verb: str,
        machine_id: str | None = "ws1",
        *,
        command: str | None = None,
        stdin: bytes = b"",
        timeout: float = 120,
        extra_args: tuple[str, ...] = (),
        **extra: str,
    ) -> Result:
        if machine_id is not None:
            self.machine_folder(machine_id).mkdir(parents=True, exist_ok=True)
        # as provider.yaml's exec line, through the generation's shell
        line = " ".join(shlex.quote(part) for part in [PROVIDER, verb, *extra_args])
        proc = subprocess.run(
            [EXEC_SHELL, "-c", line],
            env=self.env(machine_id, command, **extra),
            input=stdin,
            capture_output=True,
            timeout=timeout,
            cwd=self.home,
            check=False,
        )
        result = Result(proc.returncode, proc.stdout, proc.stderr)
        assert self.emulator.token.encode() not in proc.stdout + proc.stderr, "token leaked"
        return result


@pytest.fixture
def devpod_factory(tmp_path: Path):  # type: ignore[no-untyped-def]
    def make(emu: EmulatorProcess, **options: str) -> DevPod:
        base = free_port_block(30)
        opts = {
            "DOKPLOY_SERVER_URL": emu.url,
            "DOKPLOY_API_TOKEN": emu.token,
            "DOKPLOY_PROJECT_NAME": "devpod-workspaces",
            "DOKPLOY_ENVIRONMENT_NAME": "",
            "DOKPLOY_SERVER_ID": "",
            "DOKPLOY_SSH_HOST": "",
            "DOKPLOY_SSH_PORT_RANGE": f"{base}-{base + 29}",
            "DOKPLOY_HTTP_TIMEOUT": "10s",
            "DOKPLOY_DEPLOY_TIMEOUT": "30s",
            "DOKPLOY_READY_TIMEOUT": "20s",
            "WORKSPACE_IMAGE": "cruizba/ubuntu-dind:noble-27.0.3-r0",
            "WORKSPACE_CPUS": "",
            "WORKSPACE_MEMORY": "",
            "WORKSPACE_GPU": "none",
            "WORKSPACE_KEEP_VOLUMES": "false",
            "AGENT_PATH": "/var/lib/devpod/devpod",
            "INACTIVITY_TIMEOUT": "10m",
            "INJECT_GIT_CREDENTIALS": "true",
            "INJECT_DOCKER_CREDENTIALS": "true",
        }
        opts.update(options)
        home = tmp_path / "devpod-home"
        home.mkdir(exist_ok=True)
        return DevPod(emu, home, opts)

    return make


def private_key_fragments(folder: Path) -> list[str]:
    """Pieces of the machine's private keys as they could leak: the PEM body's first and last
    40 characters, and the end of the base64 form the host key travels in
    (DEVPOD_SSH_HOST_KEY)."""
    import base64

    fragments = []
    for name in ("id_ed25519", "ssh_host_ed25519_key"):
        path = folder / name
        if path.exists():
            body = "".join(path.read_text().strip().splitlines()[1:-1])
            fragments += [body[:40], body[-40:], base64.b64encode(path.read_bytes()).decode()[-40:]]
    return fragments


def assert_no_private_keys(fragments: list[str], *texts: str) -> None:
    """No fragment of a private key in any of ``texts`` (line breaks ignored)."""
    for text in texts:
        flat = text.replace("\n", "")
        for fragment in fragments:
            assert fragment not in flat, "private key material in output"


#: Libraries the hot paths (`status` of a running workspace, `command`) must not import.
HEAVY = ("pydantic", "pydantic_settings", "httpx", "click", "paramiko", "tenacity", "yaml")


def run_with_importtime(
    devpod: DevPod, verb: str, *, command: str | None = None, **extra: str
) -> tuple[Result, set[str]]:
    """Run ``verb`` for machine ``ws1`` under ``python -X importtime``: the result (importtime
    lines removed from stderr) and the top-level modules it imported."""
    devpod.machine_folder("ws1").mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", PROVIDER, verb],
        env=devpod.env("ws1", command, **extra),
        capture_output=True,
        timeout=60,
        cwd=devpod.home,
        check=False,
    )
    modules = set()
    kept = []
    for line in proc.stderr.decode().splitlines(keepends=True):
        if line.startswith("import time:"):
            modules.add(line.rsplit("|", 1)[-1].strip().split(".")[0])
        else:
            kept.append(line)
    return Result(proc.returncode, proc.stdout, "".join(kept).encode()), modules
