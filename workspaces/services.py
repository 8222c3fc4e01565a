"""Creating workspaces and managing who belongs to them; each change audited."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from core.actors import Actor
from workspaces.audit import AuditAction, audit_record
from workspaces.models import Membership, Workspace

User = get_user_model()


def workspace_create(*, name: str, slug: str, by: Actor) -> Workspace:
    """Create a workspace (its keys are `apikeys.provisioning`'s to make); audited."""
    workspace = Workspace(name=(name or "").strip(), slug=(slug or "").strip())
    workspace.full_clean()
    with transaction.atomic():
        workspace.save()
        audit_record(
            workspace=workspace,
            by=by,
            action=AuditAction.WORKSPACE_CREATE,
            target=workspace,
            changes={"name": workspace.name, "slug": workspace.slug},
        )
    return workspace


def membership_add(*, workspace: Workspace, user: User, role: str, by: Actor) -> Membership:
    """Give a user a role in a workspace; a user is a member of a workspace at most once."""
    membership = Membership(workspace=workspace, user=user, role=role)
    membership.full_clean(validate_constraints=False)
    with transaction.atomic():
        if Membership.objects.select_for_update().filter(workspace=workspace, user=user).exists():
            raise ValidationError(
                {"user": f"{user.get_username()} is already a member of {workspace.slug}."},
                code="duplicate",
            )
        membership.save()
        audit_record(
            workspace=workspace,
            by=by,
            action=AuditAction.MEMBERSHIP_ADD,
            target=membership,
            changes={"user": user.get_username(), "role": role},
        )
    return membership


def membership_set_role(*, membership: Membership, role: str, by: Actor) -> Membership:
    """Change a member's role between admin and member."""
    if role not in Membership.Role.values:
        raise ValidationError({"role": "Choose admin or member."}, code="invalid")
    with transaction.atomic():
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        before = membership.role
        membership.role = role
        membership.save(update_fields=["role"])
        audit_record(
            workspace=membership.workspace,
            by=by,
            action=AuditAction.MEMBERSHIP_SET_ROLE,
            target=membership,
            changes={"before": before, "after": role},
        )
    return membership
