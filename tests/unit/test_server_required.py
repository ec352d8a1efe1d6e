"""Whether a Dokploy needs a server for composes is asked before any create (respx)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from dokploy_provider.dokploy import DokployClient
from dokploy_provider.errors import ConfigurationError
from dokploy_provider.server_required import (
    CLOUD,
    REMOTE_ONLY,
    require_server,
    server_requirement,
)
from dokploy_provider.urls import parse_server_url

SERVER = "https://dokploy.example.com"


def make_client(router: respx.Router) -> DokployClient:
    router.get("/settings.getDokployVersion").respond(json="v0.30.2")
    return DokployClient(
        parse_server_url(SERVER), "secret-token", transport=httpx.MockTransport(router.handler)
    )


@pytest.fixture
def router() -> respx.Router:
    return respx.Router(base_url=f"{SERVER}/api", assert_all_called=False)


SERVERS = [
    {"serverId": "srv-build", "name": "builder", "serverType": "build", "ipAddress": "10.0.0.9"},
    {"serverId": "srv-a", "name": "edge-a", "serverType": "deploy", "ipAddress": "10.0.0.1"},
]


def _dokploy(router: respx.Router, cloud: bool, web: Any) -> None:
    router.get("/settings.isCloud").respond(json=cloud)
    if isinstance(web, int):
        router.get("/settings.getWebServerSettings").respond(
            web, json={"message": "no such procedure", "code": "NOT_FOUND"}
        )
    else:
        router.get("/settings.getWebServerSettings").respond(json=web)
    router.get("/server.all").respond(json=SERVERS)


@pytest.mark.parametrize(
    ("cloud", "web", "reason"),
    [
        (True, None, CLOUD),  # Cloud answers null for the web server's settings
        (False, {"serverIp": "", "remoteServersOnly": True}, REMOTE_ONLY),
        (False, {"serverIp": "", "remoteServersOnly": False}, ""),
        (False, {"serverIp": ""}, ""),  # before v0.29.6: no such setting
        (False, 404, ""),  # a Dokploy without the query
    ],
)
def test_server_requirement(router: respx.Router, cloud: bool, web: Any, reason: str) -> None:
    _dokploy(router, cloud, web)
    assert server_requirement(make_client(router)) == reason


def test_required_server_missing_lists_the_deploy_servers(router: respx.Router) -> None:
    _dokploy(router, True, None)
    with pytest.raises(ConfigurationError) as caught:
        require_server(make_client(router), "  ")
    assert "DOKPLOY_SERVER_ID is empty" in str(caught.value)
    assert caught.value.hint is not None
    assert "srv-a (edge-a)" in caught.value.hint and "srv-build" not in caught.value.hint


def test_a_set_server_is_not_questioned(router: respx.Router) -> None:
    cloud = router.get("/settings.isCloud").respond(json=True)
    require_server(make_client(router), "srv-a")
    assert not cloud.called
