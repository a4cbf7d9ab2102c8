"""verify_ledger: check every ledger invariant; exit non-zero listing each discrepancy."""

import time

from django.core.management.base import BaseCommand, CommandError

from balance.ledger import ledger_verify


class Command(BaseCommand):
    """Read the whole ledger in one snapshot and list every broken invariant."""

    help = (
        "Check the ledger: per-user balance chains, stored balances, transfer pairs, "
        "total money, no negative balance or non-positive amount. Exits 1 on any discrepancy."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--chunk-size",
            type=int,
            default=10_000,
            help="Rows fetched per round trip from the server-side cursors (default %(default)s).",
        )

    def handle(self, *args, chunk_size: int, **options):
        started = time.monotonic()
        summary = ledger_verify(
            report=lambda discrepancy: self.stdout.write(str(discrepancy)),
            chunk_size=chunk_size,
        )
        elapsed = time.monotonic() - started
        self.stdout.write(
            f"Checked {summary.operations} operations and {summary.balances} balances in "
            f"{elapsed:.1f}s: deposits {summary.deposits}, withdrawals {summary.withdrawals}, "
            f"balances {summary.balances_total}."
        )
        if summary.discrepancies:
            kinds = ", ".join(f"{code}: {n}" for code, n in sorted(summary.codes.items()))
            raise CommandError(f"{summary.discrepancies} discrepancies ({kinds}).")
        self.stdout.write(self.style.SUCCESS("Ledger OK."))
