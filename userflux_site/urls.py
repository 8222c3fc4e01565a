"""URL configuration: the APIs at the root (as UserFlux's are), pages under /w/, admin, health."""

from django.contrib import admin
from django.urls import include, path

from userflux_site import health

# Whatever fails outside a view: JSON on API paths, and 503 when the database is unreachable.
handler500 = "userflux_site.unavailable.server_error"
# Unknown paths: JSON on API paths (every path but the pages'), HTML on pages.
handler404 = "userflux_site.not_found.not_found"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", health.live, name="health-live"),
    path("readyz", health.ready, name="health-ready"),
    path("", include("workspaces.urls")),
    path("", include("apikeys.urls")),
    path("", include("ingest.urls")),
    path("", include("metrics.urls")),
    path("", include("metrics.page_urls")),
]
