"""The API settings page: a compact list of a workspace's keys, adding a key, the audit trail.

Each key's settings live on its own page (`key_views`, `access_views`). A change that succeeds
redirects (post/redirect/get) with a message that never holds a secret; one the services refuse
re-renders the page with 400, the error next to its field and the admin's input kept. A new
secret exists only in the answer to the POST that made it: never cached, never put in the
session, a message or a cookie, never shown again.
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from apikeys import services
from apikeys.audit_selectors import audit_page_read
from apikeys.forms import KeyCreateForm
from apikeys.models import ApiKey, KeySecret
from apikeys.page_feedback import list_url
from apikeys.page_selectors import key_list_read
from apikeys.usage_selectors import usage_calls_last_24h
from core.actors import Actor
from core.forms import add_service_errors, error_code
from workspaces.models import Membership, Workspace
from workspaces.views import change_view, page_view, workspace_access

INVALID = 400


def secret_label(key: ApiKey, role: str) -> str:
    """What a secret is called in a sentence: "secret key", "API key" or "client secret"."""
    if role == KeySecret.Role.CLIENT_SECRET:
        return "client secret"
    return "API key" if key.kind == ApiKey.Kind.METRICS else "secret key"


def secret_page(
    request: HttpRequest, workspace: Workspace, key: ApiKey, secrets: dict[str, str], **extra
) -> HttpResponse:
    """The one answer that holds a new secret (the caller's view is `never_cache`)."""
    shown = [
        {"label": secret_label(key, role), "value": secret, "role": role}
        for role, secret in secrets.items()
    ]
    context = {"workspace": workspace, "key": key, "secrets": shown, **extra}
    return render(request, "apikeys/secret_once.html", context)


def _render(
    request: HttpRequest,
    workspace: Workspace,
    membership: Membership,
    *,
    form: forms.Form | None = None,
    status: int = 200,
) -> HttpResponse:
    keys = key_list_read(
        workspace=workspace,
        now=timezone.now(),
        activity=usage_calls_last_24h(workspace=workspace),
    )
    context = {
        "workspace": workspace,
        "membership": membership,
        "can_manage": membership.role == Membership.Role.ADMIN,
        "keys": keys,
        "create_form": form or KeyCreateForm(initial={"kind": ApiKey.Kind.WRITE_ONLY}),
    }
    return render(request, "apikeys/settings.html", context, status=status)


@page_view
def settings_page(request: HttpRequest, slug: str) -> HttpResponse:
    """The workspace's keys, one row each: every member may look, only admins get controls."""
    workspace, membership = workspace_access(request, slug)
    return _render(request, workspace, membership)


@page_view
def audit_page(request: HttpRequest, slug: str) -> HttpResponse:
    """The workspace's audit trail, newest first, filtered by action, a page at a time."""
    workspace, membership = workspace_access(request, slug)
    audit = audit_page_read(
        workspace=workspace,
        action=request.GET.get("action", ""),
        number=request.GET.get("page", 1),
    )
    context = {"workspace": workspace, "membership": membership, "audit": audit}
    return render(request, "apikeys/audit.html", context)


@change_view
def key_create(request: HttpRequest, slug: str) -> HttpResponse:
    """Add a key and show its secret(s) this once."""
    workspace, membership = workspace_access(request, slug, admin=True)
    form = KeyCreateForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            issued = services.api_key_create(
                workspace=workspace,
                kind=data["kind"],
                name=data["name"],
                by=Actor.for_request(request),
                seen_latest_key_id=data["after"],
            )
        except ValidationError as error:
            if error_code(error) == services.SENT_TWICE:
                messages.info(
                    request,
                    "A key was added since this page was loaded (was the form sent twice?), "
                    "so nothing was created. Check the list below and add again if needed.",
                )
                return redirect(list_url(workspace))
            add_service_errors(form, error)
        else:
            return secret_page(request, workspace, issued.key, issued.secrets, created=True)
    return _render(request, workspace, membership, form=form, status=INVALID)
