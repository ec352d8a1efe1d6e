"""Tables for terminals, plain lines for pipes, JSON for scripts."""

from __future__ import annotations

import io
import json

import pytest

from dokploy_provider.output import render

ROWS = [
    {"id": "ws1", "port": 2222, "orphan": False},
    {"id": "ws-long", "port": None, "orphan": True},
]
COLUMNS = [("id", "machine"), ("port", "port"), ("orphan", "orphan")]


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_when_piped() -> None:
    out = io.StringIO()
    render(ROWS, COLUMNS, stream=out)
    assert out.getvalue() == "ws1\t2222\tno\nws-long\t-\tyes\n"


def test_aligned_table_on_a_terminal() -> None:
    out = Tty()
    render(ROWS, COLUMNS, stream=out)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["MACHINE", "PORT", "ORPHAN"]
    assert lines[1].index("2222") == lines[0].index("PORT")


def test_json() -> None:
    out = io.StringIO()
    render(ROWS, COLUMNS, as_json=True, stream=out)
    assert json.loads(out.getvalue()) == ROWS


def test_debug_output_keeps_library_errors_to_one_line(monkeypatch, capsys) -> None:
    import logging

    from dokploy_provider import log

    monkeypatch.setenv("DEVPOD_DEBUG", "true")
    log.setup()
    transport = logging.getLogger("paramiko.transport")
    transport.error("Exception (client): Error reading SSH protocol banner")
    for line in (
        "Traceback (most recent call last):",
        '  File "paramiko/transport.py", line 2227, in _check_banner',
        "EOFError",
        "",
        "During handling of the above exception, another exception occurred:",
        "paramiko.ssh_exception.SSHException: Error reading SSH protocol banner",
    ):
        transport.error(line)
    transport.debug("Local version/idstring: SSH-2.0-paramiko")
    err = capsys.readouterr().err
    assert "Exception (client): Error reading SSH protocol banner" in err
    assert "Local version/idstring" in err
    assert "Traceback" not in err and "File " not in err and "EOFError" not in err
    assert "During handling" not in err and "SSHException:" not in err
    logging.getLogger().handlers.clear()


@pytest.mark.parametrize(
    ("environ", "debug"),
    [
        ({}, False),
        ({"DEVPOD_DEBUG": "true"}, True),
        ({"DEVSY_DEBUG": "true"}, True),  # Devsy v1.1 sets no DEVPOD_* at all
        ({"DEVSY_LOG_LEVEL": "debug"}, True),
        ({"DEVPOD_LOG_LEVEL": "info", "DEVSY_DEBUG": "false"}, False),
    ],
)
def test_debug_is_read_from_either_generations_variables(environ, debug) -> None:
    from dokploy_provider.log import debug_from_env

    assert debug_from_env(environ) is debug
