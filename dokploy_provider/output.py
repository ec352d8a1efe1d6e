"""Output for our own commands (``list``, ``doctor``, ``cleanup``): a table when stdout is a
terminal, tab-separated plain lines otherwise, JSON with ``--json``.

DevPod's verbs never use this: their stdout is protocol.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

Column = tuple[str, str]  # (key in each row, header)


def render(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[Column],
    *,
    as_json: bool = False,
    stream: TextIO | None = None,
) -> None:
    """Write ``rows`` to ``stream`` (stdout) in the form that suits where it goes."""
    out = stream or sys.stdout
    if as_json:
        out.write(json.dumps([dict(row) for row in rows], indent=2, default=str) + "\n")
        return
    cells = [[_cell(row.get(key)) for key, _ in columns] for row in rows]
    if out.isatty():
        headers = [header for _, header in columns]
        widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
        out.write(
            "  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()
            + "\n"
        )
        for row_cells in cells:
            out.write(
                "  ".join(c.ljust(w) for c, w in zip(row_cells, widths, strict=True)).rstrip()
                + "\n"
            )
    else:
        for row_cells in cells:
            out.write("\t".join(row_cells) + "\n")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value).replace("\t", " ").replace("\n", " ")
