"""Helpers for the settings pages' tests: URLs and what an action could have changed."""

from django.urls import reverse

from apikeys.models import ApiKey, IpRule, KeySecret
from workspaces.models import AuditEvent

PAGE = "/w/acme/settings/api/"


def action_url(name: str, key: ApiKey | None = None, **kwargs) -> str:
    """The URL of one of the page's actions, for a key of `acme` (or the page's own)."""
    if key is not None:
        kwargs["key_id"] = key.pk
    return reverse(f"apikeys:{name}", kwargs={"slug": "acme", **kwargs})


def stored_state() -> tuple:
    """Everything an action could change, to prove a refused one changed nothing."""
    return (
        AuditEvent.objects.count(),
        list(KeySecret.objects.order_by("pk").values_list("pk", "hash", "retires_at")),
        list(IpRule.objects.order_by("pk").values_list("pk", "network", "description")),
        list(
            ApiKey.objects.order_by("pk").values_list(
                "pk",
                "name",
                "revoked_at",
                "access_mode",
                "events_mode",
                "allowed_events",
                "cache_ttl_minutes",
            )
        ),
    )


def last_audit() -> AuditEvent:
    return AuditEvent.objects.order_by("-created_at", "-id").first()


def key_page(key: ApiKey, section: str = "") -> str:
    """A key's own page; with `section`, where a change of that section lands."""
    url = reverse("apikeys:key", kwargs={"slug": "acme", "key_id": key.pk})
    return f"{url}#{section}-feedback" if section else url
