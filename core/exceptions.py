"""The API's errors, each with a stable `code`, and the handler that renders every one the same way.

Every error answer is `{"code": ..., "detail": ..., ...}` (../shared/CONTRACT.md §4); some add
what a client needs to fix the call: `field`, `index` (in a batch) or `events`. No answer ever
echoes a request header, and every detail passes through the secret redactor on its way out.
"""

import logging
import math
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.views import exception_handler

from core.redaction import redact

logger = logging.getLogger(__name__)

INVALID_KEY_DETAIL = "Send a valid API key in the Authorization header, with the scheme “Bearer”."


class ApiError(exceptions.APIException):
    """An API error with a stable code and, optionally, fields that say what to fix."""

    def __init__(self, detail: str | None = None, **extra: Any):
        super().__init__(detail=detail, code=self.default_code)
        self.extra = {name: value for name, value in extra.items() if value is not None}


class InvalidKey(exceptions.AuthenticationFailed):
    """No key, or a malformed, unknown, revoked or expired one: one answer for all of them.

    `reason` (never shown to the caller) tells the rejection log which it was; `snapshot` is the
    key when it is known (revoked, expired, rolled), so the workspace's admins can see it.
    """

    default_code = "invalid_key"
    default_detail = INVALID_KEY_DETAIL

    def __init__(self, reason: str = "invalid_key", snapshot: Any = None):
        super().__init__(detail=INVALID_KEY_DETAIL, code=self.default_code)
        self.reason = reason
        self.snapshot = snapshot


class _Wait(ApiError):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS

    def __init__(self, wait: float, detail: str | None = None):
        super().__init__(detail)
        # Retry-After is whole seconds; never 0, so a client does not spin.
        self.wait = max(1, math.ceil(wait))


class TooManyAttempts(_Wait):
    """Too many failed key attempts from this address: it waits before it may try again."""

    default_code = "too_many_attempts"
    default_detail = "Too many failed attempts from this address; retry later."


class RateLimited(_Wait):
    """This key sent more requests than its rate allows."""

    default_code = "rate_limited"
    default_detail = "This key is over its request rate; retry later."


class Unavailable(_Wait):
    """The database cannot be reached: nothing was done, and the call may be sent again."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "unavailable"
    default_detail = "The service cannot reach its database just now; retry shortly."

    def __init__(self):
        super().__init__(settings.UNAVAILABLE_RETRY_AFTER_SECONDS)


# What Django raises when the database is down, restarting or dropped the connection.
DATABASE_UNREACHABLE = (OperationalError, InterfaceError)


class IpNotAllowed(ApiError):
    """The caller's address is not on the key's allow-list."""

    status_code = status.HTTP_403_FORBIDDEN
    default_code = "ip_not_allowed"
    default_detail = "This key may not be used from this address."


class InsufficientScope(ApiError):
    """The key is of a kind that may not make this call."""

    status_code = status.HTTP_403_FORBIDDEN
    default_code = "insufficient_scope"
    default_detail = "This key may not make this call: it needs a Read & Write key."


class EventNotAllowed(ApiError):
    """The body holds event names the key may not send; `events` lists them."""

    status_code = status.HTTP_403_FORBIDDEN
    default_code = "event_not_allowed"

    def __init__(self, events: list[str]):
        events = [redact(name) for name in events]
        shown = ", ".join(events[:10]) + (", …" if len(events) > 10 else "")
        super().__init__(f"This key may not send these events: {shown}.", events=events)


class InvalidBody(ApiError):
    """The body is not what the endpoint accepts; `field` (and `index`) say where."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_body"
    default_detail = "The body is not valid."

    def __init__(self, detail: str, *, field: str | None = None, index: int | None = None):
        super().__init__(detail, field=field, index=index)


class BodyTooLarge(ApiError):
    """The body is larger than the limit."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "body_too_large"
    default_detail = "The body is larger than this endpoint accepts."


class UnsupportedMediaType(ApiError):
    """The body is not declared as JSON."""

    status_code = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
    default_code = "unsupported_media_type"
    default_detail = "Send the body as JSON, with “Content-Type: application/json”."


def _code_of(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    while isinstance(codes, dict | list) and codes:
        codes = next(iter(codes.values())) if isinstance(codes, dict) else codes[0]
    return codes if isinstance(codes, str) and codes else exc.default_code


def _first_message(detail: Any) -> tuple[str | None, str]:
    """The first field and message of a DRF validation detail, however nested."""
    field = None
    while isinstance(detail, dict | list) and detail:
        if isinstance(detail, dict):
            key, detail = next(iter(detail.items()))
            field = key if field is None else f"{field}.{key}"
        else:
            detail = detail[0]
    return field, str(detail)


def api_exception_handler(exc: Exception, context: dict) -> Any:
    """Render every API error as `{"code", "detail", ...}` with the right status and headers.

    A generic DRF `NotAuthenticated` (no authenticator accepted the call) becomes the view's own
    401 error when it names one (`unauthenticated_error`), so that every 401 reads the same.
    A database that cannot be reached is 503 `unavailable` with Retry-After, never a 500.
    """
    view = context.get("view")
    if isinstance(exc, DATABASE_UNREACHABLE):
        logger.warning("Database unreachable: %s", exc)
        exc = Unavailable()
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if type(exc) is exceptions.NotAuthenticated and hasattr(view, "unauthenticated_error"):
        replacement = view.unauthenticated_error("missing_key")
        replacement.auth_header = getattr(exc, "auth_header", None)
        exc = replacement
    response = exception_handler(exc, context)
    if response is None:
        return None
    code = _code_of(exc)
    if isinstance(exc.detail, dict | list):
        field, message = _first_message(exc.detail)
        body = {"code": code, "detail": message}
        if field is not None:
            body["field"] = field
    else:
        body = {"code": code, "detail": str(exc.detail)}
    body.update(getattr(exc, "extra", {}))
    body["detail"] = redact(body["detail"])
    response.data = body
    return response
