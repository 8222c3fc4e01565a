"""URLs of the Integration API, at the root and without trailing slashes, as UserFlux's are."""

from django.conf import settings
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from ingest import apis

urlpatterns = [
    path("event/ingest", apis.EventIngestApi.as_view(), name="event-ingest"),
    path("event/ingest/batch", apis.EventBatchApi.as_view(), name="event-ingest-batch"),
    path("profile", apis.ProfileIdentifyApi.as_view(), name="profile-identify"),
    path("profile/<path:user_id>", apis.ProfileDetailApi.as_view(), name="profile-detail"),
    path("workflow/trigger", apis.WorkflowTriggerApi.as_view(), name="workflow-trigger"),
    # The OpenAPI schema of every API, and a docs page whose assets are served from this site.
    path("api/schema", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

if getattr(settings, "BENCH_BASELINE_ENDPOINTS", False):
    from ingest import baseline

    urlpatterns += [
        path("_bench/baseline/event", baseline.BaselineEventApi.as_view()),
        path("_bench/baseline/batch", baseline.BaselineBatchApi.as_view()),
    ]
