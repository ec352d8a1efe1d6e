"""Ports that Dokploy applications and databases publish: how projects list them on each
version, what ``<kind>.one`` says they hold, and which of them block an SSH port where."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from dokploy_provider import dokploy
from dokploy_provider.dokploy import DokployClient
from dokploy_provider.errors import NotFound
from dokploy_provider.models import Project, Service, ServiceRef
from dokploy_provider.port_claim import service_ports_on_server
from dokploy_provider.urls import parse_server_url

SERVER = "http://203.0.113.10:3000"
TOKEN = "devpodTESTkeyAbCdEfGhIjKlMnOpQrStUv"


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dokploy, "RETRY_BACKOFF_SECONDS", 0.0)


@pytest.fixture
def router() -> respx.Router:
    router = respx.Router(base_url=f"{SERVER}/api", assert_all_called=False)
    router.get("/settings.getDokployVersion").respond(json="v0.30.2")
    return router


def client_for(router: respx.Router) -> DokployClient:
    return DokployClient(
        parse_server_url(SERVER), TOKEN, transport=httpx.MockTransport(router.handler)
    )


def project(**lists: Any) -> dict[str, Any]:
    return {"projectId": "p1", "name": "apps", **lists}


def test_service_refs_on_v0_22_are_full_rows_on_the_project() -> None:
    parsed = Project.model_validate(
        project(
            applications=[{"applicationId": "a1", "name": "web", "appName": "web-x"}],
            postgres=[{"postgresId": "pg1", "externalPort": 5432}],
            compose=[],
        )
    )
    assert parsed.all_service_refs == [
        ServiceRef("applications", "a1"),
        ServiceRef("postgres", "pg1"),
    ]


def test_service_refs_from_v0_28_3_are_ids_inside_environments() -> None:
    parsed = Project.model_validate(
        project(
            environments=[
                {
                    "environmentId": "e1",
                    "name": "production",
                    "applications": [{"applicationId": "a1"}],
                    "mariadb": [],
                    "mongo": [{"mongoId": "m1"}],
                    "mysql": [{"mysqlId": "my1"}],
                    "redis": [{"redisId": "r1"}],
                    "libsql": [{"libsqlId": "l1"}, {"name": "no id"}],
                    "compose": [{"composeId": "c1", "name": "ws1"}],
                },
                {"environmentId": "e2", "name": "staging", "postgres": [{"postgresId": "pg2"}]},
            ]
        )
    )
    assert [(r.kind, r.service_id) for r in parsed.all_service_refs] == [
        ("applications", "a1"),
        ("mysql", "my1"),
        ("mongo", "m1"),
        ("redis", "r1"),
        ("libsql", "l1"),
        ("postgres", "pg2"),
    ]
    assert [c.compose_id for c in parsed.all_composes] == ["c1"]


@pytest.mark.parametrize(
    ("ref", "endpoint", "param"),
    [
        (ServiceRef("applications", "a1"), "application.one", "applicationId"),
        (ServiceRef("postgres", "a1"), "postgres.one", "postgresId"),
        (ServiceRef("libsql", "a1"), "libsql.one", "libsqlId"),
    ],
)
def test_get_service_asks_the_kinds_one_query(
    router: respx.Router, ref: ServiceRef, endpoint: str, param: str
) -> None:
    route = router.get(f"/{endpoint}").respond(json={"name": "x", "serverId": None})
    service = client_for(router).get_service(ref)
    assert isinstance(service, Service)
    assert dict(route.calls.last.request.url.params) == {param: "a1"}


def test_get_service_of_a_deleted_one_is_not_found(router: respx.Router) -> None:
    router.get("/redis.one").respond(404, json={"message": "Redis not found", "code": "NOT_FOUND"})
    with pytest.raises(NotFound):
        client_for(router).get_service(ServiceRef("redis", "gone"))


def test_tcp_host_ports_of_each_kind() -> None:
    application = Service.model_validate(
        {
            "name": "web",
            "ports": [
                {"publishedPort": 2222, "targetPort": 22, "protocol": "tcp", "publishMode": "host"},
                {"publishedPort": 2223, "targetPort": 53, "protocol": "udp"},
                {"publishedPort": 8080, "targetPort": 80, "publishMode": "ingress"},
            ],
        }
    )
    assert application.tcp_host_ports() == {2222, 8080}  # a UDP port leaves TCP free
    assert Service.model_validate({"externalPort": 2230}).tcp_host_ports() == {2230}
    assert Service.model_validate({"externalPort": None}).tcp_host_ports() == set()
    libsql = {"externalPort": 2240, "externalGRPCPort": 2241, "externalAdminPort": 2242}
    assert Service.model_validate(libsql).tcp_host_ports() == {2240, 2241, 2242}


def test_service_ports_are_counted_per_server_and_unreadable_ones_skipped(
    router: respx.Router,
) -> None:
    router.get("/project.all").respond(
        json=[
            project(
                environments=[
                    {
                        "environmentId": "e1",
                        "name": "production",
                        "applications": [{"applicationId": "a1"}],
                        "postgres": [{"postgresId": "pg1"}],
                        "redis": [{"redisId": "r1"}],
                        "compose": [],
                    }
                ]
            )
        ]
    )
    router.get("/application.one").respond(
        json={
            "name": "web",
            "appName": "web-abc",
            "serverId": "s1",
            "ports": [{"publishedPort": 2224, "targetPort": 22, "protocol": "tcp"}],
        }
    )
    router.get("/postgres.one").respond(
        json={"name": "db", "appName": "db-abc", "serverId": None, "externalPort": 2225}
    )
    router.get("/redis.one").respond(
        401,
        json={"message": "You are not authorized to access this service", "code": "UNAUTHORIZED"},
    )
    client = client_for(router)
    on_host = service_ports_on_server(client, None)
    assert {port: [s.app_name for s in held] for port, held in on_host.items()} == {
        2225: ["db-abc"]
    }
    assert set(service_ports_on_server(client, "s1")) == {2224}


def test_a_project_list_at_hand_is_not_read_again(router: respx.Router) -> None:
    listing = router.get("/project.all").respond(json=[])
    given = [Project.model_validate(project(postgres=[{"postgresId": "pg1"}]))]
    router.get("/postgres.one").respond(json={"externalPort": 2226})
    assert set(service_ports_on_server(client_for(router), None, projects=given)) == {2226}
    assert listing.call_count == 0
