"""`dokploy-provider status` answers from the stdlib fast path, exactly as the full path would.

The full path is the click application; it runs whenever argv is not exactly ``status``, so
``dokploy-provider -q status`` (quiet changes nothing for status) is the reference here.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request

from support.ports import free_port

from .conftest import HEAVY, PROVIDER, DevPod, Result, run_with_importtime


def _fast(devpod: DevPod, **extra: str) -> tuple[Result, set[str]]:
    """Run `status` as DevPod does, under `-X importtime`; the result and the modules loaded."""
    return run_with_importtime(devpod, "status", **extra)


def _full(devpod: DevPod, **extra: str) -> Result:
    devpod.machine_folder("ws1").mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [PROVIDER, "-q", "status"],
        env=devpod.env("ws1", **extra),
        capture_output=True,
        timeout=60,
        cwd=devpod.home,
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def _same_answer(devpod: DevPod, **extra: str) -> Result:
    """Both paths on the same machine: same stdout, stderr and exit code; fast path stays light."""
    fast, modules = _fast(devpod, **extra)
    full = _full(devpod, **extra)
    assert (fast.returncode, fast.out, fast.err) == (full.returncode, full.out, full.err)
    assert not modules & set(HEAVY), f"the fast path imported {sorted(modules & set(HEAVY))}"
    return fast


def test_fast_path_matches_the_full_path_through_a_lifecycle(
    emulator_latest, devpod_factory
) -> None:
    devpod = devpod_factory(emulator_latest)
    assert _same_answer(devpod).out == "NotFound\n"  # no machine yet

    assert devpod.run("create").returncode == 0
    assert _same_answer(devpod).out == "Running\n"

    assert devpod.run("stop").returncode == 0
    assert _same_answer(devpod).out == "Stopped\n"

    rejected = _same_answer(devpod, DOKPLOY_API_TOKEN="wrong-key-0123456789")
    assert rejected.returncode == 4
    assert "rejected the API key" in rejected.err
    assert "wrong-key-0123456789" not in rejected.err

    unreachable = _same_answer(
        devpod, DOKPLOY_SERVER_URL=f"http://127.0.0.1:{free_port()}", DOKPLOY_HTTP_TIMEOUT="2s"
    )
    assert unreachable.returncode == 3
    assert "connection refused" in unreachable.err

    assert devpod.run("start").returncode == 0
    assert _same_answer(devpod).out == "Running\n"

    # The compose deleted behind DevPod's back: a 404 on compose.one is NotFound, exit 0.
    state = json.loads((devpod.machine_folder("ws1") / "dokploy-machine.json").read_text())
    request = urllib.request.Request(
        f"{emulator_latest.url}/api/compose.delete",
        data=json.dumps({"composeId": state["compose_id"], "deleteVolumes": True}).encode(),
        headers={"x-api-key": emulator_latest.token, "Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).close()
    assert _same_answer(devpod).out == "NotFound\n"
    assert devpod.run("delete").returncode == 0


def test_invalid_options_are_reported_by_the_full_path(emulator_latest, devpod_factory) -> None:
    devpod = devpod_factory(emulator_latest)
    fast, modules = _fast(devpod, WORKSPACE_MEMORY="1m")
    full = _full(devpod, WORKSPACE_MEMORY="1m")
    assert fast.returncode == full.returncode == 2
    assert fast.err == full.err
    assert "WORKSPACE_MEMORY" in fast.err
    assert "pydantic" in modules  # the fast path declined and the full path judged
