"""Reads about workspaces and the people in them."""

from django.db.models import QuerySet

from workspaces.models import Membership, Workspace


def workspaces_for_user(*, user) -> QuerySet[Workspace]:
    """The workspaces a user belongs to, in any role."""
    return Workspace.objects.filter(memberships__user=user).order_by("name", "slug")


def membership_for(*, user, workspace: Workspace) -> Membership | None:
    """A user's membership in a workspace, or None."""
    if not getattr(user, "is_authenticated", False):
        return None
    return Membership.objects.filter(user=user, workspace=workspace).first()
