"""Tables for terminals, plain lines for pipes, JSON for scripts."""

from __future__ import annotations

import io
import json

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
