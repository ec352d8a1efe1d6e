"""The REST surface: auth gate, routing, content type, validation and version-dependent shapes."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from dokploy_emulator import Emulator

from .conftest import API_KEY, Api


def test_auth_gate_rejects_missing_and_wrong_key_with_exact_body(emu: Emulator) -> None:
    for headers in ({}, {"x-api-key": "nope"}, {"Authorization": f"Bearer {API_KEY}"}):
        for method, path in (
            ("GET", "/api/settings.health"),
            ("POST", "/api/compose.deploy"),
            ("GET", "/api/no.such"),
        ):
            response = httpx.request(method, emu.url + path, headers=headers, json={})
            assert response.status_code == 401
            assert response.content == b'{"message":"Unauthorized"}'


def test_health_is_open_and_settings_answer(api: Api, emu: Emulator) -> None:
    assert httpx.get(emu.url + "/api/health").json() == {"ok": True}
    assert api.ok("GET", "settings.health") == {"status": "ok"}
    response = api.get("settings.getDokployVersion")
    assert response.content == b'"v0.30.2"'
    assert api.ok("GET", "settings.getIp") == "127.0.0.1"
    assert api.get("settings.isCloud").content == b"false"
    user = api.ok("GET", "user.get")
    assert user["role"] == "owner" and user["user"]["apiKeys"]


def test_unknown_procedure_and_wrong_method_are_404(api: Api) -> None:
    for response in (
        api.get("compose.nope"),
        api.get("compose.deploy", composeId="x"),
        api.post("compose.one", {"composeId": "x"}),
    ):
        assert response.status_code == 404
        body = response.json()
        assert body["message"] == "Not found" and body["code"] == "NOT_FOUND"
    # tRPC v11 mode: data without a path for unknown routes
    assert "path" not in api.get("compose.nope").json()["data"]


def test_415_without_json_content_type_only_from_0_28(
    make_emulator: Callable[..., Emulator],
) -> None:
    new = Api(make_emulator(version="v0.28.0").url)
    old = Api(make_emulator(version="v0.27.0").url)
    for client, status in ((new, 415), (old, 200)):
        # routing comes first: a wrong method is 404 whatever the content type
        assert client.http.post("/compose.one", content=b"{}").status_code == 404
        response = client.http.post(
            "/project.create", content=b'{"name":"x"}', headers={"content-type": "text/plain"}
        )
        assert response.status_code == status, response.text
    body = new.http.post(
        "/project.create", content=b'{"name":"x"}', headers={"content-type": "text/plain"}
    ).json()
    assert body["message"] == 'Unsupported content-type "text/plain"'
    assert body["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert body["data"]["httpStatus"] == 415
    missing = new.http.post("/project.create", content=b'{"name":"x"}')
    assert missing.status_code == 415


def test_validation_issues_zod_v4_shape(api: Api) -> None:
    response = api.post("compose.create", {"appName": "bad name!", "composeType": "swarm"})
    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "Input validation failed" and body["code"] == "BAD_REQUEST"
    by_path = {tuple(issue["path"]): issue for issue in body["issues"]}
    assert by_path[("name",)] == {
        "expected": "string",
        "code": "invalid_type",
        "path": ["name"],
        "message": "Invalid input: expected string, received undefined",
    }
    assert ("environmentId",) in by_path
    assert by_path[("appName",)]["code"] == "invalid_format"
    assert by_path[("composeType",)]["code"] == "invalid_value"
    assert body["data"]["zodError"]["fieldErrors"]["name"] == [
        "Invalid input: expected string, received undefined"
    ]
    assert body["data"]["path"] == "compose.create"


def test_validation_issues_zod_v3_shape(make_emulator: Callable[..., Emulator]) -> None:
    api = Api(make_emulator(version="v0.26.0").url)
    body = api.post("compose.create", {"name": "", "composeType": "swarm"}).json()
    assert set(body) == {"message", "code", "issues"}  # tRPC v10: no data object
    by_path = {tuple(issue["path"]): issue for issue in body["issues"]}
    assert by_path[("environmentId",)] == {
        "code": "invalid_type",
        "expected": "string",
        "received": "undefined",
        "path": ["environmentId"],
        "message": "Required",
    }
    assert by_path[("name",)]["message"] == "String must contain at least 1 character(s)"
    assert by_path[("composeType",)]["code"] == "invalid_enum_value"


def test_unknown_keys_are_stripped_and_get_values_coerced(api: Api) -> None:
    created = api.ok("POST", "project.create", {"name": "p", "bogus": 1})
    assert "bogus" not in created["project"]
    env_id = created["environment"]["environmentId"]
    compose = api.ok(
        "POST",
        "compose.create",
        {"name": "c", "environmentId": env_id, "projectId": "ignored", "extra": True},
    )
    assert "extra" not in compose and "projectId" not in compose
    search = api.ok("GET", "compose.search", {"limit": "1", "offset": "0"})
    assert search["total"] == 1 and len(search["items"]) == 1
    bad = api.get("compose.search", limit="0")
    assert bad.status_code == 400 and bad.json()["issues"][0]["code"] == "too_small"
    # POST bodies are coerced too: "false" is truthy for a boolean, like JS Boolean("false").
    deleted = api.ok(
        "POST", "compose.delete", {"composeId": compose["composeId"], "deleteVolumes": "false"}
    )
    assert deleted["composeId"] == compose["composeId"]
    missing = api.post("compose.delete", {"composeId": "x"})
    assert missing.status_code == 400 and missing.json()["issues"][0]["path"] == ["deleteVolumes"]


@pytest.mark.parametrize("version", ["v0.22.7", "v0.26.0", "v0.30.2"])
def test_project_and_compose_shapes_per_version(
    make_emulator: Callable[..., Emulator], version: str
) -> None:
    api = Api(make_emulator(version=version).url)
    created = api.ok("POST", "project.create", {"name": "proj", "description": None})
    if version == "v0.22.7":
        assert "projectId" in created and "environment" not in created
        project_id = created["projectId"]
        wrong = api.post("compose.create", {"name": "c", "environmentId": "e"})
        assert wrong.status_code == 400
        assert wrong.json()["issues"][0]["path"] == ["projectId"]
        compose = api.ok("POST", "compose.create", {"name": "c", "projectId": project_id})
        assert compose["projectId"] == project_id and "environmentId" not in compose
        one = api.ok("GET", "compose.one", {"composeId": compose["composeId"]})
        assert one["project"]["projectId"] == project_id and "environment" not in one
        projects = api.ok("GET", "project.all")
        assert projects[0]["compose"][0]["composeFile"] == ""
        assert api.get("environment.one", environmentId="x").status_code == 404
        assert api.post("compose.deploy", {"composeId": compose["composeId"]}).content == b""
        assert api.ok("GET", "settings.health") == {"status": "not_cloud"}
        return
    project_id = created["project"]["projectId"]
    env = created["environment"]
    assert env["name"] == "production"
    assert ("isDefault" in env) == (version != "v0.26.0")  # isDefault arrived in 0.26.1
    assert env.get("isDefault", True) is True
    body = {"name": "c", "environmentId": env["environmentId"], "sourceType": "raw"}
    compose = api.ok("POST", "compose.create", body)
    assert compose["environmentId"] == env["environmentId"]
    assert compose["sourceType"] == ("raw" if version == "v0.30.2" else "github")
    assert compose["composeStatus"] == "idle"
    assert len(compose["composeId"]) == 21
    one = api.ok("GET", "compose.one", {"composeId": compose["composeId"]})
    assert one["environment"]["project"]["projectId"] == project_id
    assert one["deployments"] == [] and one["server"] is None
    listed = api.ok("GET", "project.all")[0]["environments"][0]["compose"][0]
    deploy = api.ok("POST", "compose.deploy", {"composeId": compose["composeId"]})
    if version == "v0.26.0":
        assert "composeFile" in listed
        assert deploy == {"success": True, "message": "Deployment queued"}
        assert api.get("deployment.readLogs", deploymentId="x").status_code == 404
        assert api.get("compose.search").status_code == 404
        assert api.ok("GET", "settings.health") == {"status": "not_cloud"}
    else:
        assert listed == {
            "composeId": compose["composeId"],
            "name": "c",
            "composeStatus": "idle",
        }
        assert deploy == {
            "success": True,
            "message": "Deployment queued",
            "composeId": compose["composeId"],
        }
        summary = api.ok("GET", "project.one", {"projectId": project_id})
        assert set(summary["environments"][0]["compose"][0]) == {
            "composeId",
            "name",
            "description",
            "appName",
            "createdAt",
            "serverId",
            "composeStatus",
            "server",
        }


def test_app_names(api: Api) -> None:
    env_id = api.ok("POST", "project.create", {"name": "p"})["environment"]["environmentId"]
    given = api.ok(
        "POST", "compose.create", {"name": "a", "environmentId": env_id, "appName": "DevPod-WS1"}
    )["appName"]
    assert given.startswith("devpod-ws1-") and len(given) == len("devpod-ws1-") + 6
    generated = api.ok("POST", "compose.create", {"name": "b", "environmentId": env_id})["appName"]
    assert generated.startswith("compose-") and generated.count("-") >= 4


def test_service_messages_and_empty_bodies(api: Api) -> None:
    assert api.post("compose.update", {"composeId": "missing", "name": "x"}).content == b""
    missing = api.get("compose.one", composeId="missing")
    assert missing.status_code == 404 and missing.json()["message"] == "Compose not found"
    assert api.get("server.one", serverId="nope").json()["message"] == "Server not found"
    assert api.get("project.one", projectId="nope").json()["message"] == "Project not found"
    created = api.ok("POST", "project.create", {"name": "p"})
    project_id = created["project"]["projectId"]
    refused = api.post("environment.create", {"name": "production", "projectId": project_id})
    assert refused.status_code == 400
    dev = api.ok("POST", "environment.create", {"name": "devpod", "projectId": project_id})
    assert dev["isDefault"] is False
    envs = api.ok("GET", "environment.byProjectId", {"projectId": project_id})
    assert [e["name"] for e in envs] == ["production", "devpod"]
    default_id = created["environment"]["environmentId"]
    no = api.post("environment.remove", {"environmentId": default_id})
    assert no.json()["message"] == "You cannot delete the default environment"
    compose = api.ok("POST", "compose.create", {"name": "c", "environmentId": default_id})
    cid = compose["composeId"]
    cancel = api.post("compose.cancelDeployment", {"composeId": cid})
    assert cancel.status_code == 400
    assert cancel.json()["message"] == "Deployment cancellation only available in cloud version"
    kill = api.post("compose.killBuild", {"composeId": cid})
    assert kill.status_code == 200 and kill.content == b""
    assert api.ok("POST", "compose.cleanQueues", {"composeId": cid}) == {
        "success": True,
        "message": "Queues cleaned successfully",
    }
    assert api.get("compose.loadServices", composeId=cid).status_code == 404
    updated = api.ok(
        "POST", "compose.update", {"composeId": cid, "composeStatus": "error", "appName": "ignored"}
    )
    assert updated["composeStatus"] == "error" and updated["appName"] == compose["appName"]
    assert api.ok("POST", "compose.delete", {"composeId": cid, "deleteVolumes": True})
    assert api.post("compose.delete", {"composeId": cid, "deleteVolumes": True}).status_code == 404
    assert api.ok("POST", "project.remove", {"projectId": project_id})["projectId"] == project_id


def test_remote_servers(make_emulator: Callable[..., Emulator]) -> None:
    api = Api(make_emulator(remote_servers=["edge-1", "edge-2"]).url)
    servers = api.ok("GET", "server.all")
    assert [s["name"] for s in servers] == ["edge-2", "edge-1"]
    assert all(
        s["serverType"] == "deploy"
        and s["serverStatus"] == "active"
        and s["ipAddress"] == "127.0.0.1"
        for s in servers
    )
    one = api.ok("GET", "server.one", {"serverId": servers[0]["serverId"]})
    assert one["name"] == "edge-2"
    env_id = api.ok("POST", "project.create", {"name": "p"})["environment"]["environmentId"]
    compose = api.ok(
        "POST",
        "compose.create",
        {"name": "c", "environmentId": env_id, "serverId": servers[0]["serverId"]},
    )
    assert (
        api.ok("GET", "compose.one", {"composeId": compose["composeId"]})["server"]["name"]
        == "edge-2"
    )
    bad = api.post("compose.create", {"name": "c", "environmentId": env_id, "serverId": "nope"})
    assert bad.status_code == 404


@pytest.mark.parametrize(
    ("version", "missing_is_404"),
    [("v0.26.0", True), ("v0.28.6", True), ("v0.28.7", False), ("v0.30.2", False)],
)
def test_update_of_an_unknown_compose_by_version(
    make_emulator: Callable[..., Emulator], version: str, missing_is_404: bool
) -> None:
    api = Api(make_emulator(version=version).url)
    missing = api.post("compose.update", {"composeId": "missing", "name": "x"})
    if missing_is_404:
        assert missing.status_code == 404 and missing.json()["message"] == "Compose not found"
    else:
        assert missing.status_code == 200 and missing.content == b""
