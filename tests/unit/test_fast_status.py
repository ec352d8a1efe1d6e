"""The stdlib `status` fast path: same options rules, same error mapping, same decisions.

Errors are checked against the httpx DokployClient on the same local HTTP server: class,
message, hint, details and exit code must match exactly.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pydantic
import pytest
from pydantic.alias_generators import to_camel
from support.ports import free_port

from dokploy_provider import compose as compose_file
from dokploy_provider import dokploy, fast_status, models
from dokploy_provider.api_errors import RetryPolicy, TransportFailure, retry_query
from dokploy_provider.dokploy import DokployClient
from dokploy_provider.errors import (
    AuthenticationFailed,
    ConfigurationError,
    DokployError,
    NotFound,
    NotOwned,
    PermissionDenied,
    ServerError,
    ServerUnreachable,
)
from dokploy_provider.fast_status import Fallback, FastClient
from dokploy_provider.option_table import OPTIONS, options_problem
from dokploy_provider.options import Settings, load_settings, option_names
from dokploy_provider.state import MachineFolder, MachineState
from dokploy_provider.status import Status, parse_time, workspace_status
from dokploy_provider.urls import parse_server_url

TOKEN = "fast-TEST-key-0123456789"
Reply = tuple[int, dict[str, str], bytes]


@dataclass
class Server:
    """A local HTTP/1.1 server answering from a queue of canned replies (last one repeats)."""

    url: str
    replies: list[Reply]
    paths: list[str] = field(default_factory=list)
    connections: set[int] = field(default_factory=set)


def _json(status: int, body: Any) -> Reply:
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server("", [])

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            state.paths.append(self.path)
            state.connections.add(id(self.connection))
            status, headers, body = (
                state.replies.pop(0) if len(state.replies) > 1 else state.replies[0]
            )
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dokploy, "RETRY_BACKOFF_SECONDS", 0.0)


def _fast(url: str, *, attempts: int = 3, read_timeout: float = 5.0) -> FastClient:
    return FastClient(
        parse_server_url(url),
        TOKEN,
        connect_timeout=2.0,
        read_timeout=read_timeout,
        attempts=attempts,
        backoff=0.0,
    )


def _full(url: str, *, attempts: int = 3, read_timeout: float = 5.0) -> DokployClient:
    return DokployClient(
        parse_server_url(url),
        TOKEN,
        connect_timeout=2.0,
        read_timeout=read_timeout,
        retry_attempts=attempts,
    )


def _failure(call: Callable[[], object]) -> DokployError:
    with pytest.raises(DokployError) as info:
        call()
    return info.value


def _same(fast: DokployError, full: DokployError) -> None:
    assert type(fast) is type(full)
    assert str(fast) == str(full)
    assert fast.exit_code == full.exit_code
    assert fast.details == full.details
    assert fast.endpoint == full.endpoint
    assert fast.status_code == full.status_code


COMPOSE = {
    "composeId": "c1",
    "name": "ws1",
    "appName": "devpod-ws1-abc123",
    "description": compose_file.description("ws1", "0a1b2c"),
    "composeStatus": "done",
    "serverId": None,
    "deployments": [
        {"deploymentId": "d1", "createdAt": "2026-01-01T10:00:00.000Z", "startedAt": None},
        {"deploymentId": "d2", "createdAt": "2026-01-01T11:00:00.000Z", "status": "done"},
    ],
    "environment": {"projectId": "p1"},
}


# -- error mapping: one mapping, two clients ---------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (_json(401, {"message": "Unauthorized"}), AuthenticationFailed),
        (_json(401, {"message": "no access", "code": "UNAUTHORIZED"}), PermissionDenied),
        (_json(403, {"message": "Forbidden", "data": {"code": "FORBIDDEN"}}), PermissionDenied),
        (_json(404, {"message": "Compose not found", "code": "NOT_FOUND"}), NotFound),
        ((404, {}, b""), NotFound),
        ((404, {"Content-Type": "text/plain"}, b"Not Found"), NotFound),
        (
            _json(400, {"message": "bad", "issues": [{"path": ["composeId"], "message": "x"}]}),
            DokployError,
        ),
        (_json(409, {"message": "exists"}), DokployError),
        (_json(500, {"message": "boom\nat line 1\nat line 2"}), ServerError),
        ((418, {}, b"teapot"), DokployError),
    ],
)
def test_http_errors_map_exactly_like_the_httpx_client(
    server: Server, reply: Reply, expected: type[DokployError]
) -> None:
    server.replies = [reply]
    fast = _failure(lambda: _fast(server.url).get_compose("c1"))
    full = _failure(lambda: _full(server.url).get_compose("c1"))
    assert isinstance(fast, expected)
    _same(fast, full)


def test_rejected_key_exits_4_and_never_shows_the_key(server: Server) -> None:
    server.replies = [_json(401, {"message": "Unauthorized"})]
    error = _failure(lambda: _fast(server.url).get_compose("c1"))
    assert error.exit_code == 4
    assert TOKEN not in str(error)


def test_unreachable_server_maps_like_the_httpx_client() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    fast = _failure(lambda: _fast(url).get_compose("c1"))
    full = _failure(lambda: _full(url).get_compose("c1"))
    assert isinstance(fast, ServerUnreachable) and fast.exit_code == 3
    assert "connection refused" in str(fast)
    _same(fast, full)


def test_read_timeout_maps_like_the_httpx_client() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts (kernel backlog) and never answers
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        fast = _failure(lambda: _fast(url, attempts=1, read_timeout=0.3).get_compose("c1"))
        full = _failure(lambda: _full(url, attempts=1, read_timeout=0.3).get_compose("c1"))
    finally:
        listener.close()
    assert "no response within 0.3 s" in str(fast)
    _same(fast, full)


def test_5xx_is_retried_then_answered(server: Server) -> None:
    server.replies = [_json(502, {"message": "bad gateway"}), _json(200, COMPOSE)]
    compose = _fast(server.url).get_compose("c1")
    assert compose.compose_status == "done"
    assert len(server.paths) == 2


# -- reading answers ---------------------------------------------------------------------------


def test_compose_and_containers_are_read_on_one_connection(server: Server) -> None:
    containers = [{"containerId": "x", "name": "n", "state": "running", "status": "Up 3 hours"}]
    server.replies = [_json(200, COMPOSE), _json(200, containers)]
    with _fast(server.url) as client:
        compose = client.get_compose("c1")
        found = client.get_containers(compose.app_name, "srv1")
    assert compose.app_name == "devpod-ws1-abc123"
    assert [d.deployment_id for d in compose.deployments] == ["d1", "d2"]
    assert [(c.state, c.status) for c in found] == [("running", "Up 3 hours")]
    assert server.paths[0] == "/api/compose.one?composeId=c1"
    assert server.paths[1] == (
        "/api/docker.getContainersByAppNameMatch?appName=devpod-ws1-abc123"
        "&appType=docker-compose&serverId=srv1"
    )
    assert len(server.connections) == 1


def test_path_prefix_and_null_fields(server: Server) -> None:
    server.replies = [
        _json(200, {**COMPOSE, "composeStatus": None, "deployments": None}),
        (200, {}, b""),
    ]
    with _fast(server.url + "/dokploy/") as client:
        compose = client.get_compose("c1")
        assert client.get_containers("a") == []
    assert compose.compose_status == "idle" and list(compose.deployments) == []
    assert server.paths[0].startswith("/dokploy/api/compose.one?")


@pytest.mark.parametrize(
    "reply",
    [
        (302, {"Location": "https://elsewhere/"}, b""),
        (200, {"Content-Type": "text/html"}, b"<html>login</html>"),
        (200, {}, b""),
        _json(200, [1, 2]),
        _json(200, {**COMPOSE, "appName": 5}),
        _json(200, {**COMPOSE, "deployments": [{"createdAt": "x"}]}),
    ],
)
def test_anything_unexpected_falls_back(server: Server, reply: Reply) -> None:
    server.replies = [reply]
    with pytest.raises(Fallback):
        _fast(server.url).get_compose("c1")


def test_unexpected_container_rows_fall_back(server: Server) -> None:
    server.replies = [_json(200, [{"containerId": "x", "name": "n"}])]
    with pytest.raises(Fallback):
        _fast(server.url).get_containers("a")


# -- options: one set of rules -----------------------------------------------------------------


def test_every_option_has_a_fast_check() -> None:
    assert set(OPTIONS) == option_names()
    required = {name for name, option in OPTIONS.items() if option.required}
    assert required == {str(f.alias) for f in Settings.model_fields.values() if f.is_required()}


def test_status_defaults_match_the_settings_model() -> None:
    # The fast path reads its timeouts' defaults from the same declarations as the model.
    by_alias = {str(f.alias): f.default for f in Settings.model_fields.values()}
    for name in ("DOKPLOY_HTTP_TIMEOUT", "DOKPLOY_DEPLOY_TIMEOUT", "DOKPLOY_READY_TIMEOUT"):
        assert by_alias[name] == OPTIONS[name].default


BASE = {"DOKPLOY_SERVER_URL": "http://203.0.113.10:3000", "DOKPLOY_API_TOKEN": "tok-secret-123"}
CASES = [
    {},
    {"DOKPLOY_SERVER_URL": ""},
    {"DOKPLOY_API_TOKEN": "  "},
    {"DOKPLOY_SERVER_URL": "ftp://x"},
    {"DOKPLOY_SERVER_URL": "dokploy.example.com"},
    {"DOKPLOY_SSH_PORT_RANGE": "2250-2222"},
    {"DOKPLOY_SSH_PORT_RANGE": "2300"},
    {"DOKPLOY_HTTP_TIMEOUT": "0s"},
    {"DOKPLOY_HTTP_TIMEOUT": "1h30m"},
    {"DOKPLOY_DEPLOY_TIMEOUT": "ten"},
    {"DOKPLOY_READY_TIMEOUT": "90"},
    {"WORKSPACE_CPUS": "0"},
    {"WORKSPACE_CPUS": "1.5"},
    {"WORKSPACE_MEMORY": "32m"},
    {"WORKSPACE_MEMORY": "4GiB"},
    {"WORKSPACE_GPU": "-1"},
    {"WORKSPACE_GPU": "ALL"},
    {"WORKSPACE_KEEP_VOLUMES": "maybe"},
    {"WORKSPACE_KEEP_VOLUMES": "YES"},
    {"AGENT_PATH": "/tmp/devpod"},
    {"AGENT_PATH": "relative"},
    {"INACTIVITY_TIMEOUT": "-5m"},
    {"INJECT_GIT_CREDENTIALS": "nope"},
]


@pytest.mark.parametrize("change", CASES)
def test_fast_checks_accept_exactly_what_the_settings_model_accepts(
    change: dict[str, str],
) -> None:
    env = {**BASE, **change}
    try:
        load_settings(env)
    except ConfigurationError:
        valid = False
    else:
        valid = True
    assert (options_problem(env) is None) is valid


# -- the fast path as a whole -------------------------------------------------------------------


def _env(tmp_path: Path, url: str, **extra: str) -> dict[str, str]:
    folder = tmp_path / "machine"
    folder.mkdir(exist_ok=True)
    return {
        "DOKPLOY_SERVER_URL": url,
        "DOKPLOY_API_TOKEN": TOKEN,
        "MACHINE_ID": "ws1",
        "MACHINE_FOLDER": str(folder),
        **extra,
    }


@pytest.mark.parametrize(
    "extra",
    [
        {"WORKSPACE_MEMORY": "1m"},
        {"MACHINE_ID": "Not_Valid"},
        {"MACHINE_FOLDER": ""},
        {"HTTPS_PROXY": "http://proxy:3128"},
        {"http_proxy": "http://proxy:3128"},
        {"DOKPLOY_API_TOKEN": "two words"},
    ],
)
def test_declines_what_the_full_path_must_judge(
    tmp_path: Path, server: Server, extra: dict[str, str]
) -> None:
    assert fast_status.main(_env(tmp_path, server.url, **extra)) is False
    assert server.paths == []


def test_no_state_is_not_found_without_any_call(
    tmp_path: Path, server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    assert fast_status.main(_env(tmp_path, server.url)) is True
    assert capsys.readouterr().out == "NotFound\n"
    assert server.paths == []


def _save_state(tmp_path: Path, port: int) -> MachineFolder:
    folder = MachineFolder(tmp_path / "machine")
    folder.ensure()
    folder.save(
        MachineState(
            machine_id="ws1",
            phase="ready",
            compose_id="c1",
            app_name="devpod-ws1-abc123",
            ssh_host="127.0.0.1",
            ssh_port=port,
        )
    )
    return folder


def test_compose_404_is_not_found(
    tmp_path: Path, server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    _save_state(tmp_path, free_port())
    server.replies = [_json(404, {"message": "Compose not found", "code": "NOT_FOUND"})]
    assert fast_status.main(_env(tmp_path, server.url)) is True
    assert capsys.readouterr().out == "NotFound\n"


def test_rejected_key_exits_4(tmp_path: Path, server: Server) -> None:
    _save_state(tmp_path, free_port())
    server.replies = [_json(401, {"message": "Unauthorized"})]
    with pytest.raises(SystemExit) as info:
        fast_status.main(_env(tmp_path, server.url))
    assert info.value.code == 4


def test_unexpected_body_hands_over_before_printing(
    tmp_path: Path, server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    _save_state(tmp_path, free_port())
    server.replies = [(200, {}, b"<html>")]
    assert fast_status.main(_env(tmp_path, server.url)) is False
    assert capsys.readouterr().out == ""


def test_stopped_container_is_stopped(
    tmp_path: Path, server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    _save_state(tmp_path, free_port())
    exited = [{"containerId": "x", "name": "n", "state": "exited", "status": "Exited (0)"}]
    server.replies = [_json(200, COMPOSE), _json(200, exited)]
    assert fast_status.main(_env(tmp_path, server.url)) is True
    assert capsys.readouterr().out == "Stopped\n"


# -- the shared observation -------------------------------------------------------------------


def test_workspace_status_refuses_a_compose_of_another_machine() -> None:
    state = MachineState(machine_id="ws1", compose_id="c1", ssh_host="h", ssh_port=1)
    other = fast_status.parse_compose({**COMPOSE, "description": "[dokploy-provider machine=ws2]"})
    with pytest.raises(NotOwned):
        workspace_status(
            state, lambda _id: other, lambda *_: [], deploy_timeout=60, ready_timeout=60
        )


def test_workspace_status_asks_nothing_more_while_a_deploy_runs() -> None:
    state = MachineState(machine_id="ws1", compose_id="c1", ssh_host="h", ssh_port=1)
    running = fast_status.parse_compose({**COMPOSE, "composeStatus": "running"})

    def no_call(*_: object) -> list[fast_status.Container]:
        raise AssertionError("containers asked during a deploy")

    def no_probe(*_: object) -> bool:
        raise AssertionError("probed during a deploy")

    status = workspace_status(
        state,
        lambda _id: running,
        no_call,
        deploy_timeout=60,
        ready_timeout=60,
        probe=no_probe,
        clock=lambda: 30 + (parse_time("2026-01-01T11:00:00Z") or 0),
    )
    assert status is Status.BUSY


def _imported_modules(module: str) -> set[str]:
    """Every module ``module`` imports, at the top or lazily inside a function."""
    import ast
    import importlib.util

    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_fast_path_and_cli_share_run_verb_without_an_import_circle() -> None:
    # cli imports fast_status (to try it first) and the Click commands; neither fast_status nor
    # verbs may import cli or the commands.
    assert "dokploy_provider.fast_status" in _imported_modules("dokploy_provider.cli")
    assert "dokploy_provider.commands" in _imported_modules("dokploy_provider.cli")
    for module in ("dokploy_provider.fast_status", "dokploy_provider.verbs"):
        assert not any(
            name.startswith(("dokploy_provider.cli", "dokploy_provider.commands"))
            for name in _imported_modules(module)
        )
    assert "dokploy_provider.verbs.run_verb" in _imported_modules("dokploy_provider.fast_status")
    assert "dokploy_provider.verbs.run_verb" in _imported_modules("dokploy_provider.commands")


# -- one set of models: the fast path's views read what the pydantic models read ----------------

CONTAINER = {"containerId": "x", "name": "n", "state": "running", "status": "Up 3 hours"}
DEPLOYMENT = {"deploymentId": "d1", "createdAt": "2026-01-01T10:00:00.000Z", "startedAt": None}


def _deployment_view(row: dict[str, Any]) -> object:
    return fast_status.parse_compose({**COMPOSE, "deployments": [row]}).deployments[0]


VIEWS = [
    (fast_status.Compose, models.Compose, fast_status.parse_compose, COMPOSE),
    (fast_status.Deployment, models.Deployment, _deployment_view, DEPLOYMENT),
    (
        fast_status.Container,
        models.Container,
        lambda row: fast_status.parse_containers([row])[0],
        CONTAINER,
    ),
]


def _alias(model: type[pydantic.BaseModel], name: str) -> str:
    return model.model_fields[name].alias or to_camel(name)


@pytest.mark.parametrize(("view", "model", "parse", "body"), VIEWS)
def test_views_are_the_models_fields_read_the_same_way(
    view: type, model: type[pydantic.BaseModel], parse: Callable[[Any], Any], body: dict[str, Any]
) -> None:
    required = [name for name, f in model.model_fields.items() if f.is_required()]
    minimal = {_alias(model, name): body[_alias(model, name)] for name in required}
    for sample in (body, minimal):
        full, fast = model.model_validate(sample), parse(sample)
        for item in dataclasses.fields(view):
            assert item.name in model.model_fields, (
                f"{view.__name__}.{item.name} is not a model field"
            )
            if item.name != "deployments":
                assert getattr(fast, item.name) == getattr(full, item.name), item.name
        if view is fast_status.Compose:
            assert [d.deployment_id for d in fast.deployments] == [
                d.deployment_id for d in full.deployments
            ]
    for name in required:  # as strict as the model: each required field missing falls back
        trimmed = {k: v for k, v in body.items() if k != _alias(model, name)}
        with pytest.raises(pydantic.ValidationError):
            model.model_validate(trimmed)
        with pytest.raises(Fallback):
            parse(trimmed)


# -- one retry policy ---------------------------------------------------------------------------


def test_retry_policy_bounds_tries_time_and_pauses() -> None:
    policy = RetryPolicy(attempts=3, max_seconds=10.0, backoff=0.5)
    assert policy.may_retry(1, 0.0) and policy.may_retry(2, 9.9)
    assert not policy.may_retry(3, 0.0) and not policy.may_retry(1, 10.0)
    assert all(0 <= policy.pause(n) <= min(10.0, 0.5 * 2 ** (n - 1)) for n in (1, 2, 3, 8))
    assert RetryPolicy(attempts=0).may_retry(1, 0.0) is False
    assert RetryPolicy(backoff=0.0).pause(3) == 0.0


def test_retry_query_retries_5xx_and_transport_failures_but_not_a_refused_certificate() -> None:
    policy = RetryPolicy(attempts=3, backoff=0.0)
    answers: list[Any] = [TransportFailure("io", OSError("reset")), 502, 200]

    def send() -> int:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return int(answer)

    assert retry_query(send, lambda status: status, policy, sleep=lambda _: None) == 200
    answers[:] = [503, 503, 503, 200]
    assert retry_query(send, lambda status: status, policy, sleep=lambda _: None) == 503
    refused = TransportFailure("other", ssl.SSLCertVerificationError("certificate verify failed"))
    answers[:] = [refused, 200]
    with pytest.raises(TransportFailure):
        retry_query(send, lambda status: status, policy, sleep=lambda _: None)
    assert answers == [200]
