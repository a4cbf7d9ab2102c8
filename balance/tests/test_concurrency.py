"""Real threads against PostgreSQL: no overdraft, no lost update, no deadlock, money conserved."""

import random
from collections import Counter
from decimal import Decimal
from unittest import skipUnless

from django.db import connection
from django.test import TransactionTestCase

from authapp.models import User
from balance import services
from balance.exceptions import InsufficientFunds
from balance.models import Balance, Operation
from lighTech.testing import in_threads, make_user

ON_POSTGRES = connection.vendor == "postgresql"
SKIP_REASON = "row locks (select_for_update) are only real on PostgreSQL; CI runs these there"


def run_in_threads(jobs, *, threads: int = 8):
    """Run the jobs on real threads; each outcome is ok, insufficient_funds or error."""
    outcomes = []
    for result in in_threads(jobs, threads=threads):
        if isinstance(result, InsufficientFunds):
            outcomes.append(("insufficient_funds", None))
        elif isinstance(result, Exception):
            outcomes.append(("error", repr(result)))
        else:
            outcomes.append(("ok", result))
    return outcomes


def transfer_job(sender, recipient: str, amount: str):
    """A job for run_in_threads: sender pays amount to the user named recipient."""
    return lambda: services.transfer(
        sender=sender, recipient_username=recipient, amount=Decimal(amount)
    )


@skipUnless(ON_POSTGRES, SKIP_REASON)
class ConcurrencyTests(TransactionTestCase):
    def assert_ledger_consistent(self):
        """Each owner's chain of balance_after ends at the stored balance; nothing negative."""
        self.assertFalse(Balance.objects.filter(amount__lt=0).exists())
        for balance in Balance.objects.all():
            running = Decimal("0.00")
            for op in Operation.objects.filter(owner_id=balance.pk).order_by("id"):
                running += op.amount if op.type in ("deposit", "transfer_in") else -op.amount
                self.assertEqual(op.balance_after, running, op)
            self.assertEqual(running, balance.amount)

    def test_parallel_withdrawals_never_overdraw(self):
        alice = make_user("alice", balance="100.00")
        outcomes = run_in_threads(
            [lambda: services.withdraw(user=alice, amount=Decimal("7.00"))] * 40
        )
        counts = Counter(kind for kind, _ in outcomes)
        self.assertEqual(counts["error"], 0, outcomes)
        self.assertEqual(counts["ok"], 14)  # 14 * 7 = 98 <= 100 < 15 * 7
        self.assertEqual(counts["insufficient_funds"], 26)
        self.assertEqual(Balance.objects.get(pk=alice.pk).amount, Decimal("2.00"))
        self.assertEqual(Operation.objects.filter(owner=alice, type="withdraw").count(), 14)
        self.assert_ledger_consistent()

    def test_parallel_deposits_and_withdrawals_lose_no_update(self):
        alice = make_user("alice", balance="500.00")
        jobs = [lambda: services.deposit(user=alice, amount=Decimal("3.00"))] * 60
        jobs += [lambda: services.withdraw(user=alice, amount=Decimal("2.00"))] * 60
        random.Random(7).shuffle(jobs)
        outcomes = run_in_threads(jobs)
        self.assertEqual(Counter(kind for kind, _ in outcomes), {"ok": 120})
        self.assertEqual(Balance.objects.get(pk=alice.pk).amount, Decimal("560.00"))
        self.assert_ledger_consistent()

    def test_crossing_transfers_finish_without_deadlock(self):
        alice = make_user("alice", balance="1000.00")
        bob = make_user("bob", balance="1000.00")
        jobs = [transfer_job(alice, "bob", "3.00"), transfer_job(bob, "alice", "5.00")] * 50
        outcomes = run_in_threads(jobs)
        self.assertEqual(Counter(kind for kind, _ in outcomes), {"ok": 100}, outcomes)
        self.assertEqual(Balance.objects.get(pk=alice.pk).amount, Decimal("1100.00"))
        self.assertEqual(Balance.objects.get(pk=bob.pk).amount, Decimal("900.00"))
        self.assert_ledger_consistent()

    def test_transfers_out_of_an_account_being_credited_use_its_latest_balance(self):
        # Regression: the one-statement transfer once computed the sender's new balance from
        # the version its snapshot saw; a credit committed in between made PostgreSQL's
        # CHECK (amount >= 0) fail on that stale amount, so a covered transfer errored.
        poor = make_user("poor")
        payer = make_user("payer", balance="1000.00")
        sink = make_user("sink")
        jobs = [transfer_job(payer, "poor", "1.00"), transfer_job(poor, "sink", "1.00")] * 60
        outcomes = run_in_threads(jobs, threads=12)
        counts = Counter(kind for kind, _ in outcomes)
        self.assertEqual(counts["error"], 0, [o for o in outcomes if o[0] == "error"][:3])
        self.assertEqual(counts["ok"] + counts["insufficient_funds"], 120)
        moved_out = Operation.objects.filter(owner=poor, type="transfer_out").count()
        self.assertEqual(Balance.objects.get(pk=poor.pk).amount, Decimal(60 - moved_out))
        self.assertEqual(Balance.objects.get(pk=sink.pk).amount, Decimal(moved_out))
        self.assert_ledger_consistent()

    def test_concurrent_first_deposits_of_a_user_without_a_balance_row_all_succeed(self):
        # Regression: a deposit that found no row asked afterwards whether the row existed;
        # a row opened meanwhile by a concurrent first deposit made that a false 400
        # balance_limit_exceeded. Users made outside registration start without a row.
        for round_ in range(4):
            admin = User.objects.create_superuser(f"admin{round_}", password="x-Strong-pass-9")
            outcomes = run_in_threads(
                [lambda a=admin: services.deposit(user=a, amount=Decimal("1.00"))] * 12,
                threads=12,
            )
            self.assertEqual(Counter(kind for kind, _ in outcomes), {"ok": 12}, outcomes)
            self.assertEqual(Balance.objects.get(pk=admin.pk).amount, Decimal("12.00"))
        self.assert_ledger_consistent()

    def test_money_is_conserved_under_mixed_load(self):
        users = [make_user(f"user{i}", balance="100.00") for i in range(6)]
        rng = random.Random(42)
        jobs = []
        for _ in range(150):
            sender, recipient = rng.sample(users, 2)
            amount = Decimal(rng.randint(1, 4000)) / 100
            jobs.append(
                lambda s=sender, r=recipient, a=amount: services.transfer(
                    sender=s, recipient_username=r.username, amount=a
                )
            )
        outcomes = run_in_threads(jobs)
        counts = Counter(kind for kind, _ in outcomes)
        self.assertEqual(counts["error"], 0, outcomes)
        total = sum(Balance.objects.values_list("amount", flat=True))
        self.assertEqual(total, Decimal("600.00"))
        self.assertEqual(Operation.objects.filter(type="transfer_out").count(), counts["ok"])
        self.assertEqual(Operation.objects.filter(type="transfer_in").count(), counts["ok"])
        self.assert_ledger_consistent()
