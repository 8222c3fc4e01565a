"""Picking a workspace, and who may see or change a workspace's pages."""

from collections.abc import Callable

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from workspaces.models import Membership, Workspace
from workspaces.selectors import membership_for, workspaces_for_user


def page_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A page that may show workspace data: signed-in users only, GET, never cached."""
    return login_required(require_GET(never_cache(view)))


def change_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A POST that changes something: signed-in users only, and its answer is never cached."""
    return login_required(require_POST(never_cache(view)))


def workspace_access(
    request: HttpRequest, slug: str, *, admin: bool = False
) -> tuple[Workspace, Membership]:
    """The workspace a signed-in user asked for, and their membership in it.

    Anyone who is not a member gets 404, so that a slug reveals nothing; a member who is not
    an admin gets 403 when `admin` is asked for.
    """
    workspace = Workspace.objects.filter(slug=slug).first()
    membership = membership_for(user=request.user, workspace=workspace) if workspace else None
    if membership is None:
        raise Http404("No such workspace.")
    if admin and membership.role != Membership.Role.ADMIN:
        raise PermissionDenied("Only the workspace's admins can change its settings.")
    return workspace, membership


@login_required
@require_GET
def workspace_picker(request: HttpRequest) -> HttpResponse:
    """The user's workspaces; with exactly one, its settings page at once."""
    workspaces = list(workspaces_for_user(user=request.user))
    if len(workspaces) == 1:
        return redirect("apikeys:settings", slug=workspaces[0].slug)
    return render(request, "workspaces/picker.html", {"workspaces": workspaces})
