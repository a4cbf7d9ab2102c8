"""verify_ledger: a clean ledger passes; each kind of corruption, made in SQL, is reported.

Each test corrupts the data directly in the database, the way a bug or a manual edit would.
Corruptions the CHECK constraints forbid (a negative balance, a zero amount) drop that
constraint first: the DDL runs inside the test's transaction, so PostgreSQL rolls it back
with the test and no other test ever sees the table without it.
"""

from decimal import Decimal
from io import StringIO
from unittest import skipUnless

from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import TestCase

from authapp.models import User
from balance import services
from balance.models import Balance, Operation

ON_POSTGRES = connection.vendor == "postgresql"


def make_user(username: str) -> User:
    user = User.objects.create(username=username)
    services.balance_open(user=user)
    return user


def sql(statement: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def drop_constraint(table: str, name: str) -> None:
    """Drop a CHECK constraint until the test's transaction rolls back."""
    # ALTER TABLE refuses to run while deferred foreign-key checks of earlier inserts are
    # pending: fire them now.
    sql("SET CONSTRAINTS ALL IMMEDIATE")
    sql(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    sql("SET CONSTRAINTS ALL DEFERRED")


@skipUnless(ON_POSTGRES, "the corruptions use PostgreSQL DDL inside the test transaction")
class VerifyLedgerTests(TestCase):
    """Every invariant of the issue, broken one at a time."""

    def setUp(self):
        self.alice = make_user("alice")
        self.bob = make_user("bob")
        self.carol = make_user("carol")
        services.deposit(user=self.alice, amount=Decimal("100.00"))
        services.withdraw(user=self.alice, amount=Decimal("30.00"))
        self.transfer = services.transfer(
            sender=self.alice, recipient_username="bob", amount=Decimal("20.00")
        )
        services.deposit(user=self.bob, amount=Decimal("5.00"))
        services.transfer(sender=self.bob, recipient_username="alice", amount=Decimal("10.00"))
        services.deposit(user=self.alice, amount=Decimal("1.00"))

    def verify(self, *args) -> tuple[set[str], str]:
        """Run the command; return the discrepancy codes it listed and its output."""
        out = StringIO()
        try:
            call_command("verify_ledger", *args, stdout=out)
        except CommandError as error:
            text = out.getvalue()
            self.assertIn("discrepancies", str(error))
            return {
                line.split(":")[0]
                for line in text.splitlines()
                if ": " in line and not line.startswith("Checked")
            }, text
        return set(), out.getvalue()

    def assert_detected(self, code: str, *also: str) -> str:
        for chunk in ("10000", "1"):
            codes, text = self.verify("--chunk-size", chunk)
            self.assertIn(code, codes, text)
            self.assertLessEqual(codes, {code, *also}, text)
        return text

    def last_operation(self, user) -> Operation:
        return Operation.objects.filter(owner=user).order_by("-id").first()

    def test_a_clean_ledger_passes(self):
        for chunk in ("10000", "2", "1"):
            codes, text = self.verify("--chunk-size", chunk)
            self.assertEqual(codes, set(), text)
            self.assertIn("Checked 8 operations and 3 balances", text)
            self.assertIn("Ledger OK.", text)

    def test_a_broken_balance_chain_is_detected(self):
        withdrawal = Operation.objects.get(owner=self.alice, type="withdraw")
        sql(
            "UPDATE balance_operation SET balance_after = balance_after + 1 WHERE id = %s",
            [withdrawal.pk],
        )
        text = self.assert_detected("chain_broken")
        self.assertIn(f"operation {withdrawal.pk} ", text)

    def test_a_changed_amount_is_detected(self):
        deposit = Operation.objects.get(owner=self.bob, type="deposit")
        sql("UPDATE balance_operation SET amount = 6 WHERE id = %s", [deposit.pk])
        self.assert_detected("chain_broken", "total_mismatch")

    def test_a_stored_balance_that_differs_from_the_last_balance_after_is_detected(self):
        sql("UPDATE balance_balance SET amount = amount + 5 WHERE user_id = %s", [self.bob.pk])
        text = self.assert_detected("balance_mismatch", "total_mismatch")
        self.assertIn(f"user {self.bob.pk} has balance", text)

    def test_a_nonzero_balance_without_operations_is_detected(self):
        sql("UPDATE balance_balance SET amount = 3 WHERE user_id = %s", [self.carol.pk])
        self.assert_detected("balance_mismatch", "total_mismatch")

    def test_operations_without_a_balance_row_are_detected(self):
        sql("DELETE FROM balance_balance WHERE user_id = %s", [self.bob.pk])
        self.assert_detected("balance_missing", "total_mismatch")

    def test_a_transfer_out_without_its_transfer_in_is_detected(self):
        sql(
            "DELETE FROM balance_operation WHERE transfer_id = %s AND type = 'transfer_in'",
            [self.transfer.transfer_id],
        )
        text = self.assert_detected("transfer_unmatched", "chain_broken", "total_mismatch")
        self.assertIn(str(self.transfer.transfer_id), text)

    def test_a_transfer_in_without_its_transfer_out_is_detected(self):
        sql(
            "DELETE FROM balance_operation WHERE transfer_id = %s AND type = 'transfer_out'",
            [self.transfer.transfer_id],
        )
        self.assert_detected("transfer_unmatched", "chain_broken", "total_mismatch")

    def test_a_transfer_whose_users_are_not_swapped_is_detected(self):
        sql(
            "UPDATE balance_operation SET counterparty_id = %s "
            "WHERE transfer_id = %s AND type = 'transfer_in'",
            [self.carol.pk, self.transfer.transfer_id],
        )
        self.assert_detected("transfer_unmatched")

    def test_a_transfer_with_different_amounts_on_each_side_is_detected(self):
        # Both chains stay intact: the recipient's row and every later row are rewritten as
        # if 25.00 had arrived, so only the pairing is wrong (and the money total).
        sql(
            "UPDATE balance_operation SET amount = 25, balance_after = balance_after + 5 "
            "WHERE transfer_id = %s AND type = 'transfer_in'",
            [self.transfer.transfer_id],
        )
        sql(
            "UPDATE balance_operation SET balance_after = balance_after + 5 "
            "WHERE owner_id = %s AND type <> 'transfer_in'",
            [self.bob.pk],
        )
        sql("UPDATE balance_balance SET amount = amount + 5 WHERE user_id = %s", [self.bob.pk])
        self.assert_detected("transfer_unmatched", "total_mismatch")

    def test_a_transfer_with_a_third_row_is_detected(self):
        sql(
            "INSERT INTO balance_operation (owner_id, type, amount, balance_after, "
            "counterparty_id, transfer_id, description, created_at) "
            "SELECT owner_id, type, amount, balance_after, counterparty_id, transfer_id, "
            "'copy', created_at FROM balance_operation "
            "WHERE transfer_id = %s AND type = 'transfer_in'",
            [self.transfer.transfer_id],
        )
        self.assert_detected("transfer_unmatched", "chain_broken", "balance_mismatch")

    def test_money_created_consistently_for_one_user_breaks_the_total(self):
        # The balance and the last balance_after agree with each other, but no deposit
        # brought the 7.00: only the chain and the total can tell.
        last = self.last_operation(self.alice)
        sql(
            "UPDATE balance_operation SET balance_after = balance_after + 7 WHERE id = %s",
            [last.pk],
        )
        sql("UPDATE balance_balance SET amount = amount + 7 WHERE user_id = %s", [self.alice.pk])
        self.assert_detected("total_mismatch", "chain_broken")

    def test_a_negative_balance_is_detected(self):
        drop_constraint("balance_balance", "balance_amount_non_negative")
        drop_constraint("balance_operation", "operation_balance_after_non_negative")
        # A withdrawal with no money behind it: the chain and the total are consistent, only
        # the sign is wrong.
        sql(
            "INSERT INTO balance_operation (owner_id, type, amount, balance_after, "
            "description, created_at) VALUES (%s, 'withdraw', 5, -5, '', now())",
            [self.carol.pk],
        )
        sql("UPDATE balance_balance SET amount = -5 WHERE user_id = %s", [self.carol.pk])
        text = self.assert_detected("negative_balance")
        self.assertIn(f"user {self.carol.pk} has balance -5.00", text)

    def test_a_zero_or_negative_amount_is_detected(self):
        drop_constraint("balance_operation", "operation_amount_positive")
        balance = Balance.objects.get(pk=self.alice.pk).amount
        for amount in ("0.00", "-3.00"):
            with self.subTest(amount=amount):
                sql(
                    "INSERT INTO balance_operation (owner_id, type, amount, balance_after, "
                    "description, created_at) VALUES (%s, 'deposit', %s, %s, '', now())",
                    [self.alice.pk, amount, balance + Decimal(amount)],
                )
                balance += Decimal(amount)
                sql(
                    "UPDATE balance_balance SET amount = %s WHERE user_id = %s",
                    [balance, self.alice.pk],
                )
                self.assert_detected("amount_not_positive")

    def test_an_unknown_operation_type_is_detected(self):
        drop_constraint("balance_operation", "operation_type_valid")
        drop_constraint("balance_operation", "operation_counterparty_matches_type")
        deposit = Operation.objects.get(owner=self.bob, type="deposit")
        sql("UPDATE balance_operation SET type = 'bonus' WHERE id = %s", [deposit.pk])
        self.assert_detected("unknown_type", "total_mismatch")

    def test_a_deposit_carrying_a_transfer_id_is_detected(self):
        drop_constraint("balance_operation", "operation_counterparty_matches_type")
        deposit = Operation.objects.get(owner=self.bob, type="deposit")
        sql(
            "UPDATE balance_operation SET transfer_id = gen_random_uuid() WHERE id = %s",
            [deposit.pk],
        )
        self.assert_detected("transfer_unmatched")
