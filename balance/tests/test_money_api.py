"""Deposit, withdraw and transfer over HTTP: success paths, business errors, every bad amount."""

from decimal import Decimal

from django.test import TestCase

from balance.models import Operation
from balance.services import _balance_limit
from lighTech.testing import balance_of, client_for, ledger_snapshot, make_user

DEPOSIT = "/api/balance/v1/deposit/"
WITHDRAW = "/api/balance/v1/withdraw/"
TRANSFER = "/api/balance/v1/transfer/"
BALANCE = "/api/balance/v1/balance/"

OPERATION_FIELDS = {
    "id",
    "type",
    "amount",
    "balance_after",
    "counterparty",
    "description",
    "created_at",
}

# Every kind of amount API.md says must be refused, with the JSON that carries it.
BAD_AMOUNTS = {
    "zero string": "0",
    "zero with places": "0.00",
    "zero number": 0,
    "negative string": "-10",
    "negative number": -10,
    "negative zero": "-0",
    "negative zero number": "-0.00",
    "three places": "1.005",
    "three places trailing zero": "10.500",
    "three places number": 1.005,
    "tiny exponent number": 1e-5,
    "too many digits": "12345678901234567",
    "too many digits number": 12345678901234567,
    "huge exponent number": 1e300,
    "NaN string": "NaN",
    "Infinity string": "Infinity",
    "-Infinity string": "-Infinity",
    "non-numeric": "ten",
    "empty string": "",
    "spaces only": "   ",
    "exponent string": "1e3",
    "hex string": "0x10",
    "underscore digits": "1_000",
    "comma decimal": "10,50",
    "null": None,
    "true": True,
    "false": False,
    "list": [10],
    "object": {"value": 10},
}


class MoneyApiTestCase(TestCase):
    def setUp(self):
        self.alice = make_user("alice", balance="100.00")
        self.bob = make_user("bob")
        self.client = client_for(self.alice)

    def post(self, url, body):
        return self.client.post(url, body, format="json")

    def assert_error(self, response, status, code, attr="__any__"):
        self.assertEqual(response.status_code, status, response.content)
        body = response.json()
        self.assertEqual(set(body), {"type", "errors"})
        error = body["errors"][0]
        self.assertEqual(error["code"], code, body)
        self.assertTrue(error["detail"])
        if attr != "__any__":
            self.assertEqual(error["attr"], attr)


class DepositTests(MoneyApiTestCase):
    def test_deposit_returns_the_operation_and_moves_the_balance(self):
        response = self.post(DEPOSIT, {"amount": "25.5", "description": "salary"})
        self.assertEqual(response.status_code, 201)
        body = response.json()
        self.assertEqual(set(body), OPERATION_FIELDS)
        self.assertEqual(body["type"], "deposit")
        self.assertEqual(body["amount"], "25.50")
        self.assertEqual(body["balance_after"], "125.50")
        self.assertIsNone(body["counterparty"])
        self.assertEqual(body["description"], "salary")
        self.assertTrue(body["created_at"].endswith("Z"))
        self.assertIsInstance(body["id"], str)
        self.assertEqual(balance_of(self.alice), Decimal("125.50"))

    def test_amount_forms_accepted(self):
        for amount, expected in (
            ("10.5", "10.50"),
            ("10.50", "10.50"),
            ("12", "12.00"),
            (10.5, "10.50"),
            (7, "7.00"),
            (" 3.25 ", "3.25"),
            ("999999999.99", "999999999.99"),
        ):
            with self.subTest(amount=amount):
                response = self.post(DEPOSIT, {"amount": amount})
                self.assertEqual(response.status_code, 201, response.content)
                self.assertEqual(response.json()["amount"], expected)

    def test_point_one_plus_point_two_is_exactly_point_three(self):
        carol = make_user("carol")
        client = client_for(carol)
        client.post(DEPOSIT, {"amount": 0.1}, format="json")
        client.post(DEPOSIT, {"amount": 0.2}, format="json")
        self.assertEqual(client.get(BALANCE).json(), {"balance": "0.30"})

    def test_description_too_long_is_rejected(self):
        before = ledger_snapshot()
        self.assert_error(
            self.post(DEPOSIT, {"amount": "1", "description": "x" * 256}),
            400,
            "max_length",
            "description",
        )
        self.assertEqual(ledger_snapshot(), before)
        self.assertEqual(
            self.post(DEPOSIT, {"amount": "1", "description": "x" * 255}).status_code, 201
        )

    def test_description_of_wrong_type_or_with_nul_is_rejected(self):
        before = ledger_snapshot()
        for description in (None, ["a"], {"a": 1}, "nul\x00byte"):
            with self.subTest(description=description):
                response = self.post(DEPOSIT, {"amount": "1", "description": description})
                self.assertEqual(response.status_code, 400, response.content)
        self.assertEqual(ledger_snapshot(), before)

    def test_balance_cannot_exceed_the_column(self):
        before = ledger_snapshot()
        for amount in ("9999999999999999.99", str(_balance_limit())):
            with self.subTest(amount=amount):
                self.assert_error(
                    self.post(DEPOSIT, {"amount": amount}), 400, "balance_limit_exceeded"
                )
        self.assertEqual(ledger_snapshot(), before)


class BadAmountTests(MoneyApiTestCase):
    """Every bad amount is a 400 naming `amount`, on every money endpoint, and changes nothing."""

    def test_every_bad_amount_is_refused_everywhere(self):
        before = ledger_snapshot()
        for url, extra in ((DEPOSIT, {}), (WITHDRAW, {}), (TRANSFER, {"recipient": "bob"})):
            for name, amount in BAD_AMOUNTS.items():
                with self.subTest(url=url, kind=name):
                    response = self.post(url, {"amount": amount, **extra})
                    self.assertEqual(response.status_code, 400, response.content)
                    body = response.json()
                    self.assertEqual(body["type"], "validation_error")
                    self.assertEqual(body["errors"][0]["attr"], "amount")
            with self.subTest(url=url, kind="missing"):
                self.assert_error(self.post(url, extra), 400, "required", "amount")
        self.assertEqual(ledger_snapshot(), before)

    def test_nan_and_infinity_as_json_literals_are_refused(self):
        before = ledger_snapshot()
        for literal in ("NaN", "Infinity", "-Infinity"):
            with self.subTest(literal=literal):
                response = self.client.post(
                    DEPOSIT, f'{{"amount": {literal}}}', content_type="application/json"
                )
                self.assert_error(response, 400, "parse_error")
        self.assertEqual(ledger_snapshot(), before)

    def test_malformed_json_and_wrong_content_type_change_nothing(self):
        before = ledger_snapshot()
        cases = (
            ('{"amount": "10"', "application/json", 400),
            ('{"amount": "\\ud800"}', "application/json", 400),
            ("[" * 20000, "application/json", 400),
            ("amount=10", "application/x-www-form-urlencoded", 415),
            ("amount=10", "text/plain", 415),
        )
        for body, content_type, status in cases:
            with self.subTest(body=body[:20], content_type=content_type):
                response = self.client.post(DEPOSIT, body, content_type=content_type)
                self.assertEqual(response.status_code, status)
                self.assertEqual(set(response.json()), {"type", "errors"})
        self.assertEqual(ledger_snapshot(), before)


class WithdrawTests(MoneyApiTestCase):
    def test_withdraw_returns_the_operation(self):
        response = self.post(WITHDRAW, {"amount": "40"})
        self.assertEqual(response.status_code, 201)
        body = response.json()
        self.assertEqual(
            (body["type"], body["amount"], body["balance_after"]), ("withdraw", "40.00", "60.00")
        )
        self.assertEqual(balance_of(self.alice), Decimal("60.00"))

    def test_withdraw_everything_leaves_zero(self):
        self.assertEqual(self.post(WITHDRAW, {"amount": "100.00"}).status_code, 201)
        self.assertEqual(balance_of(self.alice), Decimal("0.00"))

    def test_insufficient_funds_changes_nothing(self):
        before = ledger_snapshot()
        for amount in ("100.01", "1000"):
            with self.subTest(amount=amount):
                self.assert_error(
                    self.post(WITHDRAW, {"amount": amount}), 400, "insufficient_funds"
                )
        self.assertEqual(ledger_snapshot(), before)


class TransferTests(MoneyApiTestCase):
    def test_transfer_creates_both_operations(self):
        response = self.post(TRANSFER, {"recipient": "bob", "amount": "30", "description": "rent"})
        self.assertEqual(response.status_code, 201)
        body = response.json()
        self.assertEqual(
            (body["type"], body["amount"], body["balance_after"], body["counterparty"]),
            ("transfer_out", "30.00", "70.00", "bob"),
        )
        incoming = Operation.objects.get(owner=self.bob)
        self.assertEqual(incoming.type, "transfer_in")
        self.assertEqual(incoming.amount, Decimal("30.00"))
        self.assertEqual(incoming.balance_after, Decimal("30.00"))
        self.assertEqual(incoming.counterparty, self.alice)
        self.assertEqual(incoming.description, "rent")
        self.assertEqual(balance_of(self.alice), Decimal("70.00"))
        self.assertEqual(balance_of(self.bob), Decimal("30.00"))

    def test_recipient_is_matched_ignoring_case_and_spaces(self):
        for recipient in ("BOB", "  bob ", "Bob"):
            with self.subTest(recipient=recipient):
                response = self.post(TRANSFER, {"recipient": recipient, "amount": "1"})
                self.assertEqual(response.status_code, 201)
                self.assertEqual(response.json()["counterparty"], "bob")

    def test_transfer_to_self_is_rejected_and_changes_nothing(self):
        before = ledger_snapshot()
        for recipient in ("alice", "ALICE", " Alice "):
            with self.subTest(recipient=recipient):
                self.assert_error(
                    self.post(TRANSFER, {"recipient": recipient, "amount": "1"}),
                    400,
                    "self_transfer",
                )
        self.assertEqual(ledger_snapshot(), before)

    def test_unknown_or_inactive_recipient_is_a_404(self):
        make_user("ghost").__class__.objects.filter(username="ghost").update(is_active=False)
        before = ledger_snapshot()
        for recipient in ("nobody", "ghost", "", " "):
            with self.subTest(recipient=recipient):
                response = self.post(TRANSFER, {"recipient": recipient, "amount": "1"})
                if recipient.strip():
                    self.assert_error(response, 404, "recipient_not_found", "recipient")
                else:
                    self.assertEqual(response.status_code, 400)
        self.assertEqual(ledger_snapshot(), before)

    def test_insufficient_funds_on_transfer_changes_nothing(self):
        before = ledger_snapshot()
        self.assert_error(
            self.post(TRANSFER, {"recipient": "bob", "amount": "100.01"}), 400, "insufficient_funds"
        )
        self.assertEqual(ledger_snapshot(), before)

    def test_recipient_balance_limit_changes_nothing(self):
        rich = make_user("rich", balance=str(_balance_limit() - Decimal("0.50")))
        before = ledger_snapshot()
        self.assert_error(
            self.post(TRANSFER, {"recipient": rich.username, "amount": "1.00"}),
            400,
            "balance_limit_exceeded",
        )
        self.assertEqual(ledger_snapshot(), before)

    def test_recipient_must_be_a_string(self):
        for recipient in (None, ["bob"], {"u": "bob"}):
            with self.subTest(recipient=recipient):
                self.assertEqual(
                    self.post(TRANSFER, {"recipient": recipient, "amount": "1"}).status_code, 400
                )
        self.assert_error(self.post(TRANSFER, {"amount": "1"}), 400, "required", "recipient")


class BalanceTests(MoneyApiTestCase):
    def test_balance_is_a_two_place_string(self):
        self.assertEqual(self.client.get(BALANCE).json(), {"balance": "100.00"})
        self.assertEqual(client_for(self.bob).get(BALANCE).json(), {"balance": "0.00"})

    def test_wrong_method_is_a_405(self):
        self.assert_error(self.client.post(BALANCE, {}, format="json"), 405, "method_not_allowed")
        self.assert_error(self.client.get(DEPOSIT), 405, "method_not_allowed")
