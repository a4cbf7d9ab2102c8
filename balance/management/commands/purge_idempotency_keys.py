"""purge_idempotency_keys: delete Idempotency-Keys older than the retention window."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from balance.idempotency import RETENTION, idempotency_keys_purge


class Command(BaseCommand):
    """Delete Idempotency-Keys older than --older-than hours (default 24); schedule it daily."""

    help = "Delete Idempotency-Keys older than the retention window (default 24 hours)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=float,
            default=RETENTION.total_seconds() / 3600,
            metavar="HOURS",
            help="Delete keys created more than HOURS ago (default %(default)s, minimum 24).",
        )

    def handle(self, *args, older_than: float, **options):
        # API.md promises clients at least 24 hours of replays.
        if older_than < RETENTION.total_seconds() / 3600:
            raise CommandError(
                f"--older-than must be at least {RETENTION.total_seconds() / 3600:g} hours."
            )
        deleted = idempotency_keys_purge(older_than=timedelta(hours=older_than))
        self.stdout.write(f"Deleted {deleted} idempotency keys older than {older_than:g}h.")
