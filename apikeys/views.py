"""The API settings page, and every change an admin makes from it, each through the services.

A change that succeeds redirects back to the page (post/redirect/get) with a message that never
holds a secret; one the services refuse re-renders the page with 400, the error next to its
field and the admin's input kept. A new secret exists only in the answer to the POST that made
it: never cached, never put in the session, a message or a cookie, never shown again.
"""

from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone

from apikeys import services
from apikeys.forms import (
    AccessModeForm,
    AllowedEventsForm,
    CacheTtlForm,
    IpRuleForm,
    KeyCreateForm,
    RevokeForm,
    RollForm,
    add_service_errors,
    key_forms,
)
from apikeys.lifecycle import GRACE_PERIODS
from apikeys.models import ApiKey, IpRule, KeySecret
from apikeys.page_selectors import (
    current_secret_id,
    event_chips,
    latest_key_id,
    settings_page_read,
)
from core.actors import Actor
from workspaces.models import Membership, Workspace
from workspaces.views import change_view, page_view, workspace_access

INVALID = 400
NAMES_SHOWN_IN_MESSAGE = 10

# (key id or None for the page's own forms, form name, bound form with errors)
Bound = tuple[int | None, str, forms.Form]


# Where the page is scrolled back to after a change made with each form.
SECTION_OF_FORM = {"access": "access", "rule": "access", "remove": "access", "events": "events"}


def _page_url(workspace: Workspace, anchor: str = "") -> str:
    url = reverse("apikeys:settings", kwargs={"slug": workspace.slug})
    return f"{url}#{anchor}" if anchor else url


def _key_anchor(key: ApiKey, form_name: str = "") -> str:
    section = SECTION_OF_FORM.get(form_name, form_name)
    return f"key-{key.pk}-{section}" if section else f"key-{key.pk}"


def _secret_label(key: ApiKey, role: str) -> str:
    """What a secret is called in a sentence: "secret key", "API key" or "client secret"."""
    if role == KeySecret.Role.CLIENT_SECRET:
        return "client secret"
    return "API key" if key.kind == ApiKey.Kind.METRICS else "secret key"


def _render(
    request: HttpRequest,
    workspace: Workspace,
    membership: Membership,
    *,
    bound: Bound | None = None,
    status: int = 200,
) -> HttpResponse:
    page = settings_page_read(workspace=workspace, now=timezone.now())
    can_manage = membership.role == Membership.Role.ADMIN
    create_form = KeyCreateForm(initial={"kind": ApiKey.Kind.WRITE_ONLY})
    panels = {panel.key.pk: panel for panel in page.panels()}
    for panel in panels.values():
        if can_manage and not panel.is_revoked:
            panel.forms = key_forms(key=panel.key, current=panel.current)
    page_errors: list[str] = []
    if bound is not None:
        key_id, form_name, form = bound
        panel = panels.get(key_id)
        if key_id is None:
            create_form = form
        elif panel is not None and form_name in panel.forms:
            panel.forms[form_name] = form
        else:  # the form is not on the page (a revoked key, a secret it lacks): say it on top
            page_errors = [error for errors in form.errors.values() for error in errors]
    for panel in panels.values():
        events = panel.forms.get("events")
        panel.chips = event_chips(
            catalogue=page.catalogue,
            allowed=panel.key.allowed_events,
            chosen=events["allowed_events"].value() if events else panel.key.allowed_events,
        )
    context = {
        "workspace": workspace,
        "membership": membership,
        "can_manage": can_manage,
        "page": page,
        "create_form": create_form,
        "page_errors": page_errors,
        "grace_choices": [(name, label) for name, (_, label) in GRACE_PERIODS.items()],
        "access_choices": ApiKey.AccessMode.choices,
        "events_choices": ApiKey.EventsMode.choices,
    }
    return render(request, "apikeys/settings.html", context, status=status)


def _admin_key(
    request: HttpRequest, slug: str, key_id: int
) -> tuple[Workspace, Membership, ApiKey]:
    """The key of a workspace the requester administers; 404 for another workspace's key."""
    workspace, membership = workspace_access(request, slug, admin=True)
    key = get_object_or_404(
        ApiKey.objects.select_related("workspace"), pk=key_id, workspace=workspace
    )
    return workspace, membership, key


def _key_change(
    request: HttpRequest,
    slug: str,
    key_id: int,
    *,
    form_class: type[forms.Form],
    form_name: str,
    change: Callable[[ApiKey, dict, Actor], str],
) -> HttpResponse:
    """Validate the form, let `change` call the service, then redirect or show what was wrong."""
    workspace, membership, key = _admin_key(request, slug, key_id)
    form = form_class(request.POST)
    if form.is_valid():
        try:
            message = change(key, form.cleaned_data, Actor.for_request(request))
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, message)
            return redirect(_page_url(workspace, _key_anchor(key, form_name)))
    return _render(request, workspace, membership, bound=(key.pk, form_name, form), status=INVALID)


def _secret_page(
    request: HttpRequest, workspace: Workspace, key: ApiKey, secrets: dict[str, str], **extra
) -> HttpResponse:
    """The one answer that holds a new secret (the caller's view is `never_cache`)."""
    shown = [
        {"label": _secret_label(key, role), "value": secret, "role": role}
        for role, secret in secrets.items()
    ]
    context = {"workspace": workspace, "key": key, "secrets": shown, **extra}
    return render(request, "apikeys/secret_once.html", context)


@page_view
def settings_page(request: HttpRequest, slug: str) -> HttpResponse:
    """The workspace's API settings: every member may look, only admins get controls."""
    workspace, membership = workspace_access(request, slug)
    return _render(request, workspace, membership)


@change_view
def key_create(request: HttpRequest, slug: str) -> HttpResponse:
    """Add a key and show its secret(s) this once."""
    workspace, membership = workspace_access(request, slug, admin=True)
    form = KeyCreateForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                # Serialise creates per workspace, so that a form sent twice adds one key.
                Workspace.objects.select_for_update().filter(pk=workspace.pk).first()
                if data["after"] is not None and data["after"] != latest_key_id(
                    workspace=workspace
                ):
                    messages.info(
                        request,
                        "A key was added since this page was loaded (was the form sent twice?), "
                        "so nothing was created. Check the list below and add again if needed.",
                    )
                    return redirect(_page_url(workspace, "integration"))
                issued = services.api_key_create(
                    workspace=workspace,
                    kind=data["kind"],
                    name=data["name"],
                    by=Actor.for_request(request),
                )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            return _secret_page(request, workspace, issued.key, issued.secrets, created=True)
    return _render(request, workspace, membership, bound=(None, "create", form), status=INVALID)


@change_view
def key_roll(request: HttpRequest, slug: str, key_id: int) -> HttpResponse:
    """Give a key (or the Metrics client secret) a new secret and show it this once."""
    workspace, membership, key = _admin_key(request, slug, key_id)
    form = RollForm(request.POST)
    role = request.POST.get("role")
    form_name = f"roll_{role if role in KeySecret.Role.values else KeySecret.Role.PRIMARY}"
    if form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                # Lock the key, then compare: a form sent twice finds another secret current.
                ApiKey.objects.select_for_update().filter(pk=key.pk).first()
                if data["current"] is not None and data["current"] != current_secret_id(
                    key=key, role=data["role"]
                ):
                    messages.info(
                        request,
                        f"The {_secret_label(key, data['role'])} of “{key.name}” was "
                        "already rolled (was the form sent twice?). A new secret is shown only "
                        "once: roll again if you did not copy it.",
                    )
                    return redirect(_page_url(workspace, _key_anchor(key)))
                secret = services.api_key_roll(
                    key=key, grace=data["grace"], role=data["role"], by=Actor.for_request(request)
                )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            return _secret_page(
                request,
                workspace,
                key,
                {data["role"]: secret},
                grace=GRACE_PERIODS[data["grace"]][1],
                no_grace=data["grace"] == "none",
            )
    return _render(request, workspace, membership, bound=(key.pk, form_name, form), status=INVALID)


@change_view
def key_revoke(request: HttpRequest, slug: str, key_id: int) -> HttpResponse:
    """Revoke a key once the admin has confirmed; until then, ask."""
    workspace, membership, key = _admin_key(request, slug, key_id)
    form = RevokeForm(request.POST)
    if not form.confirmed:
        return render(request, "apikeys/revoke_confirm.html", {"workspace": workspace, "key": key})
    try:
        services.api_key_revoke(key=key, by=Actor.for_request(request))
    except ValidationError as error:
        add_service_errors(form, error)
        return _render(
            request, workspace, membership, bound=(key.pk, "revoke", form), status=INVALID
        )
    messages.success(request, f"“{key.name}” is revoked: calls with its secret are refused now.")
    return redirect(_page_url(workspace, "integration"))


@change_view
def key_access_mode(request: HttpRequest, slug: str, key_id: int) -> HttpResponse:
    """Choose Anywhere or Specific locations for a key."""

    def change(key: ApiKey, data: dict, by: Actor) -> str:
        key = services.api_key_set_access_mode(key=key, mode=data["access_mode"], by=by)
        if key.access_mode == ApiKey.AccessMode.ANYWHERE:
            return f"“{key.name}” may now be used from anywhere."
        return f"“{key.name}” may now be used only from the addresses on its list."

    return _key_change(
        request, slug, key_id, form_class=AccessModeForm, form_name="access", change=change
    )


@change_view
def ip_rule_add(request: HttpRequest, slug: str, key_id: int) -> HttpResponse:
    """Add an address or network to a key's list (also "Allow this address" on a refusal)."""

    def change(key: ApiKey, data: dict, by: Actor) -> str:
        rule = services.ip_rule_add(
            key=key, network=data["network"], description=data["description"], by=by
        )
        if key.access_mode == ApiKey.AccessMode.ANYWHERE:
            return (
                f"Added {rule.network} to “{key.name}”. The list applies once you choose "
                "“Specific locations”."
            )
        return f"Added {rule.network} to “{key.name}”."

    return _key_change(
        request, slug, key_id, form_class=IpRuleForm, form_name="rule", change=change
    )


@change_view
def ip_rule_remove(request: HttpRequest, slug: str, key_id: int, rule_id: int) -> HttpResponse:
    """Take an address off a key's list."""

    def change(key: ApiKey, data: dict, by: Actor) -> str:
        rule = get_object_or_404(IpRule, pk=rule_id, key=key)
        services.ip_rule_remove(rule=rule, by=by)
        return f"Removed {rule.network} from “{key.name}”."

    return _key_change(
        request, slug, key_id, form_class=forms.Form, form_name="remove", change=change
    )


@change_view
def key_allowed_events(request: HttpRequest, slug: str, key_id: int) -> HttpResponse:
    """Allow an Integration key every profile event, or only the chosen names."""

    def change(key: ApiKey, data: dict, by: Actor) -> str:
        key = services.api_key_set_allowed_events(
            key=key, mode=data["events_mode"], names=data["names"], by=by
        )
        if key.events_mode == ApiKey.EventsMode.ALL:
            return f"“{key.name}” now accepts every profile event."
        names = key.allowed_events
        shown = ", ".join(names[:NAMES_SHOWN_IN_MESSAGE])
        more = (
            f" and {len(names) - NAMES_SHOWN_IN_MESSAGE} more"
            if len(names) > NAMES_SHOWN_IN_MESSAGE
            else ""
        )
        return f"“{key.name}” now accepts only these events: {shown}{more}."

    return _key_change(
        request, slug, key_id, form_class=AllowedEventsForm, form_name="events", change=change
    )


@change_view
def metrics_cache_ttl(request: HttpRequest, slug: str, key_id: int) -> HttpResponse:
    """Set how long Metrics results are served from the cache."""

    def change(key: ApiKey, data: dict, by: Actor) -> str:
        key = services.metrics_cache_ttl_set(key=key, minutes=data["cache_ttl_minutes"], by=by)
        return f"Metrics results are now cached for {key.cache_ttl_minutes} minutes."

    return _key_change(
        request, slug, key_id, form_class=CacheTtlForm, form_name="ttl", change=change
    )
