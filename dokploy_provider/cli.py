"""Command line: the verbs DevPod calls, plus our own. Thin: parse, call the domain, map errors."""

from __future__ import annotations

import sys


def main() -> None:
    """Console-script entry point (``dokploy-provider``)."""
    # `command` is DevPod's byte tunnel and runs constantly: dispatch it before importing
    # click or anything else it does not use.
    if len(sys.argv) >= 2 and sys.argv[1] == "command":
        from dokploy_provider.command import main as command_main

        command_main()
        return
    raise SystemExit("not yet wired")
