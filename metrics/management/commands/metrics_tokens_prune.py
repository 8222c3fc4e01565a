"""`manage.py metrics_tokens_prune`: delete Metrics access tokens that expired over an hour ago."""

from django.core.management.base import BaseCommand

from metrics.tokens import EXPIRED_TOKENS_KEPT, access_tokens_prune


class Command(BaseCommand):
    help = (
        "Delete Metrics access tokens that expired more than "
        f"{int(EXPIRED_TOKENS_KEPT.total_seconds() // 60)} minutes ago, for every key. "
        "Each token exchange already prunes its own key's; run this (from cron, say) for keys "
        "that stopped exchanging."
    )

    def handle(self, *args, **options):
        deleted = access_tokens_prune()
        self.stdout.write(f"Deleted {deleted} expired access token(s).")
