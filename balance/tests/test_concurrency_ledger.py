"""Real threads on PostgreSQL: a transfer ring, a hot account, one Idempotency-Key raced."""

import json
import random
import urllib.error
import urllib.request
from collections import Counter
from decimal import Decimal
from io import StringIO
from unittest import skipUnless

from django.core.management import call_command
from django.db import connection
from django.test import LiveServerTestCase, TransactionTestCase
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from authapp.models import User
from balance import services
from balance.models import Balance, IdempotencyKey, Operation
from lighTech.testing import in_threads

ON_POSTGRES = connection.vendor == "postgresql"
SKIP_REASON = "row locks (select_for_update) are only real on PostgreSQL; CI runs these there"


def make_user(username: str, balance: str = "0.00") -> User:
    # No password: hashing one per user would dominate these tests.
    user = User.objects.create(username=username)
    services.balance_open(user=user)
    if Decimal(balance):
        services.deposit(user=user, amount=Decimal(balance))
    return user


class LedgerAssertions:
    def assert_verify_ledger_clean(self):
        out = StringIO()
        call_command("verify_ledger", "--chunk-size", "7", stdout=out)
        self.assertIn("Ledger OK.", out.getvalue())


@skipUnless(ON_POSTGRES, SKIP_REASON)
class TransferRingTests(LedgerAssertions, TransactionTestCase):
    """Transfers in a ring over the API: every lock order is exercised, none deadlocks."""

    def test_random_transfers_around_a_ring_conserve_money_and_never_fail_with_5xx(self):
        users = [make_user(f"ring{i}", "50.00") for i in range(12)]
        rng = random.Random(2026)
        jobs = []
        for round_ in range(20):
            for i, sender in enumerate(users):
                # Alternate directions so neighbours send to each other at the same time.
                step = 1 if round_ % 2 == 0 else -1
                recipient = users[(i + step) % len(users)]
                amount = str(Decimal(rng.randint(1, 4000)) / 100)

                def job(sender=sender, recipient=recipient, amount=amount):
                    client = APIClient()
                    client.force_authenticate(sender)
                    response = client.post(
                        "/api/balance/v1/transfer/",
                        {"recipient": recipient.username, "amount": amount},
                        format="json",
                    )
                    return response.status_code, response.json()

                jobs.append(job)
        results = in_threads(jobs, threads=12)
        statuses = Counter(r[0] if isinstance(r, tuple) else repr(r) for r in results)
        self.assertLessEqual(set(statuses), {201, 400}, statuses)
        refusals = {r[1]["errors"][0]["code"] for r in results if r[0] == 400}
        self.assertLessEqual(refusals, {"insufficient_funds"})
        self.assertEqual(sum(Balance.objects.values_list("amount", flat=True)), Decimal("600.00"))
        self.assertFalse(Balance.objects.filter(amount__lt=0).exists())
        self.assertEqual(Operation.objects.filter(type="transfer_out").count(), statuses[201])
        self.assertEqual(Operation.objects.filter(type="transfer_in").count(), statuses[201])
        self.assert_verify_ledger_clean()


@skipUnless(ON_POSTGRES, SKIP_REASON)
class HotAccountTests(LedgerAssertions, TransactionTestCase):
    """Many senders, one recipient: every transfer lands, in one unbroken chain."""

    def test_many_concurrent_transfers_into_one_account_all_land(self):
        hot = make_user("hot")
        senders = [make_user(f"sender{i}", "30.00") for i in range(24)]
        jobs = [
            lambda s=sender, n=n: services.transfer(
                sender=s, recipient_username="HOT ", amount=Decimal("1.25") * (n % 3 + 1)
            )
            for sender in senders
            for n in range(4)
        ]
        results = in_threads(jobs, threads=16)
        failures = [r for r in results if not isinstance(r, Operation)]
        self.assertEqual(failures, [])
        expected = sum(Decimal("1.25") * (n % 3 + 1) for n in range(4)) * len(senders)
        self.assertEqual(Balance.objects.get(pk=hot.pk).amount, expected)
        incoming = list(
            Operation.objects.filter(owner=hot)
            .order_by("id")
            .values_list("balance_after", "amount")
        )
        self.assertEqual(len(incoming), len(jobs))
        running = Decimal("0.00")
        for balance_after, amount in incoming:
            running += amount
            self.assertEqual(balance_after, running)
        self.assertEqual(sum(Balance.objects.values_list("amount", flat=True)), Decimal("720.00"))
        self.assert_verify_ledger_clean()


@skipUnless(ON_POSTGRES, SKIP_REASON)
class ConcurrentIdempotencyKeyTests(LedgerAssertions, LiveServerTestCase):
    """One key sent by many HTTP clients at once executes once; the rest replay it."""

    def setUp(self):
        self.alice = make_user("alice", "10.00")
        make_user("bob")
        self.token = str(RefreshToken.for_user(self.alice).access_token)

    def post(self, path: str, body: dict, key: str) -> tuple[int, bytes, str | None]:
        request = urllib.request.Request(  # noqa: S310 - http URL of the test server
            f"{self.live_server_url}/api/balance/v1/{path}/",
            data=json.dumps(body).encode(),
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {self.token}",
                "Idempotency-Key": key,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                return response.status, response.read(), response.headers["Idempotent-Replayed"]
        except urllib.error.HTTPError as error:
            return error.code, error.read(), error.headers["Idempotent-Replayed"]

    def test_one_key_raced_by_many_clients_moves_money_once(self):
        for path, body in (
            ("deposit", {"amount": "5.00"}),
            # The balance covers one 8.00 withdrawal, not two: a second execution would 400.
            ("withdraw", {"amount": "8.00"}),
            ("transfer", {"recipient": "bob", "amount": "1.00"}),
        ):
            with self.subTest(path=path):
                key = f"race-{path}"
                results = in_threads(
                    [lambda p=path, b=body, k=key: self.post(p, b, k)] * 12, threads=12
                )
                self.assertTrue(all(isinstance(r, tuple) for r in results), results)
                self.assertEqual({status for status, _, _ in results}, {201}, results)
                self.assertEqual(len({content for _, content, _ in results}), 1)
                replayed = Counter(header for _, _, header in results)
                self.assertEqual(replayed, {"true": 11, None: 1})
        self.assertEqual(Operation.objects.filter(owner=self.alice).count(), 4)
        self.assertEqual(Balance.objects.get(pk=self.alice.pk).amount, Decimal("6.00"))
        self.assertEqual(IdempotencyKey.objects.count(), 3)
        self.assert_verify_ledger_clean()

    def test_one_key_raced_with_two_different_bodies_executes_one_of_them(self):
        bodies = [{"amount": "1.00"}, {"amount": "2.00"}] * 6
        results = in_threads(
            [lambda b=body: (b["amount"], *self.post("deposit", b, "split")) for body in bodies],
            threads=12,
        )
        winners = {amount for amount, status, _, header in results if status == 201}
        self.assertEqual(len(winners), 1, results)
        for amount, status, content, _ in results:
            if amount in winners:
                self.assertEqual(status, 201)
            else:
                self.assertEqual(status, 409)
                self.assertEqual(json.loads(content)["errors"][0]["code"], "idempotency_key_reused")
        self.assertEqual(Operation.objects.filter(owner=self.alice, type="deposit").count(), 2)
        self.assertEqual(
            Balance.objects.get(pk=self.alice.pk).amount, Decimal("10.00") + Decimal(winners.pop())
        )
