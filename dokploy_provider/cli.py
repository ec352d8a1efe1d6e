"""Command line: the verbs DevPod calls, plus our own. Thin: parse, call the domain, map errors.

stdout is DevPod's protocol channel: of DevPod's verbs only ``status`` (one word) and
``command`` (the remote bytes) write to it. Our own commands (``plan``, ``doctor``, ``list``,
``cleanup``) print their report there. Every log line goes to stderr through ``log``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from dokploy_provider.verbs import PROG, run_verb

if TYPE_CHECKING:
    import click

    from dokploy_provider.machine import MachineService


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


@contextmanager
def machine_service(*, needs_machine: bool = True) -> Iterator[MachineService]:
    """The lifecycle service built from the environment DevPod sets."""
    from dokploy_provider.dokploy import DokployClient
    from dokploy_provider.machine import MachineService
    from dokploy_provider.options import (
        load_settings,
        machine_folder_from_env,
        machine_id_from_env,
    )
    from dokploy_provider.state import MachineFolder

    settings = load_settings()
    folder = MachineFolder(machine_folder_from_env()) if needs_machine else None
    machine_id = machine_id_from_env() if needs_machine else None
    client = DokployClient(
        settings.server_url,
        settings.token,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.http_timeout,
    )
    with client:
        yield MachineService(settings, client, folder, machine_id)


def build_app() -> click.Group:
    """The Click application (built lazily so ``command`` never imports click)."""
    import click

    from dokploy_provider import __version__, log

    @click.group(context_settings={"help_option_names": ["-h", "--help"]})
    @click.option(
        "-v", "--verbose", count=True, help="More output on stderr (also DEVPOD_DEBUG=true)."
    )
    @click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors on stderr.")
    @click.version_option(__version__, prog_name=PROG)
    def app(verbose: int, quiet: bool) -> None:
        """DevPod machine provider for Dokploy.

        DevPod runs these verbs with the provider options in the environment; see README.md.
        """
        log.setup(-1 if quiet else min(verbose, 1))

    @app.command()
    def init() -> None:
        """Check the options, the server, the API key, the project and the port range."""

        def action() -> None:
            with machine_service(needs_machine=False) as service:
                for line in service.init():
                    log.get().info("✓ %s", line)

        run_verb("init", action)

    def lifecycle_verb(name: str, summary: str) -> None:
        """Register DevPod's verb ``name``: build the service from the environment and call
        its method of the same name."""

        def verb() -> None:
            def action() -> None:
                with machine_service() as service:
                    getattr(service, name)()

            run_verb(name, action)

        app.command(name=name, help=summary)(verb)

    lifecycle_verb("create", "Create the workspace (idempotent) and wait until SSH answers.")
    lifecycle_verb("start", "Start (or redeploy) the workspace and wait until SSH answers.")
    lifecycle_verb("stop", "Stop the workspace's container (idempotent).")
    lifecycle_verb(
        "delete",
        "Delete the workspace and its volumes (idempotent; WORKSPACE_KEEP_VOLUMES keeps them).",
    )

    @app.command()
    def status() -> None:
        """Print exactly one of Running, Busy, Stopped, NotFound on stdout."""

        def action() -> str:
            with machine_service() as service:
                return service.status().value

        word = run_verb("status", action)
        sys.stdout.write(word + "\n")
        sys.stdout.flush()

    @app.command(name="command")
    def command_verb() -> None:  # pragma: no cover - main() dispatches before click
        """Run $COMMAND in the workspace over SSH (DevPod's byte tunnel)."""
        from dokploy_provider.command import main as command_main

        command_main()

    @app.command()
    @click.option("--port", type=int, default=None, help="SSH port to show (default: range start).")
    def plan(port: int | None) -> None:
        """Print the compose file and boot script a create would send (secrets masked)."""

        def action() -> str:
            from dokploy_provider import compose
            from dokploy_provider.options import load_settings

            settings = load_settings()
            machine_id = _env_machine_id_or("example")
            text = compose.render(
                settings,
                compose.WorkspaceSpec(
                    machine_id=machine_id,
                    ssh_port=port or settings.port_range.first,
                    authorized_key="ssh-ed25519 <the machine's client key, made by create>",
                    host_key_b64=compose.MASKED,
                ),
            )
            return (
                "# docker-compose.yml sent to Dokploy\n"
                + text
                + "\n# boot script (the service's entrypoint)\n"
                + compose.boot_script()
            )

        sys.stdout.write(run_verb("plan", action))

    @app.command()
    @click.option(
        "--machine-folder",
        type=click.Path(file_okay=False),
        default=None,
        help="Also check this machine (default: $MACHINE_FOLDER when set).",
    )
    @click.option(
        "--env-file",
        type=click.Path(dir_okay=False, exists=True),
        default=None,
        help="Read options from NAME=value lines (they override the environment).",
    )
    @click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
    def doctor(machine_folder: str | None, env_file: str | None, as_json: bool) -> None:
        """Check everything from the options to an SSH login; one line per check, with fixes."""
        from dokploy_provider import output
        from dokploy_provider.doctor import run_from_environment
        from dokploy_provider.doctor_report import COLUMNS, CheckResult, failed, iter_rows

        def action() -> list[CheckResult]:
            _use_stored_options()
            return run_from_environment(machine_folder=machine_folder, env_file=env_file)

        results = run_verb("doctor", action)
        output.render(list(iter_rows(results)), COLUMNS, as_json=as_json)
        problems = failed(results)
        if problems:
            log.get().error("%d of %d checks failed", len(problems), len(results))
            raise SystemExit(1)
        log.get().info("All %d checks passed", len(results))

    inventory_columns = [
        ("machine", "machine"),
        ("state", "state"),
        ("ssh", "ssh"),
        ("server", "server"),
        ("size", "size"),
        ("age", "age"),
        ("owner", "created by"),
        ("orphan", "orphan"),
    ]

    @app.command(name="list")
    @click.option("--json", "as_json", is_flag=True, help="JSON for scripts.")
    def list_workspaces(as_json: bool) -> None:
        """List the workspaces this provider created on the server (by their marker)."""

        def action() -> list[dict[str, object]]:
            from dokploy_provider import inventory

            _use_stored_options()
            with machine_service(needs_machine=False) as service:
                found = inventory.find_workspaces(service)
                return inventory.rows(service, found)

        from dokploy_provider.output import render

        render(run_verb("list", action), inventory_columns, as_json=as_json)

    @app.command()
    @click.option("--yes", is_flag=True, help="Remove the orphans (without it, only list them).")
    @click.option("--json", "as_json", is_flag=True, help="JSON for scripts.")
    def cleanup(yes: bool, as_json: bool) -> None:
        """Find composes this installation created whose machine no longer exists; with --yes,
        remove them (volumes too, unless WORKSPACE_KEEP_VOLUMES)."""

        def action() -> list[dict[str, object]]:
            from dokploy_provider import inventory

            _use_stored_options()
            with machine_service(needs_machine=False) as service:
                found = inventory.find_workspaces(service)
                orphans = [w for w in found if w.orphan]
                table = inventory.rows(service, orphans)
                if not orphans:
                    log.get().info("No orphaned workspaces: nothing to clean up")
                elif not yes:
                    log.get().info(
                        "%d orphaned workspace(s) listed; run `dokploy-provider cleanup --yes` "
                        "to remove them",
                        len(orphans),
                    )
                else:
                    for workspace in orphans:
                        log.get().info("Removing %s", workspace.compose.app_name)
                        service.client.delete_compose(
                            workspace.compose.compose_id,
                            delete_volumes=not service.settings.keep_volumes,
                        )
                    for row in table:
                        row["removed"] = True
                return table

        from dokploy_provider.output import render

        render(run_verb("cleanup", action), inventory_columns, as_json=as_json)

    return app


def _use_stored_options() -> None:
    """For the commands a person runs: fill in the options DevPod or Devsy stored."""
    from dokploy_provider import log, stored_options

    used = stored_options.apply()
    if used is not None:
        log.get().info(
            "Using the %s options stored in %s (context %s); exported variables win",
            used.provider, used.path, used.context,
        )


def _env_machine_id_or(default: str) -> str:
    import os

    from dokploy_provider.options import machine_id_from_env

    return machine_id_from_env() if os.environ.get("MACHINE_ID") else default
