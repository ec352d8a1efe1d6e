"""tRPC errors and how the REST adapter renders them (tRPC v10 vs v11 body shapes)."""

from __future__ import annotations

from typing import Any

HTTP_STATUS = {
    "BAD_REQUEST": 400,
    "PARSE_ERROR": 400,
    "UNAUTHORIZED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "METHOD_NOT_SUPPORTED": 405,
    "TIMEOUT": 408,
    "CONFLICT": 409,
    "PRECONDITION_FAILED": 412,
    "PAYLOAD_TOO_LARGE": 413,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "UNPROCESSABLE_CONTENT": 422,
    "TOO_MANY_REQUESTS": 429,
    "CLIENT_CLOSED_REQUEST": 499,
    "INTERNAL_SERVER_ERROR": 500,
    "NOT_IMPLEMENTED": 501,
    "BAD_GATEWAY": 502,
    "SERVICE_UNAVAILABLE": 503,
    "GATEWAY_TIMEOUT": 504,
}


class ApiError(Exception):
    """A TRPCError as a procedure throws it; ``issues``/``zod_error`` only for input validation."""

    def __init__(
        self,
        code: str,
        message: str,
        issues: list[dict[str, Any]] | None = None,
        zod_error: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.issues = issues
        self.zod_error = zod_error

    @property
    def status(self) -> int:
        """HTTP status of this error's code."""
        return HTTP_STATUS.get(self.code, 500)

    def body(self, trpc_v11: bool, path: str | None) -> dict[str, Any]:
        """The JSON error body; ``path`` is None when no procedure matched."""
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.issues is not None:
            body["issues"] = self.issues
        if trpc_v11:
            data: dict[str, Any] = {"code": self.code, "httpStatus": self.status}
            if path is not None:
                data["path"] = path
            data["zodError"] = self.zod_error
            body["data"] = data
        return body


def not_found(message: str) -> ApiError:
    """A NOT_FOUND error with Dokploy's message."""
    return ApiError("NOT_FOUND", message)


def bad_request(message: str) -> ApiError:
    """A BAD_REQUEST error with Dokploy's message."""
    return ApiError("BAD_REQUEST", message)


def internal(message: str) -> ApiError:
    """An INTERNAL_SERVER_ERROR, e.g. a failed shell command."""
    return ApiError("INTERNAL_SERVER_ERROR", message)
