"""Creating workspaces and managing who belongs to them; each change audited."""

from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from apikeys.models import ApiKey, KeySecret
from apikeys.services import IssuedKey, api_key_create
from workspaces.audit import Actor, audit_record
from workspaces.models import Membership, Workspace

User = get_user_model()


@dataclass
class WorkspaceCreated:
    """A new workspace and its starting keys, with their secrets shown this once."""

    workspace: Workspace
    keys: dict[str, IssuedKey] = field(default_factory=dict)

    def secrets(self) -> dict[str, str]:
        """The secrets by the names the provisioning JSON uses."""
        primary, client = KeySecret.Role.PRIMARY, KeySecret.Role.CLIENT_SECRET
        return {
            "writeOnly": self.keys["writeOnly"].secrets[primary],
            "readWrite": self.keys["readWrite"].secrets[primary],
            "metricsApiKey": self.keys["metrics"].secrets[primary],
            "metricsClientSecret": self.keys["metrics"].secrets[client],
        }


def workspace_create(*, name: str, slug: str, by: Actor) -> WorkspaceCreated:
    """Create a workspace with one Write-Only key, one Read & Write key and a Metrics pair."""
    workspace = Workspace(name=(name or "").strip(), slug=(slug or "").strip())
    workspace.full_clean()
    with transaction.atomic():
        workspace.save()
        audit_record(
            workspace=workspace,
            by=by,
            action="workspace.create",
            target=workspace,
            changes={"name": workspace.name, "slug": workspace.slug},
        )
        created = WorkspaceCreated(workspace=workspace)
        for label, kind, key_name in (
            ("writeOnly", ApiKey.Kind.WRITE_ONLY, "Write-Only key"),
            ("readWrite", ApiKey.Kind.READ_WRITE, "Read & Write key"),
            ("metrics", ApiKey.Kind.METRICS, "Metrics API"),
        ):
            created.keys[label] = api_key_create(
                workspace=workspace, kind=kind, name=key_name, by=by
            )
    return created


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
            action="membership.add",
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
            action="membership.set_role",
            target=membership,
            changes={"before": before, "after": role},
        )
    return membership
