"""``python -m dokploy_emulator``: serve the emulator until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from types import FrameType

from .emulator import Emulator
from .process import API_KEY_ENV
from .versions import DEFAULT_VERSION, VersionError, parse_version


def _version(text: str) -> str:
    try:
        parse_version(text)
    except VersionError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return text


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="dokploy-emulator", description="A stateful emulator of Dokploy's REST API."
    )
    parser.add_argument("--port", type=int, required=True, help="HTTP port (0 = pick a free one)")
    parser.add_argument(
        "--api-key",
        default=os.environ.get(API_KEY_ENV),
        help=f"the only accepted x-api-key (default: ${API_KEY_ENV}, which keeps it out of "
        "process listings)",
    )
    parser.add_argument(
        "--version",
        type=_version,
        default=DEFAULT_VERSION,
        help=f"Dokploy version to imitate, v0.22.7..v0.30.x (default {DEFAULT_VERSION})",
    )
    parser.add_argument(
        "--state-dir",
        default=None,
        help="where logs, compose files, volumes and sshd dirs go (default: temp)",
    )
    parser.add_argument("--server-ip", default="127.0.0.1", help="what settings.getIp returns")
    parser.add_argument(
        "--remote-server",
        action="append",
        default=[],
        metavar="NAME",
        help="add a remote deploy server (repeatable)",
    )
    parser.add_argument(
        "--deploy-delay",
        type=float,
        default=0.05,
        help="seconds before the worker picks a queued deploy (default 0.05)",
    )
    parser.add_argument(
        "--runtime",
        choices=("sshd", "docker"),
        default="sshd",
        help="sshd: workspaces are sshd processes (fast, default); docker: "
        "deploys run docker compose on the engine DOCKER_HOST selects",
    )
    parser.add_argument("--log-level", default="INFO", help="stderr log level (default INFO)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run until SIGTERM/SIGINT; exit 0 after stopping every sshd started."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.api_key:
        parser.error(f"an API key is needed: set {API_KEY_ENV} or pass --api-key")
    logging.basicConfig(
        stream=sys.stderr,
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    emulator = Emulator(
        api_key=args.api_key,
        version=args.version,
        state_dir=args.state_dir,
        server_ip=args.server_ip,
        remote_servers=args.remote_server,
        deploy_delay=args.deploy_delay,
        port=args.port,
        runtime=args.runtime,
    )
    try:
        emulator.start()
        print(f"dokploy-emulator ready url={emulator.url} version={emulator.version}", flush=True)
        while not stop.wait(1.0):
            pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
