"""Many creates at once, crashes between API calls, and verbs racing each other."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from e2e.conftest import PROVIDER, DevPod, EmulatorProcess

WORDS = {"Running", "Busy", "Stopped", "NotFound"}


def _state(emu: EmulatorProcess) -> dict:
    return emu.admin("state")


@pytest.mark.slow
def test_ten_creates_at_once(emulator_latest: EmulatorProcess, devpod_factory) -> None:
    devpod = devpod_factory(emulator_latest)
    machines = [f"ws{i}" for i in range(10)]
    with ThreadPoolExecutor(len(machines)) as pool:
        results = list(pool.map(lambda m: devpod.run("create", m, timeout=240), machines))
    assert [r.returncode for r in results] == [0] * 10, [r.err for r in results if r.returncode]
    state = _state(emulator_latest)
    assert sorted(c["name"] for c in state["composes"]) == sorted(machines)
    ports = [
        json.loads((devpod.machine_folder(m) / "dokploy-machine.json").read_text())["ssh_port"]
        for m in machines
    ]
    assert len(set(ports)) == 10
    # concurrent first creates may each make the project; exactly one survives
    assert [p["name"] for p in state["projects"]].count("devpod-workspaces") == 1
    with ThreadPoolExecutor(5) as pool:
        words = list(pool.map(lambda m: devpod.run("status", m).out.strip(), machines))
    assert words == ["Running"] * 10


def _project_made(state: dict) -> bool:
    return bool(state["projects"]) and not state["composes"]


def _compose_made(state: dict) -> bool:
    return bool(state["composes"]) and not state["composes"][0].get("composeFile")


def _file_sent(state: dict) -> bool:
    return (
        bool(state["composes"])
        and bool(state["composes"][0].get("composeFile"))
        and not state["deployments"]
    )


def _deploy_queued(state: dict) -> bool:
    return bool(state["deployments"]) or bool(state.get("queuedJobs"))


CRASH_POINTS: dict[str, Callable[[dict], bool]] = {
    "after-project": _project_made,
    "after-compose-create": _compose_made,
    "after-compose-file": _file_sent,
    "after-deploy": _deploy_queued,
}


def _crash_create_at(devpod: DevPod, emu: EmulatorProcess, point: str) -> None:
    """Start `create`, SIGKILL it (as DevPod does) once Dokploy shows ``point`` was reached."""
    emu.admin("faults", {"delay_ms": 150})
    devpod.machine_folder("ws1").mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [PROVIDER, "create"],
        env=devpod.env("ws1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            if CRASH_POINTS[point](_state(emu)):
                break
            assert proc.poll() is None, f"create finished before reaching {point}"
            time.sleep(0.01)
        else:
            pytest.fail(f"create never reached {point}")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        emu.admin("reset", {})


@pytest.mark.parametrize("point", list(CRASH_POINTS))
def test_create_after_a_crash_resumes_without_orphans(
    point: str, emulator_latest: EmulatorProcess, devpod_factory
) -> None:
    devpod = devpod_factory(emulator_latest)
    _crash_create_at(devpod, emulator_latest, point)
    again = devpod.run("create")
    assert again.returncode == 0, again.err
    state = _state(emulator_latest)
    assert [c["name"] for c in state["composes"]] == ["ws1"]
    assert len([c for c in state["containers"] if c["state"] == "running"]) == 1
    assert devpod.run("status").out.strip() == "Running"
    assert devpod.run("command", command="echo ok").out == "ok\n"


@pytest.mark.parametrize("point", list(CRASH_POINTS))
def test_delete_of_a_half_created_workspace_cleans_up(
    point: str, emulator_latest: EmulatorProcess, devpod_factory
) -> None:
    devpod = devpod_factory(emulator_latest)
    _crash_create_at(devpod, emulator_latest, point)
    deleted = devpod.run("delete")
    assert deleted.returncode == 0, deleted.err
    state = _state(emulator_latest)
    assert state["composes"] == []
    assert state["containers"] == []
    assert not (devpod.machine_folder("ws1") / "dokploy-machine.json").exists()


def test_status_during_create_and_delete_is_always_a_word(
    emulator_latest: EmulatorProcess, devpod_factory
) -> None:
    devpod = devpod_factory(emulator_latest)
    for verb in ("create", "delete"):
        emulator_latest.admin("faults", {"delay_ms": 100})
        proc = subprocess.Popen(
            [PROVIDER, verb],
            env=devpod.env("ws1"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        seen = set()
        while proc.poll() is None:
            result = devpod.run("status")
            assert result.returncode == 0, result.err
            seen.add(result.out.strip())
        assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
        assert seen <= WORDS, seen
        emulator_latest.admin("reset", {})
    assert devpod.run("status").out.strip() == "NotFound"


def test_token_never_in_process_arguments(emulator_latest: EmulatorProcess, devpod_factory) -> None:
    devpod = devpod_factory(emulator_latest)
    emulator_latest.admin("faults", {"delay_ms": 100})
    proc = subprocess.Popen(
        [PROVIDER, "create"],
        env=devpod.env("ws1", DEVPOD_DEBUG="true"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    token = emulator_latest.token.encode()
    while proc.poll() is None:
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                assert token not in cmdline.read_bytes(), f"token in {cmdline}"
            except OSError:
                continue
        time.sleep(0.05)
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    assert token not in out + err
