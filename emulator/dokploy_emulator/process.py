"""The emulator as a separate process, as ``make demo``, ``make bench`` and the tests run it.

The API key travels in ``DOKPLOY_EMULATOR_API_KEY`` (never in the process arguments), the
port is the kernel's pick, and the ready line on stdout gives the URL.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from urllib.request import Request, urlopen

from .versions import DEFAULT_VERSION

#: Where the emulator reads its API key (keeps it out of process listings).
API_KEY_ENV = "DOKPLOY_EMULATOR_API_KEY"


class EmulatorStartError(RuntimeError):
    """The emulator process did not print its ready line."""


@dataclass
class EmulatorProcess:
    """A running ``python -m dokploy_emulator``."""

    url: str
    token: str
    version: str
    proc: subprocess.Popen[str]
    remote_servers: list[str] = field(default_factory=list)

    def admin(self, path: str, payload: dict[str, Any] | None = None) -> Any:
        """Call an ``/__emulator/`` endpoint: POST with ``payload``, else GET."""
        data = json.dumps(payload).encode() if payload is not None else None
        request = Request(  # noqa: S310 - the emulator's own http:// URL
            f"{self.url}/__emulator/{path}",
            data=data,
            method="POST" if data is not None else "GET",
            headers={"Content-Type": "application/json"},
        )
        return _json(request)

    def api(self, procedure: str, **query: str) -> Any:
        """GET one API query with the key, as a client would."""
        url = f"{self.url}/api/{procedure}" + (f"?{urlencode(query)}" if query else "")
        return _json(Request(url, headers={"x-api-key": self.token}))  # noqa: S310

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (the emulator then stops every workspace it started), SIGKILL if need be."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def _json(request: Request) -> Any:
    with urlopen(request, timeout=10) as response:  # noqa: S310 - the emulator on loopback
        body = response.read()
    return json.loads(body) if body else None


def launch(
    state_dir: Path,
    *,
    version: str = DEFAULT_VERSION,
    runtime: str = "sshd",
    remote_servers: Sequence[str] = (),
    log_path: Path | None = None,
    extra_args: Sequence[str] = (),
    label: str = "emu",
) -> EmulatorProcess:
    """Start the emulator on a free port and wait for its ready line."""
    token = f"{label}-{secrets.token_urlsafe(24)}"
    args = [sys.executable, "-m", "dokploy_emulator", "--port", "0", "--version", version]
    args += ["--state-dir", str(state_dir), "--runtime", runtime, *extra_args]
    for name in remote_servers:
        args += ["--remote-server", name]
    log = (log_path or state_dir.with_suffix(".log")).open("w")
    try:
        proc = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env={**os.environ, API_KEY_ENV: token},
        )
    finally:
        log.close()
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "ready" not in line:
        proc.kill()
        proc.wait(5)
        raise EmulatorStartError(f"the emulator did not start ({line.strip()!r}); see {log.name}")
    url = line.split("url=", 1)[1].split()[0]
    return EmulatorProcess(url, token, version, proc, list(remote_servers))
