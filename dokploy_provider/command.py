"""``dokploy-provider command``: DevPod's byte tunnel into the workspace (the hot path).

Runs ``$COMMAND`` in the workspace over SSH with stdin/stdout/stderr relayed as raw bytes and
exits with the remote status. Nothing of ours is ever written to stdout. Imports only what it
needs (no click, httpx or pydantic) and leaves with ``os._exit`` (no interpreter teardown):
DevPod v0.6.15 SIGKILLs this process at session end, so nothing may depend on a clean exit.

Exit codes:
    N     the remote command's status (0-255); ``128+signo`` when it was killed by a signal
    2     bad invocation: ``MACHINE_FOLDER`` or ``COMMAND`` missing, unknown argument
    8     machine state missing, unreadable or incomplete (run create first)
    130   SIGINT; 143 SIGTERM; 129 SIGHUP
    141   our stdout was closed by its reader (EPIPE, or SIGPIPE while stdout is broken;
          a SIGPIPE from the SSH socket is ignored and the loss reported as 255)
    255   could not connect / host key mismatch / client key refused / connection lost
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from typing import Any, NoReturn

CONNECT_TIMEOUT = 20.0
DIAGNOSE_TIMEOUT = 10.0
PREFIX = "dokploy-provider"

EXIT_USAGE = 2
EXIT_STATE = 8
EXIT_SSH = 255
EXIT_STDOUT_CLOSED = 141
_SIGNAL_EXITS = {"SIGINT": 130, "SIGTERM": 143, "SIGHUP": 129}


class _Options:
    debug = False


_opts = _Options()


def _exit(code: int) -> NoReturn:
    """Flush stderr and leave at once (daemon threads and sockets die with the process)."""
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    os._exit(code)


def _say(line: str) -> None:
    """One line of ours on stderr (never stdout)."""
    with contextlib.suppress(OSError):
        os.write(2, (line.rstrip("\n") + "\n").encode("utf-8", "replace"))


def _debug_line(message: str) -> None:
    if _opts.debug:
        _say(f"{PREFIX}: debug: {message}")


def _exit_handler(code: int) -> Any:
    def handler(_signum: int, _frame: Any) -> None:
        os._exit(code)

    return handler


def _install_signal_handlers() -> None:
    for name, code in _SIGNAL_EXITS.items():
        signum = getattr(signal, name, None)
        if signum is None:
            continue
        with contextlib.suppress(OSError, ValueError):
            signal.signal(signum, _exit_handler(code))
    sigpipe = getattr(signal, "SIGPIPE", None)
    if sigpipe is not None:
        with contextlib.suppress(OSError, ValueError):
            signal.signal(sigpipe, _on_sigpipe)


def _stdout_broken() -> bool:
    """Whether our stdout is a pipe/socket whose reader went away (poll reports an error)."""
    import select

    poll = getattr(select, "poll", None)
    if poll is None:
        return True
    try:
        poller = poll()
        poller.register(1, select.POLLOUT)
        events = poller.poll(0)
    except (OSError, ValueError):
        return True
    return any(mask & (select.POLLERR | select.POLLHUP | select.POLLNVAL) for _, mask in events)


def _on_sigpipe(_signum: int, _frame: Any) -> None:
    """SIGPIPE ends us quietly when it is about our stdout (its reader is gone).

    A broken SSH socket raises SIGPIPE too (CPython sends without MSG_NOSIGNAL); that case
    must not exit silently: it is ignored here, like OpenSSH's client ignores SIGPIPE, and
    the pump reports the lost connection (exit 255).
    """
    if _stdout_broken():
        os._exit(EXIT_STDOUT_CLOSED)


def _quiet_library_logs() -> None:
    """Paramiko logs transport errors; without this, logging's last-resort handler prints them."""
    import logging

    logger = logging.getLogger("paramiko")
    logger.propagate = False
    if _opts.debug:
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(f"{PREFIX}: debug: %(name)s: %(message)s"))
        logger.setLevel(logging.WARNING)
    else:
        handler = logging.NullHandler()
    logger.addHandler(handler)


def _parse_args(argv: list[str]) -> None:
    for arg in argv:
        if arg in ("-v", "--verbose", "--debug"):
            _opts.debug = True
        else:
            _say(
                f"{PREFIX} command: unexpected argument {arg!r} — DevPod calls "
                "`dokploy-provider command` with COMMAND in the environment and no arguments"
            )
            _exit(EXIT_USAGE)


def _diagnosis(state: Any, err: Any) -> str | None:
    """Ask the lead's diagnoser for one sentence; bounded in time and never fatal."""
    import threading

    result: list[str | None] = [None]

    def work() -> None:
        try:
            from dokploy_provider.diagnose import explain_ssh_failure

            result[0] = explain_ssh_failure(state, err)
        except BaseException:  # diagnosing must never crash the tunnel
            result[0] = None

    thread = threading.Thread(target=work, name="diagnose", daemon=True)
    thread.start()
    thread.join(DIAGNOSE_TIMEOUT)
    sentence = result[0]
    return sentence.strip() if isinstance(sentence, str) and sentence.strip() else None


def _ssh_failure(doing: str, state: Any, exc: Any) -> NoReturn:
    """Report a failed SSH step in one line, with the diagnoser's sentence if any, and exit."""
    line = f"{PREFIX}: {doing}: {exc}"
    sentence = _diagnosis(state, exc)
    if sentence:
        line += f" ({sentence})"
    _say(line)
    _exit(exc.exit_code)


def main() -> NoReturn:
    """Entry point of ``dokploy-provider command``; never returns."""
    _install_signal_handlers()
    try:
        _run()
    except SystemExit as exc:  # pragma: no cover - defensive
        _exit(exc.code if isinstance(exc.code, int) else 1)
    except KeyboardInterrupt:
        _exit(130)
    except BaseException as exc:  # last resort: one line, no traceback
        _say(f"{PREFIX}: command: internal error: {type(exc).__name__}: {exc}")
        _exit(1)
    _exit(1)  # pragma: no cover - _run always exits


def _run() -> NoReturn:
    started = time.monotonic()
    _parse_args(sys.argv[2:] if len(sys.argv) >= 2 and sys.argv[1] == "command" else [])
    from dokploy_provider.log import debug_from_env  # stdlib only: fits the hot path

    _opts.debug = _opts.debug or debug_from_env()

    folder_path = os.environ.get("MACHINE_FOLDER", "")
    if not folder_path:
        _say(
            f"{PREFIX}: command: MACHINE_FOLDER is not set — run it through DevPod "
            "(it sets MACHINE_FOLDER and COMMAND)"
        )
        _exit(EXIT_USAGE)
    command = os.environ.get("COMMAND")
    if command is None:
        _say(
            f"{PREFIX}: command: COMMAND is not set — DevPod passes the remote command in "
            "the COMMAND environment variable"
        )
        _exit(EXIT_USAGE)

    # paramiko.config imports invoke (only for `Match exec`, which we never use): ~35 ms.
    if "invoke" not in sys.modules:
        sys.modules["invoke"] = None  # type: ignore[assignment]

    from dokploy_provider.errors import ProviderError, SSHError
    from dokploy_provider.state import MachineFolder

    folder = MachineFolder(folder_path)
    try:
        state = folder.load()
    except ProviderError as exc:
        _say(f"{PREFIX}: loading machine state: {exc}")
        _exit(exc.exit_code)
    if state is None:
        _say(
            f"{PREFIX}: loading machine state: no machine state in {folder.path} — "
            "run create first (`devpod up` or `devpod machine create`)"
        )
        _exit(EXIT_STATE)
    if not folder.client_key_path.is_file():
        _say(
            f"{PREFIX}: loading machine state: the client key {folder.client_key_path} is "
            "missing — recreate the machine (`devpod machine delete --force`, then `devpod up`)"
        )
        _exit(EXIT_STATE)

    _quiet_library_logs()
    from dokploy_provider import pump, ssh

    _debug_line(
        f"loaded state in {1000 * (time.monotonic() - started):.0f} ms; "
        f"connecting to {state.target}"
    )
    try:
        conn = ssh.connect(ssh.SSHTarget.of(state), folder.client_key_path, timeout=CONNECT_TIMEOUT)
    except SSHError as exc:
        _ssh_failure(f"connecting to {state.target}", state, exc)
    except ProviderError as exc:
        _say(f"{PREFIX}: connecting to {state.target}: {exc}")
        _exit(exc.exit_code)
    _debug_line(
        f"connected in {1000 * conn.connect_seconds:.0f} ms "
        f"(cipher {conn.cipher}, host key {state.host_key_fingerprint} verified)"
    )

    try:
        channel = conn.open_session()
        status = pump.run(channel, command, 0, 1, 2, target=state.target)
    except pump.StdoutClosed:
        _exit(EXIT_STDOUT_CLOSED)
    except SSHError as exc:
        _ssh_failure(f"running the command in the workspace at {state.target}", state, exc)
    _debug_line(f"remote exited {status} after {1000 * (time.monotonic() - started):.0f} ms")
    _exit(status & 0xFF)  # pump.run never returns a negative status
