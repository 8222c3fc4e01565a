"""Helpers for the Metrics page's tests: URLs and what an action could have changed."""

from django.urls import reverse

from metrics.models import SavedMetric
from workspaces.models import AuditEvent

PAGE = "/w/acme/metrics/"


def url(name: str, metric: SavedMetric | None = None, slug: str = "acme") -> str:
    """The URL of the page or one of its actions, for a metric of `acme` (or the page's own)."""
    kwargs = {"slug": slug}
    if metric is not None:
        kwargs["metric_id"] = metric.pk
    return reverse(f"metrics:{name}", kwargs=kwargs)


def stored_state() -> tuple:
    """Everything an action could change, to prove a refused one changed nothing."""
    return (
        AuditEvent.objects.count(),
        list(
            SavedMetric.objects.order_by("pk").values_list(
                "pk", "name", "description", "sql", "variables", "version", "updated_at"
            )
        ),
    )


def metric_actions() -> list[str]:
    """The metric audit actions written so far, oldest first."""
    return list(
        AuditEvent.objects.filter(target_type="savedmetric")
        .order_by("created_at", "id")
        .values_list("action", flat=True)
    )
