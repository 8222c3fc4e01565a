"""A key's own page, and the changes to the key itself: name, expiry, secrets, cache, revoke.

Address and event changes are in `access_views`. Every change goes through `apikeys.services`
and lands the admin on the feedback box of the section that changed (`page_feedback`).
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from apikeys import restrict_services, services
from apikeys.forms import (
    CacheTtlForm,
    KeyExpiryForm,
    KeyRenameForm,
    RevokeForm,
    RollForm,
)
from apikeys.key_page import INVALID, key_change, page_key, render_key_page
from apikeys.lifecycle import GRACE_PERIODS
from apikeys.models import ApiKey, KeySecret
from apikeys.page_feedback import feedback, list_url, to_key
from apikeys.page_selectors import key_panel
from apikeys.roll_text import roll_warnings
from apikeys.views import secret_label, secret_page
from core.actors import Actor
from core.forms import add_service_errors, error_code
from workspaces.views import change_view, page_view


@page_view
def key_page(request: HttpRequest, slug: str, key_id: int) -> HttpResponse:
    """One key: its secrets, usage, access, events, refusals and audit trail."""
    workspace, membership, key = page_key(request, slug, key_id, admin=False)
    return render_key_page(request, workspace, membership, key)


@change_view
def key_rename(request: HttpRequest, slug: str, key_id: int) -> HttpResponse:
    """Give a key another name (no two live keys of a workspace share one)."""

    def change(key: ApiKey, data: dict, by: Actor) -> str:
        before = key.name
        key = services.api_key_rename(key=key, name=data["name"], by=by)
        return f"Renamed “{before}” to “{key.name}”."

    return key_change(
        request,
        slug,
        key_id,
        form_class=KeyRenameForm,
        form_name="rename",
        section="summary",
        change=change,
    )


@change_view
def key_expiry(request: HttpRequest, slug: str, key_id: int) -> HttpResponse:
    """Set the moment a key stops working, or clear it."""

    def change(key: ApiKey, data: dict, by: Actor) -> str:
        key = services.api_key_set_expiry(key=key, expires_at=data["expires_at"], by=by)
        if key.expires_at is None:
            return f"“{key.name}” no longer expires."
        return f"“{key.name}” stops working at {key.expires_at:%Y-%m-%d %H:%M} UTC."

    return key_change(
        request,
        slug,
        key_id,
        form_class=KeyExpiryForm,
        form_name="expiry",
        section="summary",
        change=change,
    )


@change_view
def key_roll(request: HttpRequest, slug: str, key_id: int) -> HttpResponse:
    """Give a key (or the Metrics client secret) a new secret and show it this once.

    Until the admin has confirmed (the page's dialog, or this view's own page without
    JavaScript), nothing is rolled: the confirmation restates the key, the grace and its cost.
    """
    workspace, membership, key = page_key(request, slug, key_id, admin=True)
    form = RollForm(request.POST)
    role = request.POST.get("role")
    form_name = f"roll_{role if role in KeySecret.Role.values else KeySecret.Role.PRIMARY}"
    if form.is_valid() and not form.confirmed:
        data = form.cleaned_data
        context = {
            "workspace": workspace,
            "key": key,
            "data": data,
            "label": secret_label(key, data["role"]),
            "warnings": roll_warnings(
                key=key,
                role=data["role"],
                grace=data["grace"],
                retiring=key_panel(key, now=timezone.now()).retiring,
            ),
        }
        return render(request, "apikeys/roll_confirm.html", context)
    if form.is_valid():
        data = form.cleaned_data
        try:
            secret = services.api_key_roll(
                key=key,
                grace=data["grace"],
                role=data["role"],
                by=Actor.for_request(request),
                seen_secret_id=data["current"],
            )
        except ValidationError as error:
            if error_code(error) == services.SENT_TWICE:
                feedback(
                    request,
                    "secrets",
                    f"The {secret_label(key, data['role'])} of “{key.name}” was "
                    "already rolled (was the form sent twice?). A new secret is shown only "
                    "once: roll again if you did not copy it.",
                    level=messages.INFO,
                )
                return to_key(key, "secrets")
            add_service_errors(form, error)
        else:
            return secret_page(
                request,
                workspace,
                key,
                {data["role"]: secret},
                grace=GRACE_PERIODS[data["grace"]][1],
                no_grace=data["grace"] == "none",
            )
    return render_key_page(
        request, workspace, membership, key, bound=(form_name, form), status=INVALID
    )


@change_view
def key_revoke(request: HttpRequest, slug: str, key_id: int) -> HttpResponse:
    """Revoke a key once the admin has confirmed; until then, ask."""
    workspace, membership, key = page_key(request, slug, key_id, admin=True)
    form = RevokeForm(request.POST)
    if not form.confirmed:
        return render(request, "apikeys/revoke_confirm.html", {"workspace": workspace, "key": key})
    try:
        services.api_key_revoke(key=key, by=Actor.for_request(request))
    except ValidationError as error:
        add_service_errors(form, error)
        return render_key_page(
            request, workspace, membership, key, bound=("revoke", form), status=INVALID
        )
    messages.success(request, f"“{key.name}” is revoked: calls with its secret are refused now.")
    return redirect(list_url(workspace))


@change_view
def secret_end_now(request: HttpRequest, slug: str, key_id: int, secret_id: int) -> HttpResponse:
    """End a previous secret's grace at once (the admin has moved every client off it)."""

    def change(key: ApiKey, data: dict, by: Actor) -> str:
        secret = get_object_or_404(KeySecret.objects.credentials(), pk=secret_id, key=key)
        secret = restrict_services.key_secret_end_now(secret=secret, by=by)
        return f"The previous secret {secret.mask} of “{key.name}” stopped working now."

    return key_change(
        request,
        slug,
        key_id,
        form_class=forms.Form,
        form_name="end_now",
        section="secrets",
        change=change,
    )


@change_view
def metrics_cache_ttl(request: HttpRequest, slug: str, key_id: int) -> HttpResponse:
    """Set how long Metrics results are served from the cache."""

    def change(key: ApiKey, data: dict, by: Actor) -> str:
        key = services.metrics_cache_ttl_set(key=key, minutes=data["cache_ttl_minutes"], by=by)
        return f"Metrics results are now cached for {key.cache_ttl_minutes} minutes."

    return key_change(
        request,
        slug,
        key_id,
        form_class=CacheTtlForm,
        form_name="ttl",
        section="cache",
        change=change,
    )
