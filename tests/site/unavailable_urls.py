"""Views that meet a real unreachable database (a PostgreSQL port where nothing listens).

Used by test_unavailable.py: a plain Django view on an API path and on a page, a DRF view, and
views failing with something else, to see every kind of answer the site gives.
"""

from django.db.utils import ConnectionHandler
from django.http import HttpResponse
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from tests.site.stack import free_port

handler500 = "userflux_site.unavailable.server_error"


def _unreachable_query() -> None:
    """Connect to a port nothing listens on: psycopg's real 'connection refused'."""
    handler = ConnectionHandler(
        {
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": "nothing",
                "USER": "postgres",
                "HOST": "127.0.0.1",
                "PORT": str(free_port()),
                "OPTIONS": {"connect_timeout": 2},
            }
        }
    )
    try:
        with handler["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        handler.close_all()


def plain_view(request):
    _unreachable_query()
    return HttpResponse("unreachable")


def broken_view(request):
    raise RuntimeError("a bug")


class DrfView(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        _unreachable_query()
        return HttpResponse("unreachable")


urlpatterns = [
    path("event/plain", plain_view),
    path("event/drf", DrfView.as_view()),
    path("event/broken", broken_view),
    path("w/acme/plain/", plain_view),
]
