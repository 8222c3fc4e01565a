"""The site's handler404: JSON on every API path, known or not; Django's page for people.

The APIs live at the root, so any path that is not a page (`unavailable.is_page`) is an API
path: a client that mistypes one (`/event/ingest/batch/`, `/product`) gets a JSON error it can
read, never an HTML page (CONTRACT.md §4). A known path called with the wrong method is DRF's
JSON 405.
"""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from userflux_site.unavailable import is_page

NOT_FOUND_DETAIL = "No API endpoint has this path; the paths are listed at /api/docs."


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404: JSON `{"code": "not_found", "detail"}` on API paths, the HTML page on pages."""
    if is_page(request.path):
        return defaults.page_not_found(request, exception)
    return JsonResponse({"code": "not_found", "detail": NOT_FOUND_DETAIL}, status=404)
