"""The status decision table and the machine state file."""

from __future__ import annotations

import os
import stat

import pytest

from dokploy_provider.errors import ReadyTimeout, StateError
from dokploy_provider.state import MachineFolder, MachineState
from dokploy_provider.status import Observation, Status, decide, docker_status_is_young


def _decide(**kw: object) -> Status:
    obs = Observation(
        **{"compose_status": "done", "container_states": [], "sshd_answers": None, **kw}
    )  # type: ignore[arg-type]
    return decide(obs, deploy_timeout=600, target="root@h:2222")


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({"container_states": ["running"], "sshd_answers": True}, Status.RUNNING),
        ({"container_states": ["running"], "sshd_answers": False}, Status.BUSY),
        ({"compose_status": "running", "deploy_running_seconds": 10.0}, Status.BUSY),
        ({"compose_status": "idle", "deploy_pending_seconds": 3.0}, Status.BUSY),
        ({"compose_status": "error"}, Status.STOPPED),
        ({"compose_status": "idle", "container_states": ["exited"]}, Status.STOPPED),
        ({"container_states": ["restarting"]}, Status.BUSY),
        ({"container_states": ["created"]}, Status.STOPPED),
        ({"container_states": [], "sshd_answers": True}, Status.RUNNING),
        ({"container_states": [], "sshd_answers": False}, Status.STOPPED),
        ({"compose_status": "idle", "container_states": []}, Status.STOPPED),
    ],
)
def test_decision_table(kw: dict[str, object], expected: Status) -> None:
    assert _decide(**kw) is expected


def test_busy_is_bounded() -> None:
    with pytest.raises(ReadyTimeout, match="DOKPLOY_DEPLOY_TIMEOUT"):
        _decide(compose_status="running", deploy_running_seconds=601.0)
    with pytest.raises(ReadyTimeout, match="does not answer on root@h:2222"):
        _decide(container_states=["running"], sshd_answers=False, container_young=False)


@pytest.mark.parametrize(
    ("text", "young"),
    [
        ("Up Less than a second", True),
        ("Up 5 seconds", True),
        ("Up About a minute", True),
        ("Up 2 minutes", True),
        ("Up 10 minutes", False),
        ("Up 3 hours", False),
    ],
)
def test_docker_status_age(text: str, young: bool) -> None:
    assert docker_status_is_young(text, ready_timeout=120) is young


def test_state_round_trip_is_atomic_and_private(tmp_path) -> None:
    folder = MachineFolder(tmp_path / "m")
    folder.ensure()
    assert folder.load() is None
    state = MachineState(machine_id="ws1", compose_id="c1", ssh_host="h", ssh_port=2222)
    folder.save(state)
    assert folder.load() == state
    mode = stat.S_IMODE(os.stat(folder.state_path).st_mode)
    assert mode == 0o600
    assert not [p for p in folder.path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ('{"schema": 1, "machine_id": "ws1"', "corrupt"),
        ("", "corrupt"),
        ('{"schema": 99, "machine_id": "ws1"}', "not a schema-1"),
        ('{"schema": 1, "surprise": true, "machine_id": "ws1"}', "unexpected content"),
    ],
)
def test_corrupt_state_is_reported(tmp_path, content: str, fragment: str) -> None:
    folder = MachineFolder(tmp_path)
    folder.state_path.write_text(content)
    with pytest.raises(StateError, match=fragment):
        folder.load()


def test_unwritable_folder_is_a_state_error(tmp_path) -> None:
    if os.geteuid() == 0:
        folder = MachineFolder(tmp_path / "file-not-dir")
        (tmp_path / "file-not-dir").write_text("x")
    else:  # pragma: no cover - CI runs as root
        folder = MachineFolder("/proc/forbidden")
    with pytest.raises(StateError):
        folder.ensure()


def test_installation_owner_lives_beside_machines_and_migrates_the_old_file(tmp_path) -> None:
    from dokploy_provider.state import installation_owner

    machines = tmp_path / "contexts" / "default" / "machines"
    machines.mkdir(parents=True)
    (machines / ".dokploy-provider-owner").write_text("0123456789ab\n")
    assert installation_owner(machines) == "0123456789ab"
    # `devpod machine list` fails on any entry of machines/ that is not a machine folder.
    assert list(machines.iterdir()) == []
    assert (machines.parent / "dokploy-provider-owner").read_text().strip() == "0123456789ab"
    assert installation_owner(machines) == "0123456789ab"


def test_a_locked_machine_says_what_it_waits_for_and_gives_up(tmp_path, caplog) -> None:
    import logging
    import subprocess
    import sys
    import textwrap

    import pytest

    from dokploy_provider.errors import ReadyTimeout
    from dokploy_provider.state import MachineFolder, machine_lock

    folder = MachineFolder(tmp_path / "ws1")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import sys, time
            sys.argv = ["dokploy-provider", "create"]
            from dokploy_provider.state import MachineFolder, machine_lock
            with machine_lock(MachineFolder({str(folder.path)!r})):
                print("locked", flush=True)
                time.sleep(30)
        """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        provider_logger = logging.getLogger("dokploy_provider")
        propagate, provider_logger.propagate = provider_logger.propagate, True
        with (
            caplog.at_level(logging.INFO, logger="dokploy_provider"),
            pytest.raises(ReadyTimeout) as info,
            machine_lock(folder, timeout=1.5),
        ):
            pass
        said = f"dokploy-provider create (pid {holder.pid})"
        assert said in str(info.value)
        assert f"Waiting for {said} to finish with machine ws1" in caplog.text
    finally:
        logging.getLogger("dokploy_provider").propagate = propagate
        holder.kill()
        holder.wait()
    with machine_lock(folder, timeout=5):  # free again once the holder is gone
        pass
