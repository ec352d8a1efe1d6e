"""`make bench`, real-DevPod part: what a user waits for, with a real DevPod CLI.

Runs only when a DevPod CLI is there (``$DEVPOD_CLI`` or ``devpod`` on PATH) and a Docker
engine answers; otherwise it prints one line saying why and exits 0. Against the emulator in
real-Docker mode, in an isolated DevPod home, it measures (median over several runs):

* ``devpod machine create`` with the workspace image already built on the server;
* ``devpod up`` of an existing workspace on a running machine;
* ``devpod ssh WS --command true``, whole process.

Timing only; writes ``bench-results/devpod-<time>.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dokploy_emulator.docker_runtime import docker_available
from dokploy_emulator.process import launch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the tests' helpers (support.ports)
from support.ports import free_port_block  # noqa: E402

RESULTS = ROOT / "bench-results"
STANDIN_TOOL = ROOT.parent / "shared" / "tools" / "standin-image.sh"
WORKSPACE_IMAGE = "cruizba/ubuntu-dind:noble-27.0.3-r0"
DEV_IMAGE = "devpod-test/base:bookworm"


def _cli() -> str | None:
    explicit = os.environ.get("DEVPOD_CLI")
    return explicit if explicit and os.access(explicit, os.X_OK) else shutil.which("devpod")


def _engine_ready() -> str | None:
    """Why the engine can't be used, or None (and DOCKER_HOST set to the private engine)."""
    socket = (
        Path(os.environ.get("DOCKER_TOOLS_STATE", "/var/tmp/docker-tools")) / "engine/docker.sock"
    )
    if "DOCKER_HOST" not in os.environ and socket.is_socket():
        os.environ["DOCKER_HOST"] = f"unix://{socket}"
    return docker_available()


def _ensure_image(name: str, *flags: str) -> None:
    if (
        subprocess.run(
            ["docker", "image", "inspect", name], capture_output=True, check=False
        ).returncode
        != 0
    ):
        subprocess.run([str(STANDIN_TOOL), name, *flags], check=True, stdout=subprocess.DEVNULL)


class DevPod:
    def __init__(self, binary: str, root: Path) -> None:
        self.binary = binary
        for name in ("home", "devpod-home", "tmp"):
            (root / name).mkdir(parents=True, exist_ok=True)
        self.env = {
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
            "HOME": str(root / "home"),
            "DEVPOD_HOME": str(root / "devpod-home"),
            "TMPDIR": str(root / "tmp"),
            "DEVPOD_DISABLE_TELEMETRY": "true",
            "DOCKER_HOST": os.environ.get("DOCKER_HOST", ""),
        }
        self.root = root

    def __call__(self, *args: str, stdin: bytes | None = None) -> float:
        started = time.perf_counter()
        proc = subprocess.run(
            [self.binary, *args],
            input=stdin,
            capture_output=True,
            env=self.env,
            cwd=self.root,
            timeout=900,
            check=False,
        )
        seconds = time.perf_counter() - started
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr).decode(errors="replace").splitlines()[-8:]
            raise SystemExit(f"bench: devpod {' '.join(args)} failed:\n" + "\n".join(tail))
        return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="measured runs per figure")
    args = parser.parse_args()
    binary = _cli()
    if binary is None:
        print("bench (DevPod): skipped, no DevPod CLI ($DEVPOD_CLI or devpod on PATH)")
        return
    reason = _engine_ready()
    if reason is not None:
        print(f"bench (DevPod): skipped, no Docker engine ({reason})")
        return
    _ensure_image(WORKSPACE_IMAGE, "--with-docker")
    _ensure_image(DEV_IMAGE)
    with tempfile.TemporaryDirectory(prefix="bench-devpod-") as tmp:
        root = Path(tmp)
        emu = launch(
            root / "emulator", runtime="docker", log_path=root / "emulator.log", label="bench"
        )
        devpod = DevPod(binary, root)
        base = free_port_block(args.runs + 4)
        figures: dict[str, list[float]] = {
            "machine create (image cached)": [],
            "devpod up (existing machine and workspace)": [],
            "devpod ssh --command true": [],
        }
        try:
            devpod(
                "provider",
                "add",
                str(ROOT / "provider.yaml"),
                "-o",
                f"DOKPLOY_SERVER_URL={emu.url}",
                "-o",
                f"DOKPLOY_API_TOKEN={emu.token}",
                "-o",
                f"DOKPLOY_SSH_PORT_RANGE={base}-{base + args.runs + 3}",
                "-o",
                f"WORKSPACE_IMAGE={WORKSPACE_IMAGE}",
            )
            devpod("machine", "create", "warm", "--provider", "dokploy")  # builds the image
            for i in range(args.runs):
                figures["machine create (image cached)"].append(
                    devpod("machine", "create", f"m{i}", "--provider", "dokploy")
                )
                devpod("machine", "delete", f"m{i}", "--force")
            saved = subprocess.run(
                ["docker", "save", DEV_IMAGE], capture_output=True, check=True
            ).stdout
            devpod("machine", "ssh", "warm", "--command", "docker load", stdin=saved)
            project = root / "project" / ".devcontainer"
            project.mkdir(parents=True)
            (project / "devcontainer.json").write_text(json.dumps({"image": DEV_IMAGE}))
            devpod("up", str(project.parent), "--machine", "warm", "--id", "bw", "--ide", "none")
            for _ in range(args.runs):
                figures["devpod up (existing machine and workspace)"].append(
                    devpod("up", "bw", "--ide", "none")
                )
                figures["devpod ssh --command true"].append(
                    devpod("ssh", "bw", "--command", "true")
                )
            devpod("delete", "bw", "--force")
            devpod("machine", "delete", "warm", "--force")
        finally:
            emu.stop()
    version = subprocess.run(
        [binary, "version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    report = {
        name: {"median_s": round(statistics.median(v), 3), "runs_s": [round(x, 3) for x in v]}
        for name, v in figures.items()
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"devpod-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps({"devpod_version": version, "figures": report}, indent=2) + "\n")
    print(f"\nReal DevPod {version} (median of {args.runs}):")
    for name, entry in report.items():
        print(f"  {name:<44} {entry['median_s']:7.2f} s")
    print(f"  written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
