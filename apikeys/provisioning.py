"""Provisioning a workspace: the workspace and its starting keys, made in one transaction.

A use case above `workspaces` (which knows nothing of keys) and the key services: the admin's
"add workspace" form and the `create_workspace` / `demo_setup` commands call it.
"""

from dataclasses import dataclass, field

from django.db import transaction

from apikeys.models import ApiKey, KeySecret
from apikeys.services import IssuedKey, api_key_create
from core.actors import Actor
from workspaces.models import Workspace
from workspaces.services import workspace_create

STARTING_KEYS = (
    ("writeOnly", ApiKey.Kind.WRITE_ONLY, "Write-Only key"),
    ("readWrite", ApiKey.Kind.READ_WRITE, "Read & Write key"),
    ("metrics", ApiKey.Kind.METRICS, "Metrics API"),
)


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


def workspace_provision(*, name: str, slug: str, by: Actor) -> WorkspaceCreated:
    """Create a workspace with one Write-Only key, one Read & Write key and a Metrics pair."""
    with transaction.atomic():
        created = WorkspaceCreated(workspace=workspace_create(name=name, slug=slug, by=by))
        for label, kind, key_name in STARTING_KEYS:
            created.keys[label] = api_key_create(
                workspace=created.workspace, kind=kind, name=key_name, by=by
            )
    return created
