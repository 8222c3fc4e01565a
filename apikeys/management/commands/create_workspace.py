"""`manage.py create_workspace <slug> --admin <username>`: provision a workspace and its keys."""

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from apikeys.management.users import user_get_or_create
from apikeys.provisioning import workspace_provision
from core.actors import SYSTEM
from workspaces.models import Membership, Workspace
from workspaces.services import membership_add


class Command(BaseCommand):
    help = (
        "Create a workspace, its admin (or make an existing user its admin) and its keys. "
        "The keys' secrets are printed once and never again."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--admin", required=True, help="username of the workspace's admin")
        parser.add_argument("--name", help="display name (default: the slug)")
        parser.add_argument(
            "--json",
            action="store_true",
            dest="as_json",
            help="print one JSON object and nothing else",
        )

    def handle(self, *args, slug, admin, name=None, as_json=False, **options):
        if Workspace.objects.filter(slug=slug).exists():
            raise CommandError(
                f"A workspace with the slug “{slug}” already exists; nothing changed."
            )
        try:
            with transaction.atomic():
                user, password = user_get_or_create(admin)
                created = workspace_provision(name=name or slug, slug=slug, by=SYSTEM)
                membership_add(
                    workspace=created.workspace, user=user, role=Membership.Role.ADMIN, by=SYSTEM
                )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        result = {
            "workspace": created.workspace.slug,
            "admin": {"username": user.get_username()},
            "keys": created.secrets(),
        }
        if password is not None:
            result["admin"]["password"] = password
        if as_json:
            self.stdout.write(json.dumps(result))
            return
        self.stdout.write(self.style.SUCCESS(f"Workspace “{slug}” created."))
        if password is not None:
            self.stdout.write(f"Admin user: {user.get_username()}   password: {password}")
        else:
            self.stdout.write(f"Admin: {user.get_username()} (existing user, password unchanged)")
        self.stdout.write("Keys (shown once: copy them now, they cannot be shown again):")
        for label, secret in result["keys"].items():
            self.stdout.write(f"  {label:<20} {secret}")
