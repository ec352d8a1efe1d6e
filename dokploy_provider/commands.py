"""The Click application: DevPod's verbs and our own commands, one function each.

Imported only when a verb needs Click (``cli.main`` answers ``command`` and the fast ``status``
without it). Each command parses, calls the domain inside :func:`run_verb` and prints; the
domain modules are imported inside the commands so ``--help`` and ``--version`` stay quick.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from dokploy_provider import __version__, log
from dokploy_provider.verbs import PROG, run_verb

if TYPE_CHECKING:
    from dokploy_provider.doctor_report import CheckResult
    from dokploy_provider.machine import MachineService

INVENTORY_COLUMNS = [
    ("machine", "machine"),
    ("state", "state"),
    ("ssh", "ssh"),
    ("server", "server"),
    ("size", "size"),
    ("age", "age"),
    ("owner", "created by"),
    ("orphan", "orphan"),
]


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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More output on stderr (also DEVPOD_DEBUG=true).")
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


def _lifecycle_verb(name: str, summary: str) -> None:
    """Register DevPod's verb ``name``: call the service's method of the same name."""

    def verb() -> None:
        def action() -> None:
            with machine_service() as service:
                getattr(service, name)()

        run_verb(name, action)

    app.command(name=name, help=summary)(verb)


_lifecycle_verb("create", "Create the workspace (idempotent) and wait until SSH answers.")
_lifecycle_verb("start", "Start (or redeploy) the workspace and wait until SSH answers.")
_lifecycle_verb("stop", "Stop the workspace's container (idempotent).")
_lifecycle_verb(
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
def command_verb() -> None:  # pragma: no cover - cli.main dispatches before Click
    """Run $COMMAND in the workspace over SSH (DevPod's byte tunnel)."""
    from dokploy_provider.command import main as command_main

    command_main()


@app.command()
@click.option("--port", type=int, default=None, help="SSH port to show (default: range start).")
def plan(port: int | None) -> None:
    """Print the compose file and boot script a create would send (secrets masked)."""

    def action() -> str:
        from dokploy_provider import compose
        from dokploy_provider.options import load_settings, machine_id_from_env

        settings = load_settings()
        machine_id = machine_id_from_env() if os.environ.get("MACHINE_ID") else "example"
        return compose.plan_text(settings, machine_id, port or settings.port_range.first)

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
    from dokploy_provider.doctor_report import COLUMNS, failed, iter_rows

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


@app.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts.")
def list_workspaces(as_json: bool) -> None:
    """List the workspaces this provider created on the server (by their marker)."""
    from dokploy_provider import inventory, output

    def action() -> list[dict[str, object]]:
        _use_stored_options()
        with machine_service(needs_machine=False) as service:
            return inventory.rows(service, inventory.find_workspaces(service))

    output.render(run_verb("list", action), INVENTORY_COLUMNS, as_json=as_json)


@app.command()
@click.option("--yes", is_flag=True, help="Remove the orphans (without it, only list them).")
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts.")
def cleanup(yes: bool, as_json: bool) -> None:
    """Find composes this installation created whose machine no longer exists; with --yes,
    remove them (volumes too, unless WORKSPACE_KEEP_VOLUMES)."""
    from dokploy_provider import inventory, output

    def action() -> list[dict[str, object]]:
        _use_stored_options()
        with machine_service(needs_machine=False) as service:
            return inventory.cleanup_orphans(service, remove=yes)

    output.render(run_verb("cleanup", action), INVENTORY_COLUMNS, as_json=as_json)


def _use_stored_options() -> None:
    """For the commands a person runs: fill in the options DevPod or Devsy stored."""
    from dokploy_provider import stored_options

    used = stored_options.apply()
    if used is not None:
        log.get().info(
            "Using the %s options stored in %s (context %s); exported variables win",
            used.provider,
            used.path,
            used.context,
        )
