"""A key's page as every view renders it: the key, its forms (a refused one in place), evidence.

The views of `key_views` and `access_views` share `render_key_page`, `page_key` and
`key_change`, so that every change lands (or fails) the same way.
"""

from collections.abc import Callable

from django import forms
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from apikeys.audit_selectors import audit_page_read
from apikeys.catalogue import event_catalogue
from apikeys.key_forms import key_forms
from apikeys.key_page_selectors import event_chips, key_page_key, key_page_read, usage_view_read
from apikeys.models import CACHE_TTL_MAX_MINUTES, CACHE_TTL_MIN_MINUTES, ApiKey
from apikeys.page_feedback import feedback, feedback_by_section, to_key
from apikeys.page_selectors import KeyPanel
from apikeys.roll_text import grace_options
from apikeys.usage_selectors import usage_addresses, usage_event_names
from core.actors import Actor
from core.clientip import client_address
from core.forms import add_service_errors
from workspaces.models import Membership, Workspace
from workspaces.views import workspace_access

INVALID = 400
SEEN_DAYS = 30
SEEN_ADDRESSES = 50
CATALOGUE_LIMIT = 500


# A bound form that the services refused: (form name in `key_forms`, form).
Bound = tuple[str, forms.Form]


def render_key_page(
    request: HttpRequest,
    workspace: Workspace,
    membership: Membership,
    key: ApiKey,
    *,
    bound: Bound | None = None,
    status: int = 200,
    **extra,
) -> HttpResponse:
    """The key's page, with a refused form (and its errors) in place of the blank one."""
    page = key_page_read(key=key, now=timezone.now())
    panel = page.panel
    can_manage = membership.role == Membership.Role.ADMIN
    if can_manage and not panel.is_revoked:
        panel.forms = key_forms(key=key, current=panel.current)
    page_errors: list[str] = []
    if bound is not None:
        name, form = bound
        if name in panel.forms:
            panel.forms[name] = form
        else:  # the form is not on the page (a revoked key, a secret it lacks): say it on top
            page_errors = [error for errors in form.errors.values() for error in errors]
    sections, others = feedback_by_section(request)
    context = {
        "workspace": workspace,
        "membership": membership,
        "can_manage": can_manage,
        "page": page,
        "panel": panel,
        "key": key,
        "page_errors": page_errors,
        "feedback": sections,
        "messages": others,
        "audit": audit_page_read(
            workspace=workspace,
            key=key,
            action=request.GET.get("audit_action", ""),
            number=request.GET.get("audit_page", 1),
        ),
        "roll_options": {
            role: grace_options(key=key, role=role, retiring=panel.retiring)
            for role in panel.current
        },
        "usage": usage_view_read(key=key, span=request.GET.get("range", "24h")),
        "ttl_min": CACHE_TTL_MIN_MINUTES,
        "ttl_max": CACHE_TTL_MAX_MINUTES,
        **access_context(request, key=key, panel=panel),
        **extra,
    }
    return render(request, "apikeys/key.html", context, status=status)


def page_key(request: HttpRequest, slug: str, key_id: int, *, admin: bool) -> tuple:
    """The workspace, the membership and the key (of this workspace, else 404)."""
    workspace, membership = workspace_access(request, slug, admin=admin)
    key = key_page_key(workspace=workspace, key_id=key_id)
    if key is None:
        raise Http404("No such key.")
    return workspace, membership, key


def key_change(
    request: HttpRequest,
    slug: str,
    key_id: int,
    *,
    form_class: type[forms.Form],
    form_name: str,
    section: str,
    change: Callable[[ApiKey, dict, Actor], str],
) -> HttpResponse:
    """Validate the form, let `change` call the service, then land on the section or say why not."""
    workspace, membership, key = page_key(request, slug, key_id, admin=True)
    form = form_class(request.POST)
    if form.is_valid():
        try:
            message = change(key, form.cleaned_data, Actor.for_request(request))
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            feedback(request, section, message)
            return to_key(key, section)
    return render_key_page(
        request, workspace, membership, key, bound=(form_name, form), status=INVALID
    )


def access_context(request: HttpRequest, *, key: ApiKey, panel: KeyPanel) -> dict:
    """What the Access control and Events sections show besides the key's forms."""
    address = client_address(request)
    events = panel.forms.get("events")
    chosen = events["allowed_events"].value() if events else key.allowed_events
    seen_names = {
        row.name: row.count + row.refused for row in usage_event_names(key=key, days=SEEN_DAYS)
    }
    return {
        "access_choices": ApiKey.AccessMode.choices,
        "events_choices": ApiKey.EventsMode.choices,
        "your_address": str(address) if address is not None else None,
        "your_address_listed": address is not None and panel.address_listed(str(address)),
        "seen_addresses": usage_addresses(key=key, days=SEEN_DAYS, limit=SEEN_ADDRESSES),
        "chips": event_chips(
            seen=seen_names,
            catalogue=event_catalogue(key.workspace, CATALOGUE_LIMIT),
            allowed=key.allowed_events,
            chosen=chosen,
        ),
    }
