"""The emulator reads compose files as Docker Compose does (YAML 1.2)."""

from __future__ import annotations

from dokploy_emulator.compose_file import parse_compose


def test_an_unquoted_short_port_is_a_port_mapping_not_a_base_60_integer() -> None:
    spec = parse_compose(
        "services:\n  a:\n    image: x\n    ports:\n      - 2222:22\n      - 22\n"
        "volumes:\n  v:\n    external: true\n",
        {},
        "proj",
    )
    (service,) = spec.services
    assert [(p.published, p.target) for p in service.ports] == [(2222, 22)]
    assert spec.external_volumes == frozenset({"v"})  # booleans still booleans
