"""HTTP layer: the REST adapter's routing, auth gate, content-type and error rendering, plus
the ``/__emulator`` admin endpoints. Bound to 127.0.0.1 only."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .errors import ApiError
from .faults import Faults
from .procedures import EMPTY, Procedures
from .validation import validate_input
from .versions import Features

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # Next.js' default API body limit


@dataclass
class Response:
    """Status, raw body (``b""`` for an empty body) and content type."""

    status: int
    body: bytes = b""
    content_type: str | None = "application/json"


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def json_response(status: int, value: Any) -> Response:
    """A JSON response."""
    return Response(status, _json(value))


def _spread(value: Any) -> dict[str, Any]:
    # The adapter builds the input as `{...body}`: objects are copied, arrays and strings turn
    # into index-keyed objects, anything else into `{}`.
    if isinstance(value, dict):
        return value
    if isinstance(value, list | str):
        return {str(i): item for i, item in enumerate(value)}
    return {}


class ApiApp:
    """Request handling independent of the socket plumbing."""

    def __init__(
        self,
        api_key: str,
        features: Features,
        faults: Faults,
        procedures: Procedures,
        admin: Callable[[str, str, bytes], Response],
    ) -> None:
        self.api_key = api_key
        self.features = features
        self.faults = faults
        self.procedures = procedures
        self.admin = admin

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Response:
        """One request → one response. ``headers`` keys are lower-case."""
        parts = urlsplit(target)
        path = parts.path
        if path.startswith("/__emulator/"):
            return self.admin(method, path, body)
        if path.rstrip("/") == "/api/health":
            return json_response(200, {"ok": True})
        if not path.startswith("/api/"):
            return Response(404, b"404: This page could not be found.", "text/html; charset=utf-8")
        delay = self.faults.delay_seconds
        if delay:
            time.sleep(delay)
        if self.faults.take_http_500():
            return json_response(
                500, {"message": "Internal server error", "code": "INTERNAL_SERVER_ERROR"}
            )
        if self.faults.key_revoked or headers.get("x-api-key") != self.api_key:
            return json_response(401, {"message": "Unauthorized"})
        name = path[len("/api/") :].strip("/")
        procedure = self.procedures.lookup(name)
        if procedure is None or procedure.method != method:
            if method == "HEAD":
                return Response(204, content_type=None)
            return self._error(ApiError("NOT_FOUND", "Not found"), None)
        if name == "settings.getDokployVersion" and self.faults.reported_version:
            return json_response(200, self.faults.reported_version)
        forbidden = self.faults.forbidden_message
        if forbidden and not name.startswith("settings."):
            # A valid key whose member lacks access: Dokploy's checkServiceAccess and friends
            # throw UNAUTHORIZED with a message, unlike the auth gate's bare body.
            return self._error(ApiError("UNAUTHORIZED", forbidden), procedure.name)
        try:
            raw = self._input(method, parts.query, headers, body)
            data = validate_input(procedure.schema, raw, zod_v4=self.features.trpc_v11)
            result = procedure.handler(data)
        except ApiError as exc:
            return self._error(exc, procedure.name)
        except Exception as exc:
            log.exception("procedure %s failed", procedure.name)
            return self._error(ApiError("INTERNAL_SERVER_ERROR", str(exc)), procedure.name)
        if result is EMPTY:
            return Response(200, b"")
        return json_response(200, result)

    def _input(
        self, method: str, query: str, headers: dict[str, str], body: bytes
    ) -> dict[str, Any]:
        if method == "GET":
            values: dict[str, Any] = {}
            for key, value in parse_qsl(query, keep_blank_values=True):
                values.setdefault(key, value)
            return values
        content_type = headers.get("content-type", "")
        if self.features.trpc_v11 and not content_type.lower().startswith("application/json"):
            if not content_type:
                raise ApiError("UNSUPPORTED_MEDIA_TYPE", "Missing content-type header")
            raise ApiError("UNSUPPORTED_MEDIA_TYPE", f'Unsupported content-type "{content_type}"')
        if len(body) > MAX_BODY:
            raise ApiError("PAYLOAD_TOO_LARGE", "Body exceeded 1mb limit")
        if not body.strip():
            return {}
        try:
            return _spread(json.loads(body))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError("PARSE_ERROR", "Failed to parse request body") from exc

    def _error(self, error: ApiError, path: str | None) -> Response:
        return json_response(error.status, error.body(self.features.trpc_v11, path))


class _Handler(BaseHTTPRequestHandler):
    server: EmulatorHTTPServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the body waits for the client's
    # delayed ACK (~40 ms a call). Dokploy's Node server sends small responses at once.
    disable_nagle_algorithm = True

    def _dispatch(self) -> None:
        host = self.client_address[0]
        if self.path.startswith("/__emulator/") and not host.startswith("127."):
            response = json_response(403, {"message": "admin endpoints are loopback-only"})
        else:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            response = self.server.app.handle(self.command, self.path, headers, body)
        self.send_response(response.status)
        if response.content_type:
            self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD" and response.body:
            self.wfile.write(response.body)

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class EmulatorHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server on 127.0.0.1 that hands requests to an ApiApp."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, app: ApiApp) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.app = app
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self.server_address[1])

    def start_background(self) -> None:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="dokploy-emulator-http",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
