"""Applications and databases made in Dokploy's UI: how projects list them per version, what
``<kind>.one`` answers, and that they hold their environment and go with their project."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from dokploy_emulator import Emulator

from .conftest import Api


def _add(emu: Emulator, **body: Any) -> httpx.Response:
    return httpx.post(f"{emu.url}/__emulator/service", json=body)


def _owner(api: Api) -> tuple[str, dict[str, str]]:
    created = api.ok("POST", "project.create", {"name": "apps"})
    if "environment" in created:
        return created["project"]["projectId"], {
            "environmentId": created["environment"]["environmentId"]
        }
    return created["projectId"], {"projectId": created["projectId"]}


@pytest.mark.parametrize("version", ["v0.22.7", "v0.28.2", "v0.28.3", "v0.30.2"])
def test_services_are_listed_as_each_version_lists_them(
    make_emulator: Callable[..., Emulator], version: str
) -> None:
    emu = make_emulator(version=version)
    api = Api(emu.url)
    _, owner = _owner(api)
    ports = [{"publishedPort": 2230, "targetPort": 22, "protocol": "tcp", "publishMode": "host"}]
    app = _add(emu, kind="applications", name="web", ports=ports, **owner).json()
    db = _add(emu, kind="postgres", name="db", externalPort=2231, **owner).json()
    (listed,) = api.ok("GET", "project.all")
    lists = listed if version == "v0.22.7" else listed["environments"][0]
    if version in ("v0.28.3", "v0.30.2"):  # summaries from v0.28.3
        assert lists["applications"] == [{"applicationId": app["applicationId"]}]
        assert lists["postgres"] == [{"postgresId": db["postgresId"]}]
    else:
        assert lists["applications"][0]["name"] == "web"
        assert "ports" not in lists["applications"][0]  # project.all does not load them
        assert lists["postgres"][0]["externalPort"] == 2231
    assert ("libsql" in lists) == (version == "v0.30.2")
    one = api.ok("GET", "application.one", {"applicationId": app["applicationId"]})
    assert [(p["publishedPort"], p["protocol"]) for p in one["ports"]] == [(2230, "tcp")]
    assert api.ok("GET", "postgres.one", {"postgresId": db["postgresId"]})["externalPort"] == 2231
    missing = api.get("postgres.one", postgresId=app["applicationId"])
    assert (missing.status_code, missing.json()["message"]) == (404, "Postgres not found")


def test_libsql_publishes_three_ports_from_v0_30(make_emulator: Callable[..., Emulator]) -> None:
    old = make_emulator(version="v0.29.14")
    _, owner = _owner(Api(old.url))
    assert _add(old, kind="libsql", **owner).status_code == 400
    assert Api(old.url).get("libsql.one", libsqlId="x").status_code == 404
    new = make_emulator(version="v0.30.2")
    api = Api(new.url)
    _, owner = _owner(api)
    row = _add(
        new, kind="libsql", externalPort=1, externalGRPCPort=2, externalAdminPort=3, **owner
    ).json()
    one = api.ok("GET", "libsql.one", {"libsqlId": row["libsqlId"]})
    assert (one["externalPort"], one["externalGRPCPort"], one["externalAdminPort"]) == (1, 2, 3)


def test_a_service_holds_its_environment_and_goes_with_its_project(
    make_emulator: Callable[..., Emulator],
) -> None:
    emu = make_emulator(version="v0.30.2")
    api = Api(emu.url)
    project_id, _ = _owner(api)
    env = api.ok("POST", "environment.create", {"name": "apps", "projectId": project_id})
    redis = _add(emu, kind="redis", environmentId=env["environmentId"]).json()
    refused = api.post("environment.remove", {"environmentId": env["environmentId"]})
    assert refused.status_code == 400 and "active services" in refused.json()["message"]
    api.ok("POST", "project.remove", {"projectId": project_id})
    assert api.get("redis.one", redisId=redis["redisId"]).status_code == 404
    assert _add(emu, kind="redis", environmentId=env["environmentId"]).status_code == 404
    _, owner = _owner(api)
    assert _add(emu, kind="nope", **owner).status_code == 400
