"""`manage.py add_member <workspace> <username> --role admin|member`: give someone a role."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from apikeys.management.users import user_get_or_create
from core.actors import SYSTEM
from workspaces.models import Membership, Workspace
from workspaces.services import membership_add, membership_set_role


class Command(BaseCommand):
    help = (
        "Make a user a member or an admin of a workspace (a new user gets a password, printed "
        "once); a member's role is changed. Audited in the workspace's trail."
    )

    def add_arguments(self, parser):
        parser.add_argument("workspace", help="the workspace's slug")
        parser.add_argument("username")
        parser.add_argument("--role", choices=Membership.Role.values, default="member")

    def handle(self, *args, workspace, username, role, **options):
        found = Workspace.objects.filter(slug=workspace).first()
        if found is None:
            raise CommandError(f"No workspace has the slug “{workspace}”; nothing changed.")
        try:
            with transaction.atomic():
                user, password = user_get_or_create(username)
                membership = Membership.objects.filter(workspace=found, user=user).first()
                if membership is None:
                    membership_add(workspace=found, user=user, role=role, by=SYSTEM)
                    said = f"{username} is now {_role(role)} of “{workspace}”."
                elif membership.role == role:
                    raise CommandError(
                        f"{username} is already {_role(role)} of “{workspace}”; nothing changed."
                    )
                else:
                    membership_set_role(membership=membership, role=role, by=SYSTEM)
                    before = _role(membership.role)
                    said = f"{username} was {before}, now {_role(role)} of “{workspace}”."
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        self.stdout.write(self.style.SUCCESS(said))
        if password is not None:
            self.stdout.write(f"New user {username}, password (shown once): {password}")


def _role(role: str) -> str:
    return "an admin" if role == Membership.Role.ADMIN else "a member"
