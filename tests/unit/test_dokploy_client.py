"""DokployClient against respx-mocked Dokploy servers of v0.22.7, v0.26.0 and v0.30.2."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
from support.ports import free_port

from dokploy_provider import dokploy, log
from dokploy_provider.dokploy import DokployClient
from dokploy_provider.errors import (
    AuthenticationFailed,
    ConfigurationError,
    Conflict,
    DokployError,
    NotFound,
    PermissionDenied,
    ServerError,
    ServerUnreachable,
    UnexpectedResponse,
    UnsupportedVersion,
    ValidationFailed,
)
from dokploy_provider.models import (
    Compose,
    ComposeSummary,
    Container,
    Deployment,
    DokployVersion,
    Environment,
    Project,
    Server,
)
from dokploy_provider.urls import parse_server_url

SERVER = "http://203.0.113.10:3000"
API = f"{SERVER}/api"
TOKEN = "devpodTESTkeyAbCdEfGhIjKlMnOpQrStUv"

# -- sample bodies -----------------------------------------------------------------------------

COMPOSE_ROW_V22: dict[str, Any] = {
    "composeId": "c1",
    "name": "ws1",
    "appName": "devpod-ws1-k3x9a2",
    "description": None,
    "env": "SECRET=1",
    "composeFile": "services: {}\n",
    "composeStatus": "done",
    "sourceType": "raw",
    "composeType": "docker-compose",
    "projectId": "p1",
    "serverId": None,
    "createdAt": "2025-05-01T10:00:00.000Z",
    "domains": [],
}

SERVER_ROW: dict[str, Any] = {
    "serverId": "s1",
    "name": "builder",
    "description": None,
    "ipAddress": "198.51.100.7",
    "port": 22,
    "username": "root",
    "appName": "server-abc",
    "enableDockerCleanup": True,
    "createdAt": "2025-05-01T10:00:00.000Z",
    "organizationId": "o1",
    "serverStatus": "active",
    "serverType": "deploy",
    "sshKeyId": "k1",
    "metricsConfig": {"server": {}},
    "totalSum": 3,
}


def compose_row(**over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "composeId": "c1",
        "name": "ws1",
        "appName": "devpod-ws1-k3x9a2",
        "description": "DevPod workspace",
        "env": "",
        "composeFile": "services: {}\n",
        "composeStatus": "idle",
        "sourceType": "raw",
        "composeType": "docker-compose",
        "environmentId": "e1",
        "serverId": None,
        "createdAt": "2026-08-20T10:00:00.000Z",
        "deployments": [],
        "mounts": [],
        "domains": [],
        "github": None,
        "server": None,
        "environment": {"environmentId": "e1", "projectId": "p1", "project": {"projectId": "p1"}},
    }
    row.update(over)
    return row


def deployment_row(deployment_id: str, created: str, status: str = "done") -> dict[str, Any]:
    return {
        "deploymentId": deployment_id,
        "title": "Manual deployment",
        "description": "",
        "status": status,
        "logPath": f"/etc/dokploy/logs/x/{deployment_id}.log",
        "pid": None,
        "composeId": "c1",
        "serverId": None,
        "createdAt": created,
        "startedAt": created,
        "finishedAt": None,
        "errorMessage": None,
    }


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dokploy, "RETRY_BACKOFF_SECONDS", 0.0)


@pytest.fixture
def router() -> respx.Router:
    return respx.Router(base_url=API, assert_all_called=False)


@pytest.fixture
def provider_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    # log.setup() (run by other tests) stops propagation; hook the handler on our logger too.
    logger = logging.getLogger(log.LOGGER_NAME)
    old_level = logger.level
    logger.addHandler(caplog.handler)
    logger.setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    try:
        yield caplog
    finally:
        logger.removeHandler(caplog.handler)
        logger.setLevel(old_level)


def make_client(
    router: respx.Router, version: str | None = "v0.30.2", **kwargs: Any
) -> DokployClient:
    if version is not None:
        router.get("/settings.getDokployVersion").respond(json=version)
    return DokployClient(
        parse_server_url(SERVER), TOKEN, transport=httpx.MockTransport(router.handler), **kwargs
    )


def sent_json(route: respx.Route) -> Any:
    request = route.calls.last.request
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-api-key"] == TOKEN
    return json.loads(request.content)


def sent_query(route: respx.Route) -> dict[str, str]:
    request = route.calls.last.request
    assert request.method == "GET"
    assert request.headers["x-api-key"] == TOKEN
    return dict(request.url.params)


def assert_no_token(exc: BaseException) -> None:
    texts = [str(exc), repr(exc), *(str(a) for a in exc.args)]
    if isinstance(exc, DokployError):
        texts += [exc.message, exc.hint or "", *exc.details]
    for text in texts:
        assert TOKEN not in text


# -- DokployVersion ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("v0.30.2", (0, 30, 2)),
        ("0.22.7", (0, 22, 7)),
        (" v1.2.3 ", (1, 2, 3)),
        ("v0.30.0-canary.4", (0, 30, 0)),
    ],
)
def test_version_parse(text: str, expected: tuple[int, int, int]) -> None:
    version = DokployVersion.parse(text)
    assert (version.major, version.minor, version.patch) == expected


@pytest.mark.parametrize("text", ["", "canary", "v1.2", "latest", "vX.Y.Z"])
def test_version_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        DokployVersion.parse(text)


def test_version_ordering_and_str() -> None:
    v22 = DokployVersion.parse("v0.22.7")
    assert v22 == DokployVersion(0, 22, 7)
    assert v22 < DokployVersion.parse("v0.22.10") < DokployVersion.parse("v0.25.0")
    assert DokployVersion.parse("v0.30.2") > DokployVersion.parse("v0.9.99")
    assert str(v22) == "v0.22.7"
    newest = DokployVersion.assume_newest("nightly")
    assert newest > DokployVersion.parse("v9.99.99")
    assert newest.is_assumed
    assert str(newest) == "nightly"
    assert DokployVersion(0, 22, 7) == DokployVersion.MINIMUM


@pytest.mark.parametrize(
    ("feature", "below", "at"),
    [
        ("has_environments", "v0.24.12", "v0.25.0"),
        ("has_kill_build", "v0.25.7", "v0.25.8"),
        ("has_read_logs", "v0.29.4", "v0.29.5"),
        ("update_unknown_is_empty", "v0.28.6", "v0.28.7"),
        ("create_accepts_source_type", "v0.29.14", "v0.30.0"),
    ],
)
def test_version_features(feature: str, below: str, at: str) -> None:
    assert getattr(DokployVersion.parse(below), feature) is False
    assert getattr(DokployVersion.parse(at), feature) is True
    assert getattr(DokployVersion.assume_newest("x"), feature) is True


def test_login_shell_stderr_breaks_remote_deploys_from_v0_28_2_to_v0_29_13() -> None:
    affected = [
        v
        for v in ("v0.28.1", "v0.28.2", "v0.29.13", "v0.29.14")
        if DokployVersion.parse(v).remote_deploy_fails_on_login_stderr
    ]
    assert affected == ["v0.28.2", "v0.29.13"]


# -- settings ----------------------------------------------------------------------------------


def test_version_is_fetched_once(router: respx.Router) -> None:
    client = make_client(router, "v0.30.2")
    assert client.version() == DokployVersion(0, 30, 2)
    assert client.version().raw == "v0.30.2"
    route = router.routes[0]
    assert route.call_count == 1
    request = route.calls.last.request
    assert request.method == "GET"
    assert str(request.url) == f"{API}/settings.getDokployVersion"
    assert request.headers["x-api-key"] == TOKEN
    assert request.headers["user-agent"].startswith("dokploy-provider/")
    assert "authorization" not in request.headers


@pytest.mark.parametrize("old", ["v0.22.6", "v0.21.0", "v0.18.3"])
def test_version_unsupported(router: respx.Router, old: str) -> None:
    client = make_client(router, old)
    with pytest.raises(UnsupportedVersion) as info:
        client.version()
    assert old in str(info.value)
    assert "v0.22.7" in str(info.value)
    assert info.value.exit_code == 6


def test_version_minimum_accepted(router: respx.Router) -> None:
    assert make_client(router, "v0.22.7").version() == DokployVersion.MINIMUM


def test_version_newer_than_tested_is_accepted(
    router: respx.Router, provider_logs: pytest.LogCaptureFixture
) -> None:
    assert make_client(router, "v0.31.0").version() == DokployVersion(0, 31, 0)
    assert any(
        r.levelno == logging.DEBUG and "newer than" in r.getMessage() for r in provider_logs.records
    )


def test_version_unparseable_assumed_newest(
    router: respx.Router, provider_logs: pytest.LogCaptureFixture
) -> None:
    version = make_client(router, "canary").version()
    assert version.is_assumed
    assert version.create_accepts_source_type
    assert any(r.levelno == logging.WARNING for r in provider_logs.records)


@pytest.mark.parametrize("body", [b"", b"123", b"{}"])
def test_version_wrong_body(router: respx.Router, body: bytes) -> None:
    router.get("/settings.getDokployVersion").respond(content=body)
    client = make_client(router, None)
    with pytest.raises(UnexpectedResponse, match=r"settings\.getDokployVersion"):
        client.version()


@pytest.mark.parametrize("body", [{"status": "ok"}, {"status": "not_cloud"}])
def test_health(router: respx.Router, body: dict[str, str]) -> None:
    route = router.get("/settings.health").respond(json=body)
    make_client(router).health()
    assert sent_query(route) == {}


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (httpx.Response(200, json="198.51.100.1"), "198.51.100.1"),
        (httpx.Response(200, json=""), ""),
        (httpx.Response(200, json=True), ""),
        (httpx.Response(200, json=None), ""),
        (httpx.Response(200, content=b""), ""),
    ],
)
def test_get_ip(router: respx.Router, response: httpx.Response, expected: str) -> None:
    router.get("/settings.getIp").mock(return_value=response)
    assert make_client(router).get_ip() == expected


# -- servers -----------------------------------------------------------------------------------


def test_list_servers(router: respx.Router) -> None:
    build = {**SERVER_ROW, "serverId": "s2", "serverType": "build", "serverStatus": "inactive"}
    old = {k: v for k, v in SERVER_ROW.items() if k != "serverType"} | {"serverId": "s3"}
    route = router.get("/server.all").respond(json=[SERVER_ROW, build, old])
    servers = make_client(router).list_servers()
    assert sent_query(route) == {}
    assert [s.server_id for s in servers] == ["s1", "s2", "s3"]
    assert all(isinstance(s, Server) for s in servers)
    assert servers[0].ip_address == "198.51.100.7"
    assert servers[0].port == 22
    assert servers[0].username == "root"
    assert servers[0].server_status == "active"
    assert servers[1].server_type == "build"
    assert servers[2].server_type == "deploy"


def test_get_server(router: respx.Router) -> None:
    route = router.get("/server.one").respond(json={**SERVER_ROW, "deployments": []})
    server = make_client(router).get_server("s1")
    assert sent_query(route) == {"serverId": "s1"}
    assert server.name == "builder"


def test_get_server_not_found(router: respx.Router) -> None:
    router.get("/server.one").respond(
        404, json={"message": "Server not found", "code": "NOT_FOUND"}
    )
    with pytest.raises(NotFound, match="Server not found"):
        make_client(router).get_server("nope")


# -- projects: the three API generations -------------------------------------------------------


def test_list_projects_v0_22_7_composes_on_project(router: respx.Router) -> None:
    route = router.get("/project.all").respond(
        json=[
            {
                "projectId": "p1",
                "name": "devpod",
                "description": None,
                "createdAt": "2025-05-01T10:00:00.000Z",
                "organizationId": "o1",
                "env": "",
                "applications": [],
                "compose": [COMPOSE_ROW_V22],
                "postgres": [],
            }
        ]
    )
    projects = make_client(router, "v0.22.7").list_projects()
    assert sent_query(route) == {}
    [project] = projects
    assert isinstance(project, Project)
    assert project.environments == []
    assert [c.compose_id for c in project.composes] == ["c1"]
    assert project.composes[0].app_name == "devpod-ws1-k3x9a2"
    assert project.composes[0].compose_status == "done"
    assert project.all_composes == project.composes


def test_list_projects_v0_26_environments_full_rows(router: respx.Router) -> None:
    full = {**COMPOSE_ROW_V22, "projectId": None, "environmentId": "e1"}
    router.get("/project.all").respond(
        json=[
            {
                "projectId": "p1",
                "name": "devpod",
                "description": "",
                "createdAt": "2025-10-01T10:00:00.000Z",
                "organizationId": "o1",
                "env": "",
                "environments": [
                    {
                        "environmentId": "e1",
                        "name": "production",
                        "isDefault": True,
                        "projectId": "p1",
                        "applications": [],
                        "compose": [full],
                    },
                    {"environmentId": "e2", "name": "devpod", "isDefault": False, "compose": []},
                ],
            }
        ]
    )
    [project] = make_client(router, "v0.26.0").list_projects()
    assert project.composes == []
    assert [e.environment_id for e in project.environments] == ["e1", "e2"]
    assert project.environments[0].is_default is True
    assert project.environments[1].project_id == "p1"  # filled in from the project
    assert project.environments[0].composes[0].compose_id == "c1"
    assert [c.compose_id for c in project.all_composes] == ["c1"]


def test_list_projects_v0_30_summaries(router: respx.Router) -> None:
    router.get("/project.all").respond(
        json=[
            {
                "projectId": "p1",
                "name": "devpod",
                "description": None,
                "createdAt": "2026-08-01T10:00:00.000Z",
                "organizationId": "o1",
                "env": "",
                "environments": [
                    {
                        "environmentId": "e1",
                        "name": "production",
                        "isDefault": True,
                        "applications": [],
                        "compose": [{"composeId": "c1", "name": "ws1", "composeStatus": "idle"}],
                        "mariadb": [],
                    }
                ],
                "projectTags": [],
            }
        ]
    )
    [project] = make_client(router, "v0.30.2").list_projects()
    summary = project.environments[0].composes[0]
    assert isinstance(summary, ComposeSummary)
    assert (summary.compose_id, summary.name, summary.compose_status) == ("c1", "ws1", "idle")
    assert summary.app_name is None


def test_get_project(router: respx.Router) -> None:
    route = router.get("/project.one").respond(
        json={
            "projectId": "p1",
            "name": "devpod",
            "environments": [
                {
                    "environmentId": "e1",
                    "name": "production",
                    "isDefault": True,
                    "compose": [
                        {
                            "composeId": "c1",
                            "name": "ws1",
                            "description": None,
                            "appName": "devpod-ws1-k3x9a2",
                            "createdAt": "2026-08-01T10:00:00.000Z",
                            "serverId": "s1",
                            "composeStatus": "done",
                            "server": {"name": "builder"},
                        }
                    ],
                }
            ],
            "projectTags": [],
        }
    )
    project = make_client(router).get_project("p1")
    assert sent_query(route) == {"projectId": "p1"}
    summary = project.environments[0].composes[0]
    assert summary.server_id == "s1"
    assert summary.app_name == "devpod-ws1-k3x9a2"
    assert project.environments[0].project_id == "p1"


def test_list_projects_wrong_shape(router: respx.Router) -> None:
    router.get("/project.all").respond(json={"projects": []})
    with pytest.raises(UnexpectedResponse, match=r"project\.all"):
        make_client(router).list_projects()


def test_list_projects_item_missing_field(router: respx.Router) -> None:
    router.get("/project.all").respond(json=[{"name": "x"}])
    with pytest.raises(UnexpectedResponse, match="projectId"):
        make_client(router).list_projects()


def test_create_project_v0_22_7_bare_project(router: respx.Router) -> None:
    route = router.post("/project.create").respond(
        json={"projectId": "p1", "name": "devpod", "description": "DevPod", "env": ""}
    )
    created = make_client(router, "v0.22.7").create_project("devpod", "DevPod")
    assert sent_json(route) == {"name": "devpod", "description": "DevPod"}
    assert created.project.project_id == "p1"
    assert created.environment is None
    assert created.project.environments == []


def test_create_project_v0_26_with_environment(router: respx.Router) -> None:
    route = router.post("/project.create").respond(
        json={
            "project": {"projectId": "p1", "name": "devpod", "description": None, "env": ""},
            "environment": {
                "environmentId": "e1",
                "name": "production",
                "description": "Production environment",
                "projectId": "p1",
                "isDefault": True,
                "env": "",
                "createdAt": "2025-10-01T10:00:00.000Z",
            },
        }
    )
    created = make_client(router, "v0.26.0").create_project("devpod")
    assert sent_json(route) == {"name": "devpod"}
    assert created.project.project_id == "p1"
    assert created.environment is not None
    assert created.environment.environment_id == "e1"
    assert created.environment.is_default is True
    assert [e.environment_id for e in created.project.environments] == ["e1"]


def test_create_project_v0_25_environment_without_is_default(router: respx.Router) -> None:
    router.post("/project.create").respond(
        json={
            "project": {"projectId": "p1", "name": "devpod"},
            "environment": {"environmentId": "e1", "name": "production"},
        }
    )
    created = make_client(router, "v0.25.0").create_project("devpod")
    assert created.environment is not None
    assert created.environment.is_default is None
    assert created.environment.project_id == "p1"


def test_create_project_empty_body(router: respx.Router) -> None:
    router.post("/project.create").respond(200)
    with pytest.raises(UnexpectedResponse, match=r"project\.create"):
        make_client(router).create_project("devpod")


def test_list_environments(router: respx.Router) -> None:
    route = router.get("/environment.byProjectId").respond(
        json=[
            {
                "environmentId": "e1",
                "name": "production",
                "description": "Production environment",
                "isDefault": True,
                "compose": [{"composeId": "c1", "name": "ws1", "composeStatus": "done"}],
                "project": {"projectId": "p1"},
            },
            {"environmentId": "e2", "name": "devpod", "projectId": "p1", "compose": []},
        ]
    )
    environments = make_client(router, "v0.26.0").list_environments("p1")
    assert sent_query(route) == {"projectId": "p1"}
    assert [e.name for e in environments] == ["production", "devpod"]
    assert all(isinstance(e, Environment) and e.project_id == "p1" for e in environments)
    assert environments[0].composes[0].compose_id == "c1"


def test_list_environments_before_v0_25_is_empty(router: respx.Router) -> None:
    route = router.get("/environment.byProjectId").respond(json=[])
    assert make_client(router, "v0.24.12").list_environments("p1") == []
    assert route.call_count == 0


def test_create_environment(router: respx.Router) -> None:
    route = router.post("/environment.create").respond(
        json={"environmentId": "e2", "name": "devpod", "description": "", "projectId": "p1"}
    )
    environment = make_client(router).create_environment("p1", "devpod")
    assert sent_json(route) == {"name": "devpod", "description": "", "projectId": "p1"}
    assert environment.environment_id == "e2"


def test_create_environment_before_v0_25(router: respx.Router) -> None:
    route = router.post("/environment.create").respond(json={})
    with pytest.raises(UnsupportedVersion, match=r"v0\.25\.0"):
        make_client(router, "v0.22.7").create_environment("p1", "devpod")
    assert route.call_count == 0


# -- compose -----------------------------------------------------------------------------------


CREATE_ARGS: dict[str, Any] = {
    "name": "ws1",
    "app_name": "devpod-ws1",
    "description": "DevPod workspace ws1",
    "project_id": "p1",
    "environment_id": "e1",
    "server_id": None,
}


def test_create_compose_v0_22_7_sends_project_id(router: respx.Router) -> None:
    route = router.post("/compose.create").respond(
        json={**COMPOSE_ROW_V22, "composeStatus": "idle", "sourceType": "github"}
    )
    compose = make_client(router, "v0.22.7").create_compose(**CREATE_ARGS)
    assert sent_json(route) == {
        "name": "ws1",
        "appName": "devpod-ws1",
        "description": "DevPod workspace ws1",
        "composeType": "docker-compose",
        "projectId": "p1",
    }
    assert isinstance(compose, Compose)
    assert compose.project_id == "p1"
    assert compose.source_type == "github"


def test_create_compose_v0_26_sends_environment_id(router: respx.Router) -> None:
    route = router.post("/compose.create").respond(json=compose_row(sourceType="github"))
    make_client(router, "v0.26.0").create_compose(
        **{**CREATE_ARGS, "server_id": "s1", "compose_file": "services: {}\n"}
    )
    assert sent_json(route) == {
        "name": "ws1",
        "appName": "devpod-ws1",
        "description": "DevPod workspace ws1",
        "composeType": "docker-compose",
        "environmentId": "e1",
        "serverId": "s1",
        "composeFile": "services: {}\n",
    }


def test_create_compose_v0_30_sends_source_type(router: respx.Router) -> None:
    route = router.post("/compose.create").respond(json=compose_row())
    compose = make_client(router, "v0.30.2").create_compose(
        **{**CREATE_ARGS, "project_id": None, "compose_file": "services: {}\n"}
    )
    body = sent_json(route)
    assert body["sourceType"] == "raw"
    assert body["environmentId"] == "e1"
    assert "projectId" not in body
    assert compose.app_name == "devpod-ws1-k3x9a2"
    assert compose.environment_id == "e1"
    assert compose.project_id == "p1"  # from the nested environment


def test_create_compose_needs_the_right_parent(router: respx.Router) -> None:
    client = make_client(router, "v0.30.2")
    with pytest.raises(ValueError, match="environment_id"):
        client.create_compose(**{**CREATE_ARGS, "environment_id": None})
    router2 = respx.Router(base_url=API, assert_all_called=False)
    old = make_client(router2, "v0.22.7")
    with pytest.raises(ValueError, match="project_id"):
        old.create_compose(**{**CREATE_ARGS, "project_id": None})


def test_get_compose(router: respx.Router) -> None:
    route = router.get("/compose.one").respond(
        json=compose_row(
            composeStatus="done",
            deployments=[
                deployment_row("d1", "2026-08-20T10:00:00.000Z"),
                deployment_row("d3", "2026-08-20T12:00:00.000Z", "running"),
                deployment_row("d2", "2026-08-20T11:00:00.000Z", "error"),
            ],
        )
    )
    compose = make_client(router).get_compose("c1")
    assert sent_query(route) == {"composeId": "c1"}
    assert compose.compose_id == "c1"
    assert compose.compose_status == "done"
    assert compose.compose_file == "services: {}\n"
    assert compose.compose_type == "docker-compose"
    assert compose.server_id is None
    assert [d.deployment_id for d in compose.deployments] == ["d3", "d2", "d1"]
    assert compose.deployments[0].status == "running"


def test_get_compose_v0_22_7(router: respx.Router) -> None:
    router.get("/compose.one").respond(json={**COMPOSE_ROW_V22, "project": {"projectId": "p1"}})
    compose = make_client(router, "v0.22.7").get_compose("c1")
    assert compose.project_id == "p1"
    assert compose.environment_id is None
    assert compose.deployments == []


def test_get_compose_not_found(router: respx.Router) -> None:
    router.get("/compose.one").respond(
        404,
        json={
            "message": "Compose not found",
            "code": "NOT_FOUND",
            "data": {"code": "NOT_FOUND", "httpStatus": 404, "path": "compose.one"},
        },
    )
    with pytest.raises(NotFound) as info:
        make_client(router).get_compose("gone")
    assert "Compose not found" in str(info.value)
    assert "compose.one" in str(info.value)
    assert info.value.endpoint == "compose.one"
    assert info.value.status_code == 404
    assert info.value.exit_code == 5


def test_update_compose_sends_only_given_fields(router: respx.Router) -> None:
    route = router.post("/compose.update").respond(json=compose_row(sourceType="raw"))
    client = make_client(router)
    compose = client.update_compose("c1", compose_file="x: 1\n", source_type="raw")
    assert sent_json(route) == {"composeId": "c1", "composeFile": "x: 1\n", "sourceType": "raw"}
    assert compose is not None
    assert compose.source_type == "raw"
    client.update_compose("c1", description="d", compose_status="idle")
    assert sent_json(route) == {"composeId": "c1", "description": "d", "composeStatus": "idle"}


def test_update_compose_empty_body_means_missing(router: respx.Router) -> None:
    router.post("/compose.update").respond(200, content=b"")
    assert make_client(router).update_compose("gone", compose_status="idle") is None


def test_update_unknown_compose_before_v0_28_7_is_none(router: respx.Router) -> None:
    router.post("/compose.update").respond(
        404, json={"message": "Compose not found", "code": "NOT_FOUND"}
    )
    assert make_client(router, "v0.28.6").update_compose("gone", compose_file="x") is None


def test_update_404_from_v0_28_7_is_not_found(router: respx.Router) -> None:
    router.post("/compose.update").respond(
        404, json={"message": "Compose not found", "code": "NOT_FOUND"}
    )
    with pytest.raises(NotFound):
        make_client(router, "v0.28.7").update_compose("gone", compose_file="x")


@pytest.mark.parametrize("method", ["deploy_compose", "redeploy_compose"])
@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, content=b""),
        httpx.Response(200, json={"success": True, "message": "Deployment queued"}),
        httpx.Response(
            200, json={"success": True, "message": "Deployment queued", "composeId": "c1"}
        ),
        httpx.Response(200, json=True),
    ],
)
def test_deploy_and_redeploy(router: respx.Router, method: str, response: httpx.Response) -> None:
    endpoint = "compose.deploy" if method == "deploy_compose" else "compose.redeploy"
    route = router.post(f"/{endpoint}").mock(return_value=response)
    client = make_client(router)
    assert getattr(client, method)("c1") is None
    assert sent_json(route) == {"composeId": "c1"}
    getattr(client, method)("c1", title="devpod create", description="by ws1")
    assert sent_json(route) == {
        "composeId": "c1",
        "title": "devpod create",
        "description": "by ws1",
    }


def test_deploy_unsuccessful_body(router: respx.Router) -> None:
    router.post("/compose.deploy").respond(json={"success": False, "message": "queue full"})
    with pytest.raises(ServerError, match="queue full"):
        make_client(router).deploy_compose("c1")


@pytest.mark.parametrize(
    ("method", "endpoint", "response"),
    [
        ("start_compose", "compose.start", httpx.Response(200, json=True)),
        ("stop_compose", "compose.stop", httpx.Response(200, json=True)),
        (
            "clean_queues",
            "compose.cleanQueues",
            httpx.Response(200, json={"success": True, "message": "Queues cleaned successfully"}),
        ),
        ("kill_build", "compose.killBuild", httpx.Response(200, content=b"")),
    ],
)
def test_simple_compose_mutations(
    router: respx.Router, method: str, endpoint: str, response: httpx.Response
) -> None:
    route = router.post(f"/{endpoint}").mock(return_value=response)
    assert getattr(make_client(router), method)("c1") is None
    assert sent_json(route) == {"composeId": "c1"}
    assert str(route.calls.last.request.url) == f"{API}/{endpoint}"


@pytest.mark.parametrize("delete_volumes", [True, False])
def test_delete_compose(router: respx.Router, delete_volumes: bool) -> None:
    route = router.post("/compose.delete").respond(json=compose_row())
    make_client(router).delete_compose("c1", delete_volumes=delete_volumes)
    assert sent_json(route) == {"composeId": "c1", "deleteVolumes": delete_volumes}


def test_delete_compose_gone(router: respx.Router) -> None:
    router.post("/compose.delete").respond(
        404, json={"message": "Compose not found", "code": "NOT_FOUND"}
    )
    with pytest.raises(NotFound):
        make_client(router).delete_compose("c1", delete_volumes=True)


def test_start_failure_keeps_shell_output_in_details(router: respx.Router) -> None:
    router.post("/compose.start").respond(
        500,
        json={
            "message": "Command execution failed: cd: /etc/dokploy/compose/x/code: No such file\n"
            "exit code 1",
            "code": "INTERNAL_SERVER_ERROR",
        },
    )
    with pytest.raises(ServerError) as info:
        make_client(router).start_compose("c1")
    assert "\n" not in str(info.value)
    assert "Command execution failed" in str(info.value)
    assert info.value.details == ["exit code 1"]


# -- deployments and containers ----------------------------------------------------------------


def test_list_deployments_newest_first(router: respx.Router) -> None:
    route = router.get("/deployment.allByCompose").respond(
        json=[
            deployment_row("d1", "2026-08-20T10:00:00.000Z"),
            deployment_row("d2", "2026-08-20T12:00:00.000Z", "error")
            | {"errorMessage": "port is already allocated", "finishedAt": "2026-08-20T12:01Z"},
        ]
    )
    deployments = make_client(router).list_deployments("c1")
    assert sent_query(route) == {"composeId": "c1"}
    assert [d.deployment_id for d in deployments] == ["d2", "d1"]
    first = deployments[0]
    assert isinstance(first, Deployment)
    assert first.status == "error"
    assert first.error_message == "port is already allocated"
    assert first.finished_at == "2026-08-20T12:01Z"
    assert first.log_path == "/etc/dokploy/logs/x/d2.log"
    assert first.title == "Manual deployment"


def test_read_deployment_log(router: respx.Router) -> None:
    route = router.get("/deployment.readLogs").respond(json="line 1\nError occurred ❌\n")
    client = make_client(router, "v0.30.2")
    assert client.read_deployment_log("d1", tail=50) == "line 1\nError occurred ❌\n"
    assert sent_query(route) == {"deploymentId": "d1", "tail": "50"}
    client.read_deployment_log("d1")
    assert sent_query(route)["tail"] == "100"


def test_read_deployment_log_empty(router: respx.Router) -> None:
    router.get("/deployment.readLogs").respond(json="")
    assert make_client(router, "v0.29.6").read_deployment_log("d1") == ""


def test_read_deployment_log_old_server(router: respx.Router) -> None:
    route = router.get("/deployment.readLogs").respond(json="x")
    assert make_client(router, "v0.29.4").read_deployment_log("d1") is None
    assert route.call_count == 0


def test_kill_build_is_skipped_before_v0_25_8(router: respx.Router) -> None:
    route = router.post("/compose.killBuild").respond(200)
    make_client(router, "v0.25.7").kill_build("c1")
    assert route.call_count == 0
    make_client(router, "v0.25.8").kill_build("c1")
    assert route.call_count == 1


def test_get_containers(router: respx.Router) -> None:
    route = router.get("/docker.getContainersByAppNameMatch").respond(
        json=[
            {
                "containerId": "abc123",
                "name": "devpod-ws1-k3x9a2-workspace-1",
                "state": "running",
                "status": "Up 5 minutes",
            }
        ]
    )
    client = make_client(router)
    containers = client.get_containers("devpod-ws1-k3x9a2")
    assert sent_query(route) == {"appName": "devpod-ws1-k3x9a2", "appType": "docker-compose"}
    assert containers == [
        Container(
            container_id="abc123",
            name="devpod-ws1-k3x9a2-workspace-1",
            state="running",
            status="Up 5 minutes",
        )
    ]
    client.get_containers("devpod-ws1-k3x9a2", server_id="s1")
    assert sent_query(route)["serverId"] == "s1"


@pytest.mark.parametrize("response", [httpx.Response(200, json=[]), httpx.Response(200)])
def test_get_containers_none(router: respx.Router, response: httpx.Response) -> None:
    router.get("/docker.getContainersByAppNameMatch").mock(return_value=response)
    assert make_client(router).get_containers("x") == []


# -- error mapping -----------------------------------------------------------------------------


def test_bare_401_is_authentication_failed(router: respx.Router) -> None:
    router.get("/settings.health").respond(401, json={"message": "Unauthorized"})
    with pytest.raises(AuthenticationFailed) as info:
        make_client(router).health()
    text = str(info.value)
    assert "rejected the API key" in text
    assert "settings.health" in text
    assert "Settings → Profile → API/CLI" in text
    assert "expired or rate-limited" in text  # they look the same as a wrong key
    assert info.value.exit_code == 4
    assert info.value.status_code == 401
    assert_no_token(info.value)


@pytest.mark.parametrize(
    "body",
    [
        {"message": "You are not authorized to access this compose", "code": "UNAUTHORIZED"},
        {
            "message": "You are not authorized to access this compose",
            "code": "UNAUTHORIZED",
            "data": {"code": "UNAUTHORIZED", "httpStatus": 401, "path": "compose.one"},
        },
    ],
)
def test_coded_401_is_permission_denied(router: respx.Router, body: dict[str, Any]) -> None:
    router.get("/compose.one").respond(401, json=body)
    with pytest.raises(PermissionDenied) as info:
        make_client(router).get_compose("c1")
    assert "You are not authorized to access this compose" in str(info.value)
    assert "compose.one" in str(info.value)
    assert "lacks access to this compose" in str(info.value)  # says which, not "project"
    assert not isinstance(info.value, AuthenticationFailed)


def test_cloud_compose_create_without_a_server_says_set_the_server_id(
    router: respx.Router,
) -> None:
    # Dokploy Cloud and v0.29.6+ with remote servers only: a 401 *with* a code
    router.post("/compose.create").respond(
        401,
        json={"message": "You need to use a server to create a compose", "code": "UNAUTHORIZED"},
    )
    with pytest.raises(PermissionDenied) as info:
        make_client(router).create_compose(
            name="w",
            app_name="w",
            description=None,
            project_id=None,
            environment_id="e1",
            server_id=None,
        )
    text = str(info.value)
    assert "DOKPLOY_SERVER_ID" in text and "doctor" in text
    assert "owner or admin" not in text


def test_403_is_permission_denied(router: respx.Router) -> None:
    router.get("/environment.byProjectId").respond(
        403,
        json={
            "message": "You don't have access to this environment",
            "code": "FORBIDDEN",
            "data": {"code": "FORBIDDEN", "httpStatus": 403},
        },
    )
    with pytest.raises(PermissionDenied, match="access to this environment"):
        make_client(router).list_environments("p1")


def test_unknown_route_404(router: respx.Router) -> None:
    router.get("/server.all").respond(
        404, json={"message": "Not found", "code": "NOT_FOUND", "data": {"code": "NOT_FOUND"}}
    )
    with pytest.raises(NotFound) as info:
        make_client(router).list_servers()
    assert info.value.hint is not None
    assert "server.all" in info.value.hint


def test_400_v10_issue_paths(router: respx.Router) -> None:
    router.post("/compose.create").respond(
        400,
        json={
            "message": "Input validation failed",
            "code": "BAD_REQUEST",
            "issues": [
                {
                    "code": "invalid_type",
                    "expected": "string",
                    "received": "undefined",
                    "path": ["environmentId"],
                    "message": "Required",
                },
                {
                    "code": "too_small",
                    "path": ["name"],
                    "message": "String must contain at least 1 character(s)",
                },
            ],
        },
    )
    with pytest.raises(ValidationFailed) as info:
        make_client(router, "v0.26.0").create_compose(**CREATE_ARGS)
    assert info.value.fields == ["environmentId", "name"]
    assert "compose.create" in str(info.value)
    assert "Input validation failed" in str(info.value)
    assert "environmentId: Required" in str(info.value)
    assert info.value.status_code == 400


def test_400_v11_issue_paths_with_data(router: respx.Router) -> None:
    router.post("/compose.update").respond(
        400,
        json={
            "message": "Input validation failed",
            "code": "BAD_REQUEST",
            "issues": [
                {
                    "expected": "string",
                    "code": "invalid_type",
                    "path": ["mounts", 0, "hostPath"],
                    "message": "Invalid input: expected string, received undefined",
                }
            ],
            "data": {
                "code": "BAD_REQUEST",
                "httpStatus": 400,
                "path": "compose.update",
                "zodError": {"formErrors": [], "fieldErrors": {"mounts": ["Invalid input"]}},
            },
        },
    )
    with pytest.raises(ValidationFailed) as info:
        make_client(router).update_compose("c1", compose_file="x")
    assert info.value.fields == ["mounts.0.hostPath"]


def test_400_v11_zod_error_only(router: respx.Router) -> None:
    router.post("/environment.create").respond(
        400,
        json={
            "message": "Input validation failed",
            "code": "BAD_REQUEST",
            "data": {
                "code": "BAD_REQUEST",
                "zodError": {"formErrors": [], "fieldErrors": {"name": ["Too small"]}},
            },
        },
    )
    with pytest.raises(ValidationFailed) as info:
        make_client(router).create_environment("p1", "")
    assert info.value.fields == ["name"]


def test_400_plain_message(router: respx.Router) -> None:
    router.post("/environment.create").respond(
        400, json={"message": "Environment name 'production' is reserved", "code": "BAD_REQUEST"}
    )
    with pytest.raises(ValidationFailed, match="reserved") as info:
        make_client(router).create_environment("p1", "production")
    assert info.value.fields == []


def test_409_conflict(router: respx.Router) -> None:
    router.post("/compose.create").respond(
        409, json={"message": "Service with this 'AppName' already exists", "code": "CONFLICT"}
    )
    with pytest.raises(Conflict, match="AppName"):
        make_client(router).create_compose(**CREATE_ARGS)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_server_error(router: respx.Router, status: int) -> None:
    router.post("/compose.stop").respond(
        status, json={"message": "Command execution failed: boom", "code": "INTERNAL_SERVER_ERROR"}
    )
    with pytest.raises(ServerError) as info:
        make_client(router).stop_compose("c1")
    assert "Command execution failed: boom" in str(info.value)
    assert info.value.status_code == status


def test_5xx_html_from_proxy(router: respx.Router) -> None:
    router.post("/compose.stop").respond(502, html="<html><body>Bad Gateway</body></html>")
    with pytest.raises(ServerError, match="HTTP 502") as info:
        make_client(router).stop_compose("c1")
    assert "<html>" not in str(info.value)


def test_other_4xx_is_a_dokploy_error(router: respx.Router) -> None:
    router.post("/compose.stop").respond(
        415, json={"message": "Missing content-type header", "code": "UNSUPPORTED_MEDIA_TYPE"}
    )
    with pytest.raises(DokployError, match="Missing content-type header") as info:
        make_client(router).stop_compose("c1")
    assert info.value.status_code == 415


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"{not json", "not JSON"),
        (b"<!DOCTYPE html><html></html>", "HTML"),
    ],
)
def test_invalid_json_success_body(router: respx.Router, content: bytes, match: str) -> None:
    router.get("/compose.one").respond(200, content=content)
    with pytest.raises(UnexpectedResponse, match=match) as info:
        make_client(router).get_compose("c1")
    assert "compose.one" in str(info.value)


@pytest.mark.parametrize(
    ("method", "endpoint", "call"),
    [
        ("GET", "compose.one", lambda c: c.get_compose("c1")),
        ("GET", "server.all", lambda c: c.list_servers()),
        ("GET", "project.one", lambda c: c.get_project("p1")),
        ("GET", "deployment.allByCompose", lambda c: c.list_deployments("c1")),
        ("POST", "compose.create", lambda c: c.create_compose(**CREATE_ARGS)),
        ("POST", "environment.create", lambda c: c.create_environment("p1", "x")),
    ],
)
def test_empty_body_where_required(
    router: respx.Router, method: str, endpoint: str, call: Any
) -> None:
    router.route(method=method, path=f"/{endpoint}").respond(200, content=b"")
    with pytest.raises(UnexpectedResponse, match="empty") as info:
        call(make_client(router))
    assert endpoint in str(info.value)
    assert info.value.endpoint == endpoint


def test_wrong_shape_compose(router: respx.Router) -> None:
    router.get("/compose.one").respond(json={"composeId": "c1", "name": "x"})
    with pytest.raises(UnexpectedResponse, match="appName"):
        make_client(router).get_compose("c1")


def test_redirect_names_the_target(router: respx.Router) -> None:
    router.get("/settings.health").respond(
        301, headers={"Location": "https://dokploy.example.com/api/settings.health"}
    )
    with pytest.raises(UnexpectedResponse) as info:
        make_client(router).health()
    assert info.value.hint == "set DOKPLOY_SERVER_URL to https://dokploy.example.com"
    assert info.value.status_code == 301


# -- transport failures ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side_effect", "cause"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), "connection refused"),
        (httpx.ConnectError("[Errno -2] Name or service not known"), "name does not resolve"),
        (
            httpx.ConnectError("[Errno -3] Temporary failure in name resolution"),
            "name does not resolve",
        ),
        (
            httpx.ConnectError(
                "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
                "self-signed certificate (_ssl.c:1006)"
            ),
            "TLS certificate verify failed",
        ),
        (
            httpx.ConnectError("[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)"),
            "plain HTTP",
        ),
        (httpx.ConnectError("[Errno 113] No route to host"), "no route to host"),
        (httpx.ConnectTimeout("timed out"), "no connection within 5 s"),
        (httpx.ReadTimeout("timed out"), "no response within 30 s"),
        (httpx.RemoteProtocolError("Server disconnected"), "closed the connection"),
    ],
)
def test_unreachable(router: respx.Router, side_effect: Any, cause: str) -> None:
    router.get("/server.all").mock(side_effect=side_effect)
    with pytest.raises(ServerUnreachable) as info:
        make_client(router).list_servers()
    text = str(info.value)
    assert cause in text
    assert SERVER in text
    assert "server.all" in text
    assert info.value.hint
    assert info.value.exit_code == 3
    assert isinstance(info.value.__cause__, httpx.TransportError)
    assert_no_token(info.value)


def test_cause_found_in_exception_chain() -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except ConnectionRefusedError as exc:
            raise httpx.ConnectError("All connection attempts failed", request=request) from exc

    client = DokployClient(
        parse_server_url(SERVER), TOKEN, transport=httpx.MockTransport(refused), retry_attempts=1
    )
    with pytest.raises(ServerUnreachable, match="connection refused"):
        client.health()


def test_real_connection_refused() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    client = DokployClient(parse_server_url(url), TOKEN, retry_attempts=1)
    with client, pytest.raises(ServerUnreachable, match="connection refused"):
        client.health()


def test_real_read_timeout() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # the kernel accepts the connection; nobody ever answers
        port = listener.getsockname()[1]
        client = DokployClient(
            parse_server_url(f"http://127.0.0.1:{port}"), TOKEN, read_timeout=0.2, retry_attempts=1
        )
        with client, pytest.raises(ServerUnreachable, match=r"no response within 0\.2 s"):
            client.health()


# -- retries -----------------------------------------------------------------------------------


def test_get_retried_on_500_then_succeeds(router: respx.Router) -> None:
    route = router.get("/server.all").mock(
        side_effect=[httpx.Response(500, json={"message": "db down"}), httpx.Response(200, json=[])]
    )
    assert make_client(router).list_servers() == []
    assert route.call_count == 2


def test_get_retries_are_bounded(router: respx.Router) -> None:
    route = router.get("/server.all").respond(503, json={"message": "busy"})
    with pytest.raises(ServerError, match="busy"):
        make_client(router, retry_attempts=4).list_servers()
    assert route.call_count == 4


def test_get_retries_stop_at_the_time_budget(router: respx.Router) -> None:
    route = router.get("/server.all").respond(503, json={"message": "busy"})
    with pytest.raises(ServerError, match="busy"):
        make_client(router, retry_attempts=10, retry_max_seconds=0.0).list_servers()
    assert route.call_count == 1  # no time left for a second try


def test_get_waits_between_tries_as_the_retry_policy_says(
    router: respx.Router, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dokploy_provider.api_errors import RetryPolicy

    paused: list[int] = []
    monkeypatch.setattr(RetryPolicy, "pause", lambda self, attempt: paused.append(attempt) or 0.0)
    router.get("/server.all").respond(503, json={"message": "busy"})
    with pytest.raises(ServerError):
        make_client(router, retry_attempts=3).list_servers()
    # tenacity also asks for the wait after the last try, before it decides to stop
    assert paused[:2] == [1, 2]  # the same policy the fast path follows


def test_get_retried_on_connect_error_and_read_timeout(router: respx.Router) -> None:
    route = router.get("/compose.one").mock(
        side_effect=[
            httpx.ConnectError("[Errno 111] Connection refused"),
            httpx.ReadTimeout("timed out"),
            httpx.Response(200, json=compose_row()),
        ]
    )
    assert make_client(router).get_compose("c1").compose_id == "c1"
    assert route.call_count == 3


def test_get_connect_error_exhausts_attempts(router: respx.Router) -> None:
    route = router.get("/compose.one").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(ServerUnreachable):
        make_client(router, retry_attempts=2).get_compose("c1")
    assert route.call_count == 2


def test_get_not_retried_on_4xx(router: respx.Router) -> None:
    route = router.get("/compose.one").respond(404, json={"message": "Compose not found"})
    with pytest.raises(NotFound):
        make_client(router).get_compose("c1")
    assert route.call_count == 1


def test_tls_verify_failure_not_retried(router: respx.Router) -> None:
    route = router.get("/server.all").mock(
        side_effect=httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    )
    with pytest.raises(ServerUnreachable):
        make_client(router).list_servers()
    assert route.call_count == 1


def test_post_not_retried_on_500(router: respx.Router) -> None:
    route = router.post("/compose.deploy").respond(500, json={"message": "boom"})
    with pytest.raises(ServerError):
        make_client(router).deploy_compose("c1")
    assert route.call_count == 1


@pytest.mark.parametrize(
    "error",
    [httpx.ReadTimeout("timed out"), httpx.RemoteProtocolError("Server disconnected")],
)
def test_post_not_retried_once_it_may_have_arrived(router: respx.Router, error: Exception) -> None:
    route = router.post("/compose.create").mock(side_effect=error)
    with pytest.raises(ServerUnreachable):
        make_client(router).create_compose(**CREATE_ARGS)
    assert route.call_count == 1


@pytest.mark.parametrize(
    "error", [httpx.ConnectError("[Errno 111] Connection refused"), httpx.ConnectTimeout("t/o")]
)
def test_post_retried_when_never_sent(router: respx.Router, error: Exception) -> None:
    route = router.post("/compose.create").mock(
        side_effect=[error, httpx.Response(200, json=compose_row())]
    )
    assert make_client(router).create_compose(**CREATE_ARGS).compose_id == "c1"
    assert route.call_count == 2


def test_post_connect_retries_bounded(router: respx.Router) -> None:
    route = router.post("/compose.start").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(ServerUnreachable):
        make_client(router, retry_attempts=3).start_compose("c1")
    assert route.call_count == 3


def test_retry_attempts_one_means_no_retry(router: respx.Router) -> None:
    route = router.get("/server.all").respond(500, json={"message": "x"})
    with pytest.raises(ServerError):
        make_client(router, retry_attempts=1).list_servers()
    assert route.call_count == 1


def test_retry_time_budget(router: respx.Router) -> None:
    route = router.get("/server.all").respond(500, json={"message": "x"})
    with pytest.raises(ServerError):
        make_client(router, retry_attempts=50, retry_max_seconds=0.0).list_servers()
    assert route.call_count == 1


# -- configuration, secrecy, logging -----------------------------------------------------------


def test_timeouts_configured(router: respx.Router) -> None:
    client = make_client(router)
    assert client.timeout.connect == 5.0
    assert client.timeout.read == 30.0
    custom = make_client(router, connect_timeout=1.5, read_timeout=7.0)
    assert custom.timeout.connect == 1.5
    assert custom.timeout.read == 7.0


def test_context_manager_closes(router: respx.Router) -> None:
    with make_client(router) as client:
        assert client.version().minor == 30
    assert client._http.is_closed


def test_repr_hides_token(router: respx.Router) -> None:
    client = make_client(router)
    assert TOKEN not in repr(client)
    assert TOKEN not in str(client)
    assert SERVER in repr(client)
    assert client.server_url.api_base == API


@pytest.mark.parametrize("token", ["", "   ", "abc def", "tok\nen", "tökén"])
def test_bad_token_rejected(token: str) -> None:
    with pytest.raises(ConfigurationError, match="DOKPLOY_API_TOKEN") as info:
        DokployClient(parse_server_url(SERVER), token)
    if token.strip():
        assert token.strip() not in str(info.value)


def test_token_is_registered_for_redaction(router: respx.Router) -> None:
    make_client(router)
    assert TOKEN not in log.redact(f"key={TOKEN}")


def test_token_is_stripped(router: respx.Router) -> None:
    router.get("/settings.health").respond(json={"status": "ok"})
    client = DokployClient(
        parse_server_url(SERVER), f" {TOKEN}\n", transport=httpx.MockTransport(router.handler)
    )
    client.health()
    assert router.routes[0].calls.last.request.headers["x-api-key"] == TOKEN


ERROR_CASES: list[tuple[int, Any]] = [
    (401, {"message": "Unauthorized"}),
    (401, {"message": f"bad key {TOKEN}", "code": "UNAUTHORIZED"}),
    (403, {"message": "Forbidden", "code": "FORBIDDEN"}),
    (404, {"message": "Compose not found", "code": "NOT_FOUND"}),
    (400, {"message": "Input validation failed", "code": "BAD_REQUEST", "issues": []}),
    (409, {"message": "exists", "code": "CONFLICT"}),
    (500, {"message": f"Command failed: curl -H x-api-key:{TOKEN}\nmore {TOKEN}"}),
    (200, "not json"),
]


@pytest.mark.parametrize(("status", "body"), ERROR_CASES)
def test_token_never_in_errors_or_logs(
    router: respx.Router, provider_logs: pytest.LogCaptureFixture, status: int, body: Any
) -> None:
    if isinstance(body, str):
        router.get("/compose.one").respond(status, content=body.encode())
    else:
        router.get("/compose.one").respond(status, json=body)
    client = make_client(router, retry_attempts=2)
    with pytest.raises(DokployError) as info:
        client.get_compose("c1")
    assert_no_token(info.value)
    assert TOKEN not in provider_logs.text
    assert "x-api-key" not in provider_logs.text.lower()


def test_debug_log_lines(router: respx.Router, provider_logs: pytest.LogCaptureFixture) -> None:
    router.get("/compose.one").mock(
        side_effect=[httpx.Response(502), httpx.Response(200, json=compose_row())]
    )
    make_client(router).get_compose("c1")
    http_lines = [r.getMessage() for r in provider_logs.records if r.name.endswith(".http")]
    assert any(line.startswith("GET compose.one -> 502 in ") for line in http_lines)
    assert any(line.startswith("GET compose.one -> 200 in ") for line in http_lines)
    assert any("retry 2/3" in line for line in http_lines)
    assert all(line.endswith("ms") or "retry" in line for line in http_lines)
    assert TOKEN not in provider_logs.text


def test_models_accept_snake_case_and_ignore_extra() -> None:
    compose = Compose(compose_id="c1", name="n", app_name="a")
    assert compose.deployments == []
    assert compose.compose_status == "idle"
    server = Server.model_validate({"serverId": "s", "name": "n", "unknownField": 1})
    assert server.server_id == "s"
    assert not hasattr(server, "unknownField")


def test_remove_project(router: respx.Router) -> None:
    route = router.post("/project.remove").respond(json={"projectId": "p2", "name": "x"})
    make_client(router).remove_project("p2")
    assert sent_json(route) == {"projectId": "p2"}


@pytest.mark.parametrize(
    ("body", "expected"), [("null\n", None), ("", None), ("services: {}\n", "services: {}\n")]
)
def test_converted_compose_is_none_before_any_clone(
    router: respx.Router, body: str, expected: str | None
) -> None:
    route = router.get("/compose.getConvertedCompose").respond(json=body)
    assert make_client(router).get_converted_compose("c1") == expected
    assert sent_query(route) == {"composeId": "c1"}
