"""The one error shape every JSON answer uses, and the exceptions that carry it.

``{"error": "<code>", "message": "<for people>", "fields": {...}}``: ``fields``
only where single fields are at fault, in the ``{field: message}`` shape that
WTForms uses, so a form and the API say the same thing.
"""

from __future__ import annotations

from typing import Any


def error_body(code: str, message: str, fields: dict[str, str] | None = None, **extra: Any) -> dict:
    body: dict[str, Any] = {"error": code, "message": message}
    if fields:
        body["fields"] = fields
    body.update(extra)
    return body


class ApiError(Exception):
    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        fields: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> dict:
        return error_body(self.code, self.message, self.fields, **self.extra)


class BadRequest(ApiError):
    status, code = 400, "bad_request"


class ValidationFailed(ApiError):
    status, code = 400, "validation_failed"

    def __init__(self, fields: dict[str, str]) -> None:
        names = ", ".join(sorted(fields))
        super().__init__(f"invalid value for {names}", fields)


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"

    def __init__(self, message: str, bearer_error: str | None = None) -> None:
        challenge = 'Bearer realm="xapi2"'
        if bearer_error:
            challenge += f', error="{bearer_error}"'
        super().__init__(message, headers={"WWW-Authenticate": challenge})


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


class IdempotencyKeyReused(ApiError):
    """422: an ``Idempotency-Key`` sent again with another request (other path or
    body). Replaying the first answer would lie; running the new one would make the
    key mean two things (draft-ietf-httpapi-idempotency-key-header)."""

    status, code = 422, "idempotency_key_reused"


class RateLimited(ApiError):
    """429: more requests than ``ATS_API_RATE_LIMIT`` allows this token (or, without
    a valid token, this address) in the current window; ``Retry-After`` says how
    many seconds until the next window (ats/ratelimit.py)."""

    status, code = 429, "rate_limited"


class UnsupportedMediaType(ApiError):
    status, code = 415, "unsupported_media_type"

    def __init__(self) -> None:
        super().__init__("send the body as Content-Type: application/json")


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"the body is larger than {limit} bytes")
