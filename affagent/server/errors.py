"""HTTP errors in OpenAI's shape, and the mapping from affagent's exceptions to statuses."""

from __future__ import annotations

from affagent.errors import (
    AffagentError,
    BackendError,
    ConcurrentTurnError,
    ConfigError,
    InputError,
    SessionNotFound,
)


class ApiError(Exception):
    """An error answer: status, OpenAI error ``type``, a message meant for the caller."""

    def __init__(
        self,
        status: int,
        message: str,
        type: str = "invalid_request_error",
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = headers or {}

    def body(self) -> dict[str, object]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "code": self.code,
                "param": self.param,
            }
        }


def unauthorized(message: str) -> ApiError:
    return ApiError(
        401,
        message,
        "authentication_error",
        code="invalid_api_key",
        headers={"WWW-Authenticate": 'Bearer realm="affagent"'},
    )


def from_affagent(exc: AffagentError) -> ApiError:
    """The answer for an error raised by the agent or the store."""
    msg = str(exc)
    if isinstance(exc, SessionNotFound):
        return ApiError(404, msg, "not_found_error", code="session_not_found")
    if isinstance(exc, ConcurrentTurnError):
        return ApiError(
            409,
            msg,
            "conflict_error",
            code="concurrent_turn",
            headers={"Retry-After": "1"},
        )
    if isinstance(exc, InputError):
        return ApiError(400, msg, code="invalid_message", param="messages")
    if isinstance(exc, BackendError):
        return ApiError(502, msg, "backend_error", code="backend_failed")
    if isinstance(exc, ConfigError):
        return ApiError(400, msg, code="invalid_value")
    return ApiError(500, "internal error", "internal_error")


ERROR_STATUS_DOCS: dict[int, str] = {
    400: "Invalid request: bad JSON, wrong types, unknown fields, invalid text",
    401: "Missing or invalid API key",
    404: "No such session for this API key's tenant",
    409: "Another turn on this session committed first; nothing was stored, retry",
    413: "Request body larger than the server's limit",
    502: "The LLM backend failed; nothing was stored, the session is unchanged",
}
