"""`list` and `cleanup`: our workspaces found by their marker; orphans removed only on --yes,
and never another installation's."""

from __future__ import annotations

import json
import shutil

import httpx

from .conftest import DevPod, EmulatorProcess


def _own(devpod: DevPod, verb: str, *args: str):  # type: ignore[no-untyped-def]
    """Run one of our own commands the way a user would, from a shell with the options set."""
    return devpod.run(verb, None, DEVPOD_HOME=str(devpod.home), extra_args=args)


def _composes(emu: EmulatorProcess) -> list[str]:
    return sorted(c["name"] for c in emu.admin("state")["composes"])


def test_list_and_cleanup(emulator_latest: EmulatorProcess, devpod_factory, tmp_path) -> None:
    devpod = devpod_factory(emulator_latest)
    for machine in ("ws1", "ws2"):
        assert devpod.run("create", machine).returncode == 0
    # another user of the same Dokploy: a different DevPod home, so another installation
    other = DevPod(emulator_latest, tmp_path / "other-home", dict(devpod.options))
    other.home.mkdir()
    assert other.run("create", "theirs").returncode == 0
    # a compose that is not a DevPod workspace at all
    env_id = emulator_latest.admin("state")["environments"][0]["environmentId"]
    httpx.post(
        f"{emulator_latest.url}/api/compose.create",
        headers={"x-api-key": emulator_latest.token},
        json={"name": "my-app", "environmentId": env_id},
    ).raise_for_status()
    # DevPod forgot ws2 (its machine folder is gone) but the compose stayed: an orphan
    shutil.rmtree(devpod.machine_folder("ws2"))

    listed = _own(devpod, "list", "--json")
    assert listed.returncode == 0, listed.err
    rows = {row["machine"]: row for row in json.loads(listed.out)}
    assert set(rows) == {"ws1", "ws2", "theirs"}
    assert rows["ws1"]["orphan"] is False
    assert rows["ws2"]["orphan"] is True
    assert rows["theirs"]["orphan"] is False
    assert rows["theirs"]["owner"] == "another installation"
    assert rows["ws1"]["ssh"].startswith("127.0.0.1:")
    assert rows["ws1"]["state"] == "done/running"

    plain = _own(devpod, "list")
    assert [line.split("\t")[0] for line in plain.out.splitlines()] == ["ws1", "ws2", "theirs"]

    dry = _own(devpod, "cleanup")
    assert dry.returncode == 0
    assert [line.split("\t")[0] for line in dry.out.splitlines()] == ["ws2"]
    assert "cleanup --yes" in dry.err
    assert _composes(emulator_latest) == ["my-app", "theirs", "ws1", "ws2"]

    done = _own(devpod, "cleanup", "--yes")
    assert done.returncode == 0, done.err
    assert _composes(emulator_latest) == ["my-app", "theirs", "ws1"]
    assert "No orphaned workspaces" in _own(devpod, "cleanup").err
    assert devpod.run("status", "ws1").out.strip() == "Running"
