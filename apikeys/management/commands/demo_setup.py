"""`manage.py demo_setup`: make the demo workspace once; on later runs, say how to log in."""

from django.core.management import call_command
from django.core.management.base import BaseCommand

from workspaces.models import Workspace

DEMO_SLUG = "demo"
DEMO_ADMIN = "admin"


class Command(BaseCommand):
    help = "Create the demo workspace and its admin on the first run; keep them on later runs."

    def handle(self, *args, **options):
        if Workspace.objects.filter(slug=DEMO_SLUG).exists():
            self.stdout.write(
                f"Demo workspace “{DEMO_SLUG}” exists; log in as “{DEMO_ADMIN}” with the password "
                "printed on the first run (or set one: python manage.py changepassword admin)."
            )
            return
        call_command(
            "create_workspace",
            DEMO_SLUG,
            admin=DEMO_ADMIN,
            name="Demo workspace",
            stdout=self.stdout,
        )
