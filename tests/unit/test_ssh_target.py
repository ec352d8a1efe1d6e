"""``SSHTarget.of``: what ``ssh.connect`` is given, taken from a machine state before any
network is touched."""

from __future__ import annotations

import pytest

from dokploy_provider.errors import StateError
from dokploy_provider.keys import generate_keypair, public_key_blob
from dokploy_provider.ssh import SSHTarget
from dokploy_provider.state import MachineState


def _state(**changes: object) -> MachineState:
    pair = generate_keypair()
    base = MachineState(
        machine_id="m1",
        ssh_host="203.0.113.7",
        ssh_port=2231,
        host_key_public=pair.public_line,
        host_key_fingerprint=pair.fingerprint,
    )
    return base.replace(**changes)


def test_target_carries_address_user_and_the_pinned_key() -> None:
    state = _state()
    target = SSHTarget.of(state)
    assert (target.host, target.port, target.user) == ("203.0.113.7", 2231, state.ssh_user)
    assert target.address == state.target
    assert target.host_key_fingerprint == state.host_key_fingerprint
    assert target.host_key_blob == public_key_blob(state.host_key_public or "")


def test_fingerprint_is_derived_from_the_public_key_when_only_that_is_recorded() -> None:
    full = _state()
    target = SSHTarget.of(full.replace(host_key_fingerprint=None))
    assert target.host_key_fingerprint == full.host_key_fingerprint


def test_only_a_fingerprint_pins_without_a_blob() -> None:
    target = SSHTarget.of(_state(host_key_public=None))
    assert target.host_key_blob is None and target.host_key_fingerprint.startswith("SHA256:")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ssh_host": None}, "no SSH address"),
        ({"ssh_port": None}, "no SSH address"),
        ({"host_key_public": None, "host_key_fingerprint": None}, "no pinned workspace host key"),
        (
            {"host_key_public": "ssh-ed25519 !!!"},
            "pinned host key in the machine state is malformed",
        ),
    ],
)
def test_incomplete_state_is_a_state_error(changes: dict[str, object], message: str) -> None:
    with pytest.raises(StateError, match=message):
        SSHTarget.of(_state(**changes))
