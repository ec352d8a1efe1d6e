"""Command line entry point: dispatch the hot verbs before anything heavy is imported.

stdout is DevPod's protocol channel: of DevPod's verbs only ``status`` (one word) and
``command`` (the remote bytes) write to it. Our own commands (``plan``, ``doctor``, ``list``,
``cleanup``) print their report there. Every log line goes to stderr through ``log``. The
commands themselves are :mod:`dokploy_provider.commands`.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from dokploy_provider.verbs import PROG

if TYPE_CHECKING:
    import click


def main() -> None:
    """Console-script entry point (``dokploy-provider``)."""
    # `command` is DevPod's byte tunnel and runs constantly: dispatch it before importing
    # click or anything else it does not use.
    if len(sys.argv) >= 2 and sys.argv[1] == "command":
        from dokploy_provider.command import main as command_main

        command_main()
        return
    # `status` runs before every `devpod ssh` and IDE connection: answer it without click,
    # pydantic or httpx when the fast path can (it declines, printing nothing, otherwise).
    if sys.argv[1:] == ["status"]:
        from dokploy_provider.fast_status import main as fast_status

        if fast_status():
            return
    app = build_app()
    app(prog_name=PROG)


def build_app() -> click.Group:
    """The Click application (imported lazily so ``command`` never imports Click)."""
    from dokploy_provider.commands import app

    return app
