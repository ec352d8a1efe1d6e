"""The doctor's report: one :class:`CheckResult` per check, and the rows it prints."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dokploy_provider.dokploy import DokployClient
    from dokploy_provider.errors import ProviderError
    from dokploy_provider.machine import MachineService
    from dokploy_provider.models import DokployVersion, Project, Server
    from dokploy_provider.options import Settings
    from dokploy_provider.state import MachineState

SET_OPTION = "devpod provider set-options dokploy -o"
#: How many taken ports the human-readable line names (JSON has them all).
PORTS_SHOWN = 8


class Outcome(str, enum.Enum):
    """How one check ended."""

    OK = "ok"
    FAIL = "fail"
    SKIP = "skip"

    @property
    def mark(self) -> str:
        """The symbol shown in front of the check."""
        return {"ok": "✓", "fail": "✗", "skip": "-"}[self.value]


@dataclass(frozen=True)
class CheckResult:
    """One line of the report."""

    key: str
    title: str
    outcome: Outcome
    detail: str
    fix: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        """The result as a row for :func:`dokploy_provider.output.render`."""
        return {
            "mark": self.outcome.mark,
            "check": self.key,
            "title": self.title,
            "status": self.outcome.value,
            "detail": self.detail,
            "fix": self.fix,
            "data": self.data,
        }


COLUMNS = [("mark", ""), ("title", "check"), ("detail", "result"), ("fix", "fix")]


class CheckFailed(Exception):
    """Raised by a check: what is wrong and what to do about it."""

    def __init__(self, detail: str, fix: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.fix = fix


@dataclass(frozen=True)
class _Check:
    key: str
    title: str
    needs: tuple[str, ...]
    run: Callable[[], str]
    default_fix: str | None = None


def failed(results: list[CheckResult]) -> list[CheckResult]:
    """The results that failed."""
    return [r for r in results if r.outcome is Outcome.FAIL]


def iter_rows(results: list[CheckResult]) -> Iterator[dict[str, Any]]:
    """Rows for :func:`dokploy_provider.output.render`."""
    for result in results:
        yield result.row()


@dataclass
class Found:
    """What the checks learned, for the ones after them."""

    settings: Settings | None = None
    client: DokployClient | None = None
    service: MachineService | None = None
    version: DokployVersion | None = None
    version_error: ProviderError | None = None
    project: Project | None = None
    server: Server | None = None
    ssh_host: str = ""
    state: MachineState | None = None
    app_name: str = ""
    data: dict[str, dict[str, Any]] = field(default_factory=dict)
