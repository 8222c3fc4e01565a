"""The Metrics API's paths (../shared/CONTRACT.md §3)."""

from django.conf import settings
from django.urls import path

from metrics import apis

urlpatterns = [
    path("metrics/auth/token", apis.TokenView.as_view(), name="metrics-token"),
    path("metrics/query", apis.QueryView.as_view(), name="metrics-query"),
    path(
        "metrics/query/<str:metric_id>", apis.SavedQueryView.as_view(), name="metrics-saved-query"
    ),
]

if getattr(settings, "BENCH_BASELINE_ENDPOINTS", False):
    from metrics import baseline

    urlpatterns += [path("_bench/baseline/metrics", baseline.BaselineQueryView.as_view())]
