"""`make demo`: a whole DevPod workspace lifecycle through the provider, against the emulator.

It starts the bundled Dokploy emulator (whose workspace "containers" are real sshd processes),
then runs the provider's verbs exactly as DevPod would — the same console script, the same
environment variables — and narrates each step. Nothing here needs DevPod or a Dokploy server.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dokploy_emulator.process import EmulatorProcess, launch

BIN = Path(sys.executable).parent
PROVIDER = str(BIN / "dokploy-provider")


def say(text: str) -> None:
    print(text, flush=True)


class Demo:
    def __init__(self, version: str) -> None:
        self.version = version
        self.workdir = Path(tempfile.mkdtemp(prefix="dokploy-demo-"))
        self.emulator: EmulatorProcess | None = None

    def start_emulator(self) -> None:
        say(f"• Starting the Dokploy emulator ({self.version}) on 127.0.0.1 …")
        self.emulator = launch(
            self.workdir / "emulator",
            version=self.version,
            log_path=self.workdir / "emulator.log",
            label="demo",
        )
        say(f"  Dokploy API at {self.emulator.url}")

    def stop_emulator(self) -> None:
        if self.emulator is not None:
            self.emulator.stop()

    def env(self, machine: bool = True, command: str | None = None) -> dict[str, str]:
        """The environment DevPod gives a provider verb."""
        assert self.emulator is not None, "start the emulator first"
        env = {
            **os.environ,
            "DOKPLOY_SERVER_URL": self.emulator.url,
            "DOKPLOY_API_TOKEN": self.emulator.token,
            "DOKPLOY_PROJECT_NAME": "devpod-workspaces",
            "DOKPLOY_SSH_PORT_RANGE": "24100-24199",
            "DOKPLOY_READY_TIMEOUT": "30s",
            "DOKPLOY_DEPLOY_TIMEOUT": "60s",
        }
        if machine:
            env.update(
                {
                    "MACHINE_ID": "demo-ws",
                    "MACHINE_FOLDER": str(self.workdir / "machines" / "demo-ws"),
                    "MACHINE_CONTEXT": "default",
                    "MACHINE_PROVIDER": "dokploy",
                    "DEVPOD_OS": "linux",
                    "DEVPOD_ARCH": "amd64",
                }
            )
        if command is not None:
            env["COMMAND"] = command
        return env

    def verb(
        self, verb: str, explain: str, *, command: str | None = None, machine: bool = True
    ) -> str:
        say(f"\n$ dokploy-provider {verb}" + (f"   (COMMAND={command!r})" if command else ""))
        say(f"  {explain}")
        started = time.monotonic()
        result = subprocess.run(
            [PROVIDER, verb],
            env=self.env(machine=machine, command=command),
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        elapsed = time.monotonic() - started
        for line in result.stderr.strip().splitlines():
            say(f"  stderr │ {line}")
        out = result.stdout.strip()
        if out:
            say(f"  stdout │ {out}")
        say(f"  exit {result.returncode} in {elapsed:.2f}s")
        if result.returncode != 0:
            raise SystemExit(f"demo failed at `{verb}` (exit {result.returncode})")
        assert self.emulator is not None
        if self.emulator.token in result.stdout + result.stderr:
            raise SystemExit("the API token appeared in the provider's output")
        return out

    def expect(self, got: str, wanted: str) -> None:
        if got != wanted:
            raise SystemExit(f"expected {wanted!r}, got {got!r}")

    def run(self) -> None:
        (self.workdir / "machines" / "demo-ws").mkdir(parents=True)
        self.start_emulator()
        try:
            self.verb(
                "init",
                "DevPod runs this on `provider add`/`set-options`: checks URL, key, version, project, ports.",
                machine=False,
            )
            self.verb(
                "create",
                "`devpod up` creates the machine: project, compose with a raw file, deploy, wait for SSH.",
            )
            self.expect(
                self.verb("status", "DevPod asks for the state: one word on stdout."), "Running"
            )
            self.expect(
                self.verb(
                    "command",
                    "DevPod's tunnel: runs COMMAND in the workspace over SSH (pinned host key).",
                    command="echo hello from $(hostname) as $(id -un)",
                ),
                "hello from " + self._hostname_hint(),
            )
            self.verb("stop", "`devpod stop`: the workspace's container stops.")
            self.expect(self.verb("status", "Stopped now."), "Stopped")
            self.verb("start", "`devpod up` on a stopped workspace: start and wait for SSH.")
            self.expect(self.verb("status", "Running again."), "Running")
            self.verb("command", "The tunnel works after a restart.", command="uname -s")
            self.verb("delete", "`devpod delete`: the compose and its volumes go.")
            self.expect(self.verb("status", "Gone."), "NotFound")
            say(
                "\n✓ Whole lifecycle passed: init → create → Running → command → stop → Stopped → "
                "start → Running → command → delete → NotFound"
            )
        finally:
            self.stop_emulator()
            shutil.rmtree(self.workdir, ignore_errors=True)

    @staticmethod
    def _hostname_hint() -> str:
        # The emulated workspace is an sshd on this host, so `hostname` is this machine's name.
        return f"{os.uname().nodename} as root"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--version", default="v0.30.2", help="Dokploy version the emulator plays")
    args = parser.parse_args()
    Demo(args.version).run()


if __name__ == "__main__":
    main()
