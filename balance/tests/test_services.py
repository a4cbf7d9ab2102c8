"""Services directly: ledger rows, balances, first-use balances, and refusals that write nothing."""

from decimal import Decimal
from unittest import skipUnless

from django.db import IntegrityError, connection, transaction
from django.test import TestCase

from authapp.models import User
from balance import services
from balance.exceptions import InsufficientFunds, RecipientNotFound, SelfTransfer
from balance.models import Balance, Operation
from lighTech.testing import balance_of, client_for, ledger_snapshot, make_user


class ServiceTests(TestCase):
    def setUp(self):
        self.alice = make_user("alice", balance="50.00")
        self.bob = make_user("bob")

    def test_transfer_writes_two_linked_rows_in_one_go(self):
        out = services.transfer(sender=self.alice, recipient_username="bob", amount=Decimal("20"))
        incoming = Operation.objects.get(owner=self.bob)
        self.assertEqual(out.transfer_id, incoming.transfer_id)
        self.assertEqual(
            (out.counterparty_id, incoming.counterparty_id), (self.bob.pk, self.alice.pk)
        )
        self.assertEqual(
            (out.balance_after, incoming.balance_after), (Decimal("30.00"), Decimal("20.00"))
        )

    def test_refusals_write_nothing(self):
        before = ledger_snapshot()
        with self.assertRaises(InsufficientFunds):
            services.withdraw(user=self.alice, amount=Decimal("50.01"))
        with self.assertRaises(InsufficientFunds):
            services.transfer(sender=self.alice, recipient_username="bob", amount=Decimal("51"))
        with self.assertRaises(SelfTransfer):
            services.transfer(sender=self.alice, recipient_username=" ALICE", amount=Decimal("1"))
        with self.assertRaises(RecipientNotFound):
            services.transfer(sender=self.alice, recipient_username="nobody", amount=Decimal("1"))
        self.assertEqual(ledger_snapshot(), before)

    @skipUnless(connection.vendor == "postgresql", "SQLite's lower() only folds ASCII letters")
    def test_names_that_only_casefold_equates_are_different_users(self):
        # "ss" and "ß" are distinct usernames under the lower() unique index; a casefold()
        # comparison once refused this transfer as a transfer to oneself.
        sender = make_user("ss", balance="5.00")
        recipient = make_user("\u00df")
        services.transfer(sender=sender, recipient_username="\u00df", amount=Decimal("1"))
        self.assertEqual(balance_of(recipient), Decimal("1.00"))
        with self.assertRaises(SelfTransfer):
            services.transfer(sender=sender, recipient_username=" SS ", amount=Decimal("1"))

    def test_superuser_without_balance_gets_one_on_first_use(self):
        admin = User.objects.create_superuser("root", "root@example.com", "x-Strong-pass-9")
        self.assertFalse(Balance.objects.filter(pk=admin.pk).exists())
        client = client_for(admin)
        self.assertEqual(client.get("/api/balance/v1/balance/").json(), {"balance": "0.00"})
        self.assertEqual(client.get("/api/balance/v1/operations/").status_code, 200)
        response = client.post("/api/balance/v1/withdraw/", {"amount": "1"}, format="json")
        self.assertEqual(response.json()["errors"][0]["code"], "insufficient_funds")
        services.transfer(sender=self.alice, recipient_username="root", amount=Decimal("5"))
        self.assertEqual(balance_of(admin), Decimal("5.00"))
        response = client.post("/api/balance/v1/deposit/", {"amount": "1"}, format="json")
        self.assertEqual(response.status_code, 201)
        self.assertEqual(balance_of(admin), Decimal("6.00"))


class DatabaseConstraintTests(TestCase):
    """The database refuses a negative balance or a non-positive amount even if Python errs."""

    def setUp(self):
        self.alice = make_user("alice", balance="10.00")

    def assert_refused(self, sql, params):
        with self.assertRaises(IntegrityError), transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql, params)

    def test_balance_cannot_go_negative(self):
        table = Balance._meta.db_table
        self.assert_refused(
            f"UPDATE {table} SET amount = %s WHERE user_id = %s",  # noqa: S608
            [Decimal("-0.01"), self.alice.pk],
        )

    def test_operation_amount_must_be_positive(self):
        for amount in (Decimal("0"), Decimal("-1")):
            with (
                self.subTest(amount=amount),
                self.assertRaises(IntegrityError),
                transaction.atomic(),
            ):
                Operation.objects.create(
                    owner=self.alice, type="deposit", amount=amount, balance_after=Decimal("1")
                )

    def test_transfer_rows_need_a_counterparty(self):
        with self.assertRaises(IntegrityError), transaction.atomic():
            Operation.objects.create(
                owner=self.alice,
                type="transfer_in",
                amount=Decimal("1"),
                balance_after=Decimal("1"),
            )
