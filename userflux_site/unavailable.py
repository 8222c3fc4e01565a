"""No HTML error page ever answers an API path, and a database outage is a 503 to retry.

The DRF views' handler (`api_exception_handler`) answers a database error 503 `unavailable`.
This middleware does the same for every other view, and `server_error` (the site's handler500)
for whatever fails outside a view: JSON on API paths, HTML on the pages people read.
"""

import logging
import sys

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from core.exceptions import DATABASE_UNREACHABLE, Unavailable
from userflux_site.connections import connections_drop_closed

logger = logging.getLogger(__name__)

# Paths of pages for people; every other path (the APIs, unknown paths) answers JSON.
PAGE_PREFIXES = ("/w/", "/admin/", "/login/", "/logout/", "/api/docs")
SERVER_ERROR_DETAIL = "The server failed to answer this call; the fault is ours, not the call's."


def is_page(path: str) -> bool:
    """Whether `path` is a page for people rather than an API path."""
    return path == "/" or path.startswith(PAGE_PREFIXES)


def unavailable_response(request: HttpRequest) -> HttpResponse:
    """503 with Retry-After: JSON `{"code": "unavailable", ...}`, or a short page for people."""
    wait = str(settings.UNAVAILABLE_RETRY_AFTER_SECONDS)
    if is_page(request.path):
        response = HttpResponse(
            "<!doctype html><title>Unavailable</title>"
            "<p>The service cannot reach its database just now. Reload in a few seconds.</p>",
            status=503,
        )
    else:
        body = {"code": Unavailable.default_code, "detail": str(Unavailable.default_detail)}
        response = JsonResponse(body, status=503)
    response["Retry-After"] = wait
    return response


class DatabaseUnavailableMiddleware:
    """Replaces kept connections the database closed, and answers 503 when it cannot be reached."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        connections_drop_closed()
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception):
        if isinstance(exception, DATABASE_UNREACHABLE):
            logger.warning("Database unreachable: %s (%s)", exception, request.path)
            return unavailable_response(request)
        return None


def server_error(request: HttpRequest) -> HttpResponse:
    """The site's handler500: 503 for a database outage, JSON on API paths, HTML on pages."""
    error = sys.exc_info()[1]
    if isinstance(error, DATABASE_UNREACHABLE):
        return unavailable_response(request)
    if is_page(request.path):
        return defaults.server_error(request)
    return JsonResponse({"code": "server_error", "detail": SERVER_ERROR_DETAIL}, status=500)
