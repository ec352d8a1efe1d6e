"""Dokploy's procedures (``router.procedure``) over the store, the deploy queue and the runtime."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import services
from .compose_file import ComposeError
from .deploy import DeployQueue, Job, Workspace
from .errors import ApiError, bad_request, internal, not_found
from .faults import Faults
from .ids import build_app_name, nanoid, now_iso
from .runtime import Runtime, RuntimeFailure
from .store import Row, Store
from .validation import load_schemas
from .versions import Features


class _Empty:
    """Marker for a procedure that returns ``undefined`` (200 with an empty body)."""

    def __repr__(self) -> str:
        return "EMPTY"


EMPTY = _Empty()
Handler = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True)
class Procedure:
    """One served procedure: its REST method, input schema and handler."""

    name: str
    method: str
    schema: dict[str, Any] | None
    handler: Handler


def public(row: Row) -> Row:
    """A row without the emulator's private bookkeeping keys."""
    return {k: copy.deepcopy(v) for k, v in row.items() if not k.startswith("_")}


def _schemas_for(features: Features) -> dict[str, dict[str, Any]]:
    schemas = copy.deepcopy(load_schemas())
    create = schemas["compose.create"]["input"]
    update = schemas["compose.update"]["input"]
    if not features.environments:
        # Before environments a compose belonged to a project.
        for schema in (create, update):
            del schema["properties"]["environmentId"]
        create["properties"]["projectId"] = {"type": "string"}
        create["required"] = ["name", "projectId"]
        update["properties"]["projectId"] = {"type": "string"}
    if features.create_source_type:
        create["properties"]["sourceType"] = copy.deepcopy(update["properties"]["sourceType"])
    return schemas


class Procedures:
    """The handlers, bound to one emulator instance."""

    def __init__(
        self,
        store: Store,
        features: Features,
        *,
        faults: Faults,
        runtime: Runtime,
        deploys: DeployQueue,
        workspace: Workspace,
    ) -> None:
        self.store = store
        self.features = features
        self.faults = faults
        self.runtime = runtime
        self.deploys = deploys
        self.workspace = workspace
        self._app_servers: dict[str, str | None] = {}  # appName -> serverId, outlives rows
        self.table = self._build_table()

    def _build_table(self) -> dict[str, Procedure]:
        f = self.features
        handlers: dict[str, Handler | None] = {
            "settings.health": self.settings_health,
            "settings.getDokployVersion": lambda _: f.version,
            "settings.getIp": lambda _: self.store.server_ip,
            "settings.isCloud": lambda _: self.faults.cloud,
            "settings.getWebServerSettings": self.web_server_settings,
            "user.get": lambda _: self.store.user(),
            "user.session": self.user_session,
            "server.all": self.server_all,
            "server.one": self.server_one,
            "project.all": self.project_all,
            "project.create": self.project_create,
            "project.one": self.project_one,
            "project.remove": self.project_remove,
            "environment.create": self.environment_create if f.environments else None,
            "environment.byProjectId": self.environment_by_project if f.environments else None,
            "environment.one": self.environment_one if f.environments else None,
            "environment.remove": self.environment_remove if f.environments else None,
            "compose.create": self.compose_create,
            "compose.one": self.compose_one,
            "compose.getConvertedCompose": self.compose_converted,
            "compose.update": self.compose_update,
            "compose.saveEnvironment": self.compose_save_environment,
            "compose.deploy": lambda i: self.compose_deploy(i, redeploy=False),
            "compose.redeploy": lambda i: self.compose_deploy(i, redeploy=True),
            "compose.start": self.compose_start,
            "compose.stop": self.compose_stop,
            "compose.delete": self.compose_delete,
            "compose.cancelDeployment": self.compose_cancel_deployment,
            "compose.killBuild": self.compose_kill_build if f.kill_build else None,
            "compose.cleanQueues": self.compose_clean_queues,
            "compose.loadServices": self.compose_load_services,
            "compose.search": self.compose_search if f.compose_search else None,
            "deployment.allByCompose": self.deployment_all_by_compose,
            "deployment.readLogs": self.deployment_read_logs if f.read_logs else None,
            "docker.getContainersByAppNameMatch": self.containers_by_app_name,
        }
        for kind in services.kinds_for(f):
            handlers[services.KINDS[kind][0] + ".one"] = self._service_one(kind)
        schemas = _schemas_for(f)
        return {
            name: Procedure(name, schemas[name]["method"], schemas[name]["input"], handler)
            for name, handler in handlers.items()
            if handler is not None
        }

    def lookup(self, name: str) -> Procedure | None:
        """The procedure for a request path segment (matched case-insensitively)."""
        lowered = name.lower()
        for key, procedure in self.table.items():
            if key.lower() == lowered:
                return procedure
        return None

    # --- rendering helpers (call with the lock held) ---
    def _find_compose(self, compose_id: str) -> Row:
        compose = self.store.composes.get(compose_id)
        if compose is None:
            raise not_found("Compose not found")
        return compose

    def _project_of(self, compose: Row) -> Row | None:
        if self.features.environments:
            env = self.store.environments.get(compose.get("environmentId") or "")
            return self.store.projects.get(env["projectId"]) if env else None
        return self.store.projects.get(compose.get("projectId") or "")

    def _composes_in(self, key: str, value: str) -> list[Row]:
        return [c for c in reversed(self.store.composes.values()) if c.get(key) == value]

    def _compose_summary(self, compose: Row) -> Row:
        return {
            "composeId": compose["composeId"],
            "name": compose["name"],
            "composeStatus": compose["composeStatus"],
        }

    def _compose_with_domains(self, compose: Row) -> Row:
        return {**public(compose), "domains": []}

    def _service_lists(self, key: str, value: str, *, summary: bool) -> Row:
        rows = [r for r in self.store.services.values() if r.get(key) == value]
        return {
            kind: [services.listed(r, summary=summary) for r in rows if r["_kind"] == kind]
            for kind in services.kinds_for(self.features)
        }

    def _service_one(self, kind: str) -> Handler:
        def handler(data: dict[str, Any]) -> Any:
            with self.store.lock:
                return services.one(self.store.services, kind, data)

        return handler

    def _environment_tree(
        self, env: Row, compose_render: Callable[[Row], Row], *, summary: bool = False
    ) -> Row:
        tree = public(env)
        tree.update(self._service_lists("environmentId", env["environmentId"], summary=summary))
        tree["compose"] = [
            compose_render(c) for c in self._composes_in("environmentId", env["environmentId"])
        ]
        return tree

    def _environment_with_project(self, env: Row, compose_render: Callable[[Row], Row]) -> Row:
        tree = self._environment_tree(env, compose_render)
        project = self.store.projects.get(env["projectId"])
        tree["project"] = public(project) if project else None
        return tree

    def _environments_of(self, project_id: str) -> list[Row]:
        return [e for e in self.store.environments.values() if e["projectId"] == project_id]

    def _project_tree(
        self, project: Row, compose_render: Callable[[Row], Row], *, summary: bool = False
    ) -> Row:
        tree = public(project)
        if self.features.environments:
            tree["environments"] = [
                self._environment_tree(e, compose_render, summary=summary)
                for e in self._environments_of(project["projectId"])
            ]
        else:
            tree.update(self._service_lists("projectId", project["projectId"], summary=summary))
            tree["compose"] = [
                compose_render(c) for c in self._composes_in("projectId", project["projectId"])
            ]
        if self.features.create_source_type:
            tree["projectTags"] = []
        return tree

    def _full_compose(self, compose: Row) -> Row:
        full = public(compose)
        full["deployments"] = [
            public(d) for d in reversed(self.store.deployments_of(compose["composeId"]))
        ]
        full.update(
            mounts=[], domains=[], github=None, gitlab=None, bitbucket=None, gitea=None, backups=[]
        )
        server = self.store.servers.get(compose.get("serverId") or "")
        full["server"] = public(server) if server else None
        project = self._project_of(compose)
        if self.features.environments:
            env = self.store.environments.get(compose.get("environmentId") or "")
            full["environment"] = (
                {**public(env), "project": public(project) if project else None} if env else None
            )
        else:
            full["project"] = public(project) if project else None
        if self.features.create_source_type:
            full["hasGitProviderAccess"] = True
            full["unauthorizedProvider"] = None
        return full

    # --- settings / user / server ---
    def settings_health(self, _: dict[str, Any]) -> Any:
        """``settings.health``."""
        return {"status": "ok" if self.features.health_ok else "not_cloud"}

    def web_server_settings(self, _: dict[str, Any]) -> Any:
        """``settings.getWebServerSettings``: ``null`` on Cloud; the field from v0.29.6."""
        if self.faults.cloud:
            return None
        row: Row = {"serverIp": self.store.server_ip}
        if self.features.remote_servers_only:
            row["remoteServersOnly"] = self.faults.remote_servers_only
        return row

    def _servers_required(self) -> bool:
        return self.faults.cloud or (
            self.features.remote_servers_only and self.faults.remote_servers_only
        )

    def user_session(self, _: dict[str, Any]) -> Any:
        """``user.session``."""
        with self.store.lock:
            user = self.store.user()["user"]
        return {
            "user": user,
            "session": {
                "activeOrganizationId": self.store.organization_id,
                "userId": self.store.user_id,
            },
        }

    def server_all(self, _: dict[str, Any]) -> Any:
        """``server.all``: newest first."""
        with self.store.lock:
            return [{**public(s), "totalSum": 0} for s in reversed(self.store.servers.values())]

    def server_one(self, data: dict[str, Any]) -> Any:
        """``server.one``."""
        with self.store.lock:
            server = self.store.servers.get(data["serverId"])
            if server is None:
                raise not_found("Server not found")
            return {**public(server), "deployments": [], "sshKey": None}

    # --- projects ---
    def project_all(self, _: dict[str, Any]) -> Any:
        """``project.all``: full rows, or compose summaries from 0.28.3."""
        summary = self.features.project_all_summary
        render = self._compose_summary if summary else self._compose_with_domains
        with self.store.lock:
            return [
                self._project_tree(p, render, summary=summary)
                for p in reversed(self.store.projects.values())
            ]

    def project_create(self, data: dict[str, Any]) -> Any:
        """``project.create``: plus a default ``production`` environment from 0.25."""
        now = now_iso()
        project: Row = {
            "projectId": nanoid(),
            "name": data["name"],
            "description": data.get("description"),
            "createdAt": now,
            "organizationId": self.store.organization_id,
            "env": data.get("env", ""),
        }
        with self.store.lock:
            self.store.projects[project["projectId"]] = project
            if not self.features.environments:
                return public(project)
            env = self._new_environment(
                project["projectId"], "production", "Production environment", default=True
            )
            return {"project": public(project), "environment": public(env)}

    def project_one(self, data: dict[str, Any]) -> Any:
        """``project.one``: compose summaries from 0.29.14."""
        with self.store.lock:
            project = self.store.projects.get(data["projectId"])
            if project is None:
                raise not_found("Project not found")
            if self.features.project_one_summary:
                return self._project_tree(project, self._compose_one_summary, summary=True)
            return self._project_tree(project, self._compose_with_domains)

    def _compose_one_summary(self, compose: Row) -> Row:
        server = self.store.servers.get(compose.get("serverId") or "")
        return {
            key: compose.get(key)
            for key in (
                "composeId",
                "name",
                "description",
                "appName",
                "createdAt",
                "serverId",
                "composeStatus",
            )
        } | {"server": {"name": server["name"]} if server else None}

    def project_remove(self, data: dict[str, Any]) -> Any:
        """``project.remove``: cascades rows only; containers keep running."""
        with self.store.lock:
            project = self.store.projects.pop(data["projectId"], None)
            if project is None:
                raise not_found("Project not found")
            env_ids = {e["environmentId"] for e in self._environments_of(project["projectId"])}
            for env_id in env_ids:
                del self.store.environments[env_id]
            for compose in list(self.store.composes.values()):
                if (
                    compose.get("environmentId") in env_ids
                    or compose.get("projectId") == project["projectId"]
                ):
                    self._drop_compose_rows(compose["composeId"])
            for service_id, row in list(self.store.services.items()):
                if (
                    row.get("environmentId") in env_ids
                    or row.get("projectId") == project["projectId"]
                ):
                    del self.store.services[service_id]
            return public(project)

    # --- environments ---
    def _new_environment(self, project_id: str, name: str, description: str, default: bool) -> Row:
        env: Row = {
            "environmentId": nanoid(),
            "name": name,
            "description": description,
            "createdAt": now_iso(),
            "env": "",
            "projectId": project_id,
        }
        if self.features.env_is_default:
            env["isDefault"] = default
        self.store.environments[env["environmentId"]] = env
        return env

    def environment_create(self, data: dict[str, Any]) -> Any:
        """``environment.create``; the name ``production`` is reserved."""
        if data["name"] == "production":
            raise bad_request("You cannot create a environment with the name 'production'")
        with self.store.lock:
            if data["projectId"] not in self.store.projects:
                raise not_found("Project not found")
            env = self._new_environment(
                data["projectId"], data["name"], data.get("description", ""), default=False
            )
            return public(env)

    def environment_by_project(self, data: dict[str, Any]) -> Any:
        """``environment.byProjectId``: oldest first."""

        def render(compose: Row) -> Row:
            return {**self._compose_one_summary(compose), "icon": compose.get("icon")}

        with self.store.lock:
            return [
                self._environment_with_project(env, render)
                for env in self._environments_of(data["projectId"])
            ]

    def environment_one(self, data: dict[str, Any]) -> Any:
        """``environment.one``."""
        with self.store.lock:
            env = self.store.environments.get(data["environmentId"])
            if env is None:
                raise not_found("Environment not found")
            return self._environment_with_project(env, public)

    def environment_remove(self, data: dict[str, Any]) -> Any:
        """``environment.remove``: not the default one, not while it holds services."""
        with self.store.lock:
            env = self.store.environments.get(data["environmentId"])
            if env is None:
                raise not_found("Environment not found")
            if env.get("isDefault") or (
                not self.features.env_is_default and env["name"] == "production"
            ):
                raise bad_request("You cannot delete the default environment")
            if self._composes_in("environmentId", env["environmentId"]) or any(
                r.get("environmentId") == env["environmentId"] for r in self.store.services.values()
            ):
                raise bad_request(
                    "Cannot delete environment: it has active services. "
                    "Please delete all services first."
                )
            del self.store.environments[env["environmentId"]]
            return public(env)

    # --- compose ---
    def compose_create(self, data: dict[str, Any]) -> Any:
        """``compose.create``: a new idle compose with a generated appName."""
        with self.store.lock:
            owner: dict[str, Any]
            if self.features.environments:
                if data["environmentId"] not in self.store.environments:
                    raise not_found("Environment not found")
                owner = {"environmentId": data["environmentId"]}
            else:
                if data["projectId"] not in self.store.projects:
                    raise not_found("Project not found")
                owner = {"projectId": data["projectId"]}
            server_id = data.get("serverId")
            if not server_id and self._servers_required():
                raise ApiError("UNAUTHORIZED", "You need to use a server to create a compose")
            if server_id and server_id not in self.store.servers:
                raise not_found("Server not found")
            row = self._new_compose_row(data, owner, server_id or None)
            self.store.composes[row["composeId"]] = row
            self._app_servers[row["appName"]] = row["serverId"]
            return public(row)

    def _new_compose_row(self, data: dict[str, Any], owner: Row, server_id: str | None) -> Row:
        row: Row = {
            "composeId": nanoid(),
            "name": data["name"],
            "appName": build_app_name("compose", data.get("appName")),
            "description": data.get("description"),
            "env": None,
            "composeFile": data.get("composeFile", ""),
            "refreshToken": nanoid(),
            "sourceType": data.get("sourceType", "github"),
            "composeType": data.get("composeType", "docker-compose"),
            "repository": None,
            "owner": None,
            "branch": None,
            "autoDeploy": True,
            "gitlabProjectId": None,
            "gitlabRepository": None,
            "gitlabOwner": None,
            "gitlabBranch": None,
            "gitlabPathNamespace": None,
            "bitbucketRepository": None,
            "bitbucketRepositorySlug": None,
            "bitbucketOwner": None,
            "bitbucketBranch": None,
            "giteaRepository": None,
            "giteaOwner": None,
            "giteaBranch": None,
            "customGitUrl": None,
            "customGitBranch": None,
            "customGitSSHKeyId": None,
            "command": "",
            "enableSubmodules": False,
            "composePath": "./docker-compose.yml",
            "suffix": "",
            "randomize": False,
            "isolatedDeployment": False,
            "isolatedDeploymentsVolume": False,
            "triggerType": "push",
            "composeStatus": "idle",
            **owner,
            "createdAt": now_iso(),
            "watchPaths": None,
            "githubId": None,
            "gitlabId": None,
            "bitbucketId": None,
            "giteaId": None,
            "serverId": server_id,
            "icon": None,
            "createEnvFile": True,
        }
        if self.features.create_source_type:
            row["serviceNetworks"] = None
        return row

    def compose_one(self, data: dict[str, Any]) -> Any:
        """``compose.one``: the row with its relations."""
        with self.store.lock:
            return self._full_compose(self._find_compose(data["composeId"]))

    def compose_converted(self, data: dict[str, Any]) -> Any:
        """``compose.getConvertedCompose``: the file on disk as Dokploy would deploy it (written
        by a raw deploy or a Git clone), serialised; ``"null\\n"`` before there is one."""
        with self.store.lock:
            app_name = self._find_compose(data["composeId"])["appName"]
        text = self.workspace.read_compose_file(app_name)
        return text if text is not None else "null\n"

    def compose_update(self, data: dict[str, Any]) -> Any:
        """``compose.update``: any field (appName ignored); an unknown id is an empty body
        from v0.28.7, a 404 before."""
        with self.store.lock:
            compose = self.store.composes.get(data["composeId"])
            if compose is None:
                if not self.features.update_unknown_empty:
                    raise not_found("Compose not found")
                return EMPTY
            changes = {k: v for k, v in data.items() if k not in ("composeId", "appName")}
            compose.update(changes)
            return public(compose)

    def compose_save_environment(self, data: dict[str, Any]) -> Any:
        """``compose.saveEnvironment``."""
        with self.store.lock:
            self._find_compose(data["composeId"])["env"] = data["env"]
            return True

    def compose_deploy(self, data: dict[str, Any], redeploy: bool) -> Any:
        """``compose.deploy``/``redeploy``: queue a job, answer at once."""
        with self.store.lock:
            compose = self._find_compose(data["composeId"])
            title = data.get("title") or ("Rebuild deployment" if redeploy else "Manual deployment")
            job = Job(compose["composeId"], title, data.get("description", ""), redeploy)
            self.deploys.enqueue(compose.get("serverId"), job)
        if self.features.deploy_body == "empty":
            return EMPTY
        body: Row = {
            "success": True,
            "message": "Redeployment queued" if redeploy else "Deployment queued",
        }
        if self.features.deploy_body == "full":
            body["composeId"] = compose["composeId"]
        return body

    def _set_status(self, compose_id: str, status: str) -> None:
        with self.store.lock:
            compose = self.store.composes.get(compose_id)
            if compose is not None:
                compose["composeStatus"] = status

    def compose_start(self, data: dict[str, Any]) -> Any:
        """``compose.start``: synchronous ``up -d`` of the deployed file; 500 + idle on failure."""
        with self.store.lock:
            compose = self._find_compose(data["composeId"])
            app_name, compose_id = compose["appName"], compose["composeId"]
            stack = compose.get("composeType") == "stack"
        if not stack:
            code = self.workspace.code_dir(app_name)
            try:
                if not (code / "docker-compose.yml").exists():
                    raise RuntimeFailure(
                        f"Command failed: cd {code} && docker compose -p {app_name} up -d\n"
                        f"/bin/sh: 1: cd: can't cd to {code}\n"
                    )
                spec = self.workspace.load(app_name)
                self.runtime.up(app_name, spec, lambda _: None, recreate=False)
            except (RuntimeFailure, ComposeError, OSError) as exc:
                self._set_status(compose_id, "idle")
                raise internal(str(exc)) from exc
        self._set_status(compose_id, "done")
        return True

    def compose_stop(self, data: dict[str, Any]) -> Any:
        """``compose.stop``: synchronous; status ``idle``."""
        with self.store.lock:
            compose = self._find_compose(data["composeId"])
            app_name, compose_id = compose["appName"], compose["composeId"]
        self._wait_out_sigterm(app_name)
        self.runtime.stop(app_name)
        self._set_status(compose_id, "idle")
        return True

    def _wait_out_sigterm(self, app_name: str) -> None:
        """Docker's stop waits for running processes that ignore SIGTERM, and the call waits with it.

        Slept outside every lock: listings and other calls go on meanwhile, as on Docker."""
        delay = self.faults.sigterm_ignored_seconds
        if delay and any(c.state == "running" for c in self.runtime.containers(app_name)):
            time.sleep(delay)

    def _drop_compose_rows(self, compose_id: str) -> Row:
        compose = self.store.composes.pop(compose_id)
        for deployment in self.store.deployments_of(compose_id):
            del self.store.deployments[deployment["deploymentId"]]
        return compose

    def compose_delete(self, data: dict[str, Any]) -> Any:
        """``compose.delete``: row first, then best-effort ``down`` and file cleanup."""
        with self.store.lock:
            compose = self._find_compose(data["composeId"])
            rendered = self._full_compose(compose)
            self._drop_compose_rows(compose["composeId"])
        self.deploys.clean(compose["composeId"])
        if self.faults.compose_dir_missing and not (self.features.delete_downs_without_dir):
            # up to v0.28.8 the cleanup is `cd <dir> && docker compose down && rm`: with the
            # directory gone nothing runs, the error is swallowed, and the row is already gone
            return rendered
        self._wait_out_sigterm(compose["appName"])
        self.runtime.down(compose["appName"], volumes=bool(data["deleteVolumes"]))
        self.workspace.remove(compose["appName"])
        return rendered

    def compose_cancel_deployment(self, data: dict[str, Any]) -> Any:
        """``compose.cancelDeployment``: self-hosted Dokploy always refuses."""
        with self.store.lock:
            self._find_compose(data["composeId"])
        raise bad_request("Deployment cancellation only available in cloud version")

    def compose_kill_build(self, data: dict[str, Any]) -> Any:
        """``compose.killBuild``: nothing to kill here; empty body."""
        with self.store.lock:
            self._find_compose(data["composeId"])
        return EMPTY

    def compose_clean_queues(self, data: dict[str, Any]) -> Any:
        """``compose.cleanQueues``: drop waiting jobs of this compose."""
        with self.store.lock:
            self._find_compose(data["composeId"])
        self.deploys.clean(data["composeId"])
        return {"success": True, "message": "Queues cleaned successfully"}

    def compose_load_services(self, data: dict[str, Any]) -> Any:
        """``compose.loadServices``: service names of the file on disk (``fetch`` rewrites it)."""
        with self.store.lock:
            compose = dict(self._find_compose(data["composeId"]))
        app_name = compose["appName"]
        try:
            if data.get("type") == "fetch":
                if compose.get("sourceType") != "raw":
                    raise internal(f"Error: ❌ {compose.get('sourceType')} source not configured")
                self.workspace.write_files(compose)
            if not (self.workspace.code_dir(app_name) / "docker-compose.yml").exists():
                raise not_found("Services not found")
            spec = self.workspace.load(app_name)
        except ComposeError as exc:
            raise internal(str(exc)) from exc
        return [service.name for service in spec.services]

    def compose_search(self, data: dict[str, Any]) -> Any:
        """``compose.search`` (0.28.3+)."""

        def like(value: Any, needle: str) -> bool:
            return needle.lower() in str(value or "").lower()

        with self.store.lock:
            rows = list(reversed(self.store.composes.values()))
            q = data.get("q")
            if q:
                rows = [
                    c
                    for c in rows
                    if any(like(c.get(k), q) for k in ("name", "appName", "description"))
                ]
            for key in ("name", "appName", "description"):
                if data.get(key):
                    rows = [c for c in rows if like(c.get(key), data[key])]
            if data.get("environmentId"):
                rows = [c for c in rows if c.get("environmentId") == data["environmentId"]]
            if data.get("projectId"):
                rows = [
                    c
                    for c in rows
                    if (self._project_of(c) or {}).get("projectId") == data["projectId"]
                ]
            offset, limit = int(data["offset"]), int(data["limit"])
            items = [
                {
                    k: c.get(k)
                    for k in (
                        "composeId",
                        "name",
                        "appName",
                        "description",
                        "environmentId",
                        "composeStatus",
                        "sourceType",
                        "createdAt",
                    )
                }
                for c in rows[offset : offset + limit]
            ]
            return {"items": items, "total": len(rows)}

    # --- deployments / docker ---
    def deployment_all_by_compose(self, data: dict[str, Any]) -> Any:
        """``deployment.allByCompose``: newest first; for a deleted compose 404 up to v0.28.6,
        ``[]`` from v0.28.7 (its rows went with it)."""
        with self.store.lock:
            if data["composeId"] not in self.store.composes and (
                self.features.deleted_compose_has_no_deployments
            ):
                return []
            self._find_compose(data["composeId"])
            return [public(d) for d in self.store.deployments_of(data["composeId"])]

    def deployment_read_logs(self, data: dict[str, Any]) -> Any:
        """``deployment.readLogs`` (0.29.5+): the log's last ``tail`` lines."""
        with self.store.lock:
            deployment = self.store.deployments.get(data["deploymentId"])
            if deployment is None:
                raise not_found("Deployment not found")
            path = Path(deployment["logPath"])
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-int(data["tail"]) :])

    def containers_by_app_name(self, data: dict[str, Any]) -> Any:
        """``docker.getContainersByAppNameMatch``: real state of the emulated containers."""
        if self.faults.empty_containers:
            return []
        server_id = data.get("serverId") or None
        with self.store.lock:
            if server_id and server_id not in self.store.servers:
                return []  # the remote command fails, which Dokploy reports as []
            servers = dict(self._app_servers)
        app_name = data["appName"]
        if data.get("appType") == "docker-compose":
            views = self.runtime.containers(app_name)
        else:
            views = [v for v in self.runtime.containers() if app_name in v.name]
        return [
            {"containerId": v.container_id, "name": v.name, "state": v.state, "status": v.status}
            for v in views
            if servers.get(v.project) == server_id
        ]
