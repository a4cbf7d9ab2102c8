"""The performance work: statements per request, the fast path's ledger, shared output fields."""

import copy
import threading
from decimal import Decimal
from unittest import skipUnless

from django.db import close_old_connections, connection
from django.test import TransactionTestCase
from django.test.utils import CaptureQueriesContext
from rest_framework.serializers import Serializer

from authapp.models import User
from balance import services
from balance.models import Balance, Operation
from balance.serializers import (
    BalanceOutputSerializer,
    DepositInputSerializer,
    OperationOutputSerializer,
    TransferInputSerializer,
)
from lighTech.testing import balance_of, client_for, make_user

ON_POSTGRES = connection.vendor == "postgresql"
FAST_PATH_ONLY = "the one-statement money path is PostgreSQL's; SQLite takes the locked ORM path"


@skipUnless(ON_POSTGRES, FAST_PATH_ONLY)
class QueryBudgetTests(TransactionTestCase):
    """Statements per successful request, the JWT user lookup included.

    A TransactionTestCase, so `atomic()` would open a real transaction whose BEGIN and COMMIT
    are counted (Django logs them) and no test-only SAVEPOINT/RELEASE pair is, so each counted
    statement is one round trip to PostgreSQL. The money statements are prepared once per
    connection (lighTech.db): setUp has run each of them on this connection, and the first
    money request on a new connection adds one PREPARE. The connection health check that
    Django runs once per request (CONN_HEALTH_CHECKS) is not a statement (lighTech.postgresql).
    """

    def setUp(self):
        self.alice = make_user("alice", balance="100.00")
        self.bob = make_user("bob", balance="5.00")
        services.transfer(sender=self.bob, recipient_username="alice", amount=Decimal("1"))
        self.client = client_for(self.alice)

    def assert_statements(self, budget, method, path, body=None, status=200):
        with CaptureQueriesContext(connection) as queries:
            if method == "post":
                response = self.client.post(path, body, format="json")
            else:
                response = self.client.get(path)
        self.assertEqual(response.status_code, status, response.content)
        listing = "\n".join(query["sql"] for query in queries.captured_queries)
        self.assertLessEqual(len(queries), budget, f"{len(queries)} statements:\n{listing}")
        return response

    def test_transfer_takes_two_statements(self):
        # The caller's lookup (JWT authentication) and the one-statement transfer.
        body = {"recipient": "BOB", "amount": "10.00", "description": "rent"}
        self.assert_statements(2, "post", "/api/balance/v1/transfer/", body, status=201)
        self.assertEqual((balance_of(self.alice), balance_of(self.bob)), (91, 14))

    def test_deposit_and_withdraw_take_two_statements(self):
        self.assert_statements(2, "post", "/api/balance/v1/deposit/", {"amount": "1"}, 201)
        self.assert_statements(2, "post", "/api/balance/v1/withdraw/", {"amount": "2"}, 201)
        self.assertEqual(balance_of(self.alice), Decimal("100.00"))

    def test_a_new_connection_adds_one_prepare_to_its_first_money_request(self):
        connection.close()
        body = {"recipient": "bob", "amount": "1.00"}
        with CaptureQueriesContext(connection) as queries:
            first = self.client.post("/api/balance/v1/transfer/", body, format="json")
            second = self.client.post("/api/balance/v1/transfer/", body, format="json")
        self.assertEqual((first.status_code, second.status_code), (201, 201))
        verbs = [query["sql"].split()[0] for query in queries.captured_queries]
        self.assertEqual(verbs, ["SELECT", "PREPARE", "EXECUTE", "SELECT", "EXECUTE"])

    def test_balance_takes_at_most_two_statements(self):
        response = self.assert_statements(2, "get", "/api/balance/v1/balance/")
        self.assertEqual(response.json(), {"balance": "101.00"})

    def test_history_page_takes_two_statements_and_never_counts(self):
        for _ in range(25):
            services.deposit(user=self.alice, amount=Decimal("1"))
        first = self.assert_statements(2, "get", "/api/balance/v1/operations/?page_size=10")
        self.assert_statements(2, "get", first.json()["next"])


@skipUnless(ON_POSTGRES, FAST_PATH_ONLY)
class FastPathLedgerTests(TransactionTestCase):
    """What the one-statement path promises beyond the API tests: ids, clocks, refusals."""

    def test_returned_operation_is_the_stored_row(self):
        alice, bob = make_user("alice", balance="50.00"), make_user("bob")
        out = services.transfer(sender=alice, recipient_username=" Bob ", amount=Decimal("20"))
        stored = Operation.objects.get(pk=out.pk)
        for field in ("owner_id", "type", "amount", "balance_after", "counterparty_id"):
            self.assertEqual(getattr(out, field), getattr(stored, field), field)
        self.assertEqual(out.transfer_id, stored.transfer_id)
        self.assertEqual(out.created_at, stored.created_at)
        self.assertEqual(out.counterparty.username, "bob")
        incoming = Operation.objects.get(owner=bob)
        self.assertEqual((incoming.created_at, incoming.pk), (stored.created_at, stored.pk + 1))

    def test_first_use_balance_for_a_recipient_with_a_lower_or_higher_key(self):
        # The missing row is on the first-locked side in one case and the second in the other.
        low = User.objects.create_user("low", password="x-Strong-pass-9")
        sender = make_user("sender", balance="10.00")
        high = User.objects.create_user("high", password="x-Strong-pass-9")
        for recipient in (low, high):
            self.assertFalse(Balance.objects.filter(pk=recipient.pk).exists())
            services.transfer(
                sender=sender, recipient_username=recipient.username, amount=Decimal("1")
            )
            self.assertEqual(balance_of(recipient), Decimal("1.00"))
        self.assertEqual(balance_of(sender), Decimal("8.00"))

    def test_refused_transfer_after_the_first_update_rolls_it_back(self):
        # bob's row is locked and debited first (lower key), then alice's credit is refused.
        bob = make_user("bob", balance="10.00")
        alice = make_user("alice", balance=str(services._balance_limit() - 5))
        before = (balance_of(alice), balance_of(bob), Operation.objects.count())
        with self.assertRaises(services.BalanceLimitExceeded):
            services.transfer(sender=bob, recipient_username="alice", amount=Decimal("6"))
        self.assertEqual((balance_of(alice), balance_of(bob), Operation.objects.count()), before)

    def test_per_owner_created_at_never_goes_back_along_id_under_load(self):
        users = [make_user(f"user{i}", balance="1000.00") for i in range(4)]
        errors = []

        def worker(n):
            try:
                for i in range(15):
                    sender = users[(n + i) % 4]
                    recipient = users[(n + i + 1 + n % 3) % 4]
                    if sender == recipient:
                        services.deposit(user=sender, amount=Decimal("1"))
                    else:
                        services.transfer(
                            sender=sender,
                            recipient_username=recipient.username,
                            amount=Decimal("1"),
                        )
            except Exception as exc:  # reported below
                errors.append(repr(exc))
            finally:
                close_old_connections()
                connection.close()

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        self.assertEqual(errors, [])
        for user in users:
            by_id = list(Operation.objects.filter(owner=user).order_by("id"))
            times = [op.created_at for op in by_id]
            self.assertEqual(times, sorted(times), user.username)
            # So the history order (created_at, id descending) is exactly the id order.
            by_history = list(Operation.objects.filter(owner=user).order_by("-created_at", "-id"))
            self.assertEqual(by_history, by_id[::-1])


class SharedFieldsSerializerTests(TransactionTestCase):
    """Fields shared per class render and validate exactly as DRF's per-instance fields do."""

    def test_shared_fields_render_like_fresh_ones(self):
        alice, bob = make_user("alice", balance="12.30"), make_user("bob")
        services.transfer(sender=alice, recipient_username="bob", amount=Decimal("0.05"))
        services.withdraw(user=alice, amount=Decimal("2"), description="cash ✓")
        reference = type(
            "Reference", (Serializer,), copy.deepcopy(OperationOutputSerializer._declared_fields)
        )
        operations = list(Operation.objects.select_related("counterparty"))
        operations.append(services.deposit(user=bob, amount=Decimal("1000000.1")))
        self.assertEqual(len(operations), 5)
        for operation in operations:
            with self.subTest(operation=operation):
                self.assertEqual(
                    OperationOutputSerializer(operation).data, reference(operation).data
                )
        self.assertEqual(
            OperationOutputSerializer(operations, many=True).data,
            reference(operations, many=True).data,
        )
        self.assertEqual(
            BalanceOutputSerializer({"balance": Decimal("7.5")}).data, {"balance": "7.50"}
        )

    def test_shared_fields_validate_like_fresh_ones(self):
        bodies = [
            {"recipient": "bob", "amount": "10.50", "description": "x"},
            {"recipient": "bob", "amount": 0.1},
            {"recipient": 5, "amount": "1"},
            {"amount": "-1", "description": "y" * 256},
            {"recipient": "b" * 151, "amount": "1.001"},
            {"recipient": "bob", "amount": None, "description": None},
            {},
            {"recipient": "bob\x00", "amount": "NaN"},
        ]
        for serializer_class in (TransferInputSerializer, DepositInputSerializer):
            reference = type(
                "Reference", (Serializer,), copy.deepcopy(serializer_class._declared_fields)
            )
            for body in bodies:
                with self.subTest(serializer=serializer_class.__name__, body=body):
                    shared, fresh = serializer_class(data=body), reference(data=body)
                    self.assertEqual(shared.is_valid(), fresh.is_valid())
                    self.assertEqual(shared.errors, fresh.errors)
                    if not shared.errors:
                        self.assertEqual(shared.validated_data, fresh.validated_data)


@skipUnless(ON_POSTGRES, FAST_PATH_ONLY)
class TransferRefusalOrderTests(TransactionTestCase):
    """Missing funds are reported before the recipient's limit, whichever row is locked first."""

    def test_poor_sender_to_a_full_recipient_locked_first_is_insufficient_funds(self):
        full = make_user("full", balance=str(services._balance_limit() - 5))
        poor = make_user("poor", balance="10.00")  # higher key: the recipient is locked first
        with self.assertRaises(services.InsufficientFunds):
            services.transfer(sender=poor, recipient_username="full", amount=Decimal("10.01"))
        with self.assertRaises(services.BalanceLimitExceeded):
            services.transfer(sender=poor, recipient_username="full", amount=Decimal("6.00"))
        self.assertEqual(balance_of(poor), Decimal("10.00"))
        self.assertEqual(balance_of(full), services._balance_limit() - 5)

    def test_poor_sender_to_a_user_without_balance_creates_nothing(self):
        nobody = User.objects.create_user("nobody", password="x-Strong-pass-9")
        poor = make_user("poor", balance="1.00")
        with self.assertRaises(services.InsufficientFunds):
            services.transfer(sender=poor, recipient_username="nobody", amount=Decimal("2"))
        self.assertFalse(Balance.objects.filter(pk=nobody.pk).exists())
        self.assertFalse(Operation.objects.filter(type="transfer_out").exists())
