"""`manage.py usage_prune`: write this process's usage counts, then delete rows past retention."""

from django.conf import settings
from django.core.management.base import BaseCommand

from apikeys.usage import usage_flush
from apikeys.usage.flush import usage_prune


class Command(BaseCommand):
    help = "Delete key usage older than USAGE_RETENTION_DAYS (the flush also does so hourly)."

    def handle(self, *args, **options) -> None:
        usage_flush()
        deleted = usage_prune()
        self.stdout.write(
            f"Deleted {deleted} usage rows older than {settings.USAGE_RETENTION_DAYS} days."
        )
