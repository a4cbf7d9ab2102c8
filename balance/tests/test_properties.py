"""Property-based tests: the amount parser, and money movements over any sequence of requests."""

import json
import re
from decimal import Decimal

from django.db import connection
from django.test import SimpleTestCase
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase
from rest_framework.test import APIClient

from authapp.models import User
from balance.models import Balance, Operation
from balance.money import (
    AMOUNT_PATTERN,
    MONEY_MAX,
    MONEY_QUANTUM,
    SQLITE_MONEY_MAX,
    AmountError,
    parse_amount,
)

CODES = {"invalid", "min_value", "max_decimal_places", "max_value"}
CENTS_MAX = int(MONEY_MAX * 100)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.floats(),
    st.text(max_size=30),
    st.text(alphabet="0123456789+-. \t\n\r\x1c\u0663e", max_size=25),
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=5,
)


def amount_texts(cents: int) -> st.SearchStrategy[str]:
    """The ways a client may write an amount of `cents` as a string."""
    whole, frac = divmod(cents, 100)
    forms = [f"{whole}.{frac:02d}"]
    if frac == 0:
        forms += [str(whole), f"{whole}.", f"{whole}.0"]
    elif frac % 10 == 0:
        forms.append(f"{whole}.{frac // 10}")
    if whole == 0:
        forms.append(f".{frac:02d}")
    return st.sampled_from(forms).flatmap(
        lambda text: st.tuples(
            st.sampled_from(["", "+"]),
            st.text(" \t\n\r", max_size=2),
            st.text(" \t\n\r", max_size=2),
        ).map(lambda parts: f"{parts[1]}{parts[0]}{text}{parts[2]}")
    )


valid_cents = st.one_of(
    st.integers(min_value=1, max_value=10_000),
    st.integers(min_value=1, max_value=CENTS_MAX),
    st.integers(min_value=CENTS_MAX - 1000, max_value=CENTS_MAX),
)


class ParseAmountPropertyTests(SimpleTestCase):
    """parse_amount: a refusal with a known code, or the exact value with two places."""

    @settings(max_examples=300, deadline=None)
    @given(json_values)
    def test_any_json_value_is_refused_or_parsed_exactly(self, value):
        try:
            amount = parse_amount(value)
        except AmountError as exc:
            self.assertIn(exc.code, CODES)
            return
        self.assertIsInstance(value, str | int | Decimal)
        self.assertNotIsInstance(value, bool)
        self.assertTrue(Decimal("0.01") <= amount <= MONEY_MAX)
        self.assertEqual(amount.as_tuple().exponent, -2)
        original = Decimal(value.strip(" \t\n\r") if isinstance(value, str) else value)
        self.assertEqual(amount, original)  # never rounded

    @settings(max_examples=200, deadline=None)
    @given(st.text(max_size=30) | st.text(alphabet="0123456789+-. \t\x1c\u0663", max_size=25))
    def test_the_published_pattern_admits_every_string_the_parser_accepts(self, text):
        try:
            parse_amount(text)
        except AmountError:
            return
        self.assertRegex(text, re.compile(AMOUNT_PATTERN))

    @settings(max_examples=200, deadline=None)
    @given(valid_cents.flatmap(lambda c: st.tuples(st.just(c), amount_texts(c))))
    def test_every_way_of_writing_a_valid_amount_gives_that_amount(self, case):
        cents, text = case
        expected = Decimal(cents) * MONEY_QUANTUM
        self.assertEqual(parse_amount(text), expected)
        self.assertEqual(str(parse_amount(text)), f"{expected:.2f}")
        self.assertEqual(parse_amount(expected), expected)
        if cents % 100 == 0:
            self.assertEqual(parse_amount(cents // 100), expected)

    @settings(max_examples=200, deadline=None)
    @given(st.decimals(min_value=Decimal("-1e20"), max_value=Decimal("1e20"), places=3))
    def test_three_places_are_refused_unless_the_third_is_zero(self, value):
        assume(value != 0)
        text = f"{value:.3f}"
        if text.endswith("0") or value <= 0 or value > MONEY_MAX:
            return
        with self.assertRaises(AmountError) as caught:
            parse_amount(text)
        self.assertEqual(caught.exception.code, "max_decimal_places")


def raw_number(value: Decimal) -> str:
    return format(value, "f")


amount_payloads = st.one_of(
    valid_cents.map(lambda c: ("string", f"{Decimal(c) * MONEY_QUANTUM}")),
    valid_cents.map(lambda c: ("number", raw_number(Decimal(c) * MONEY_QUANTUM))),
    st.integers(min_value=-500, max_value=0).map(lambda i: ("number", str(i))),
    st.sampled_from(["0.001", "1e3", "NaN", "-0", "1,5", "", "9" * 19]).map(
        lambda t: ("string", t)
    ),
    st.sampled_from(["null", "true", "[1]", '{"a": 1}', "1.005", "1e2"]).map(
        lambda raw: ("number", raw)
    ),
)
steps = st.lists(
    st.tuples(
        st.sampled_from(["deposit", "withdraw", "transfer"]),
        st.integers(min_value=0, max_value=2),
        st.integers(min_value=0, max_value=2),
        amount_payloads,
    ),
    min_size=1,
    max_size=8,
)


def request_body(kind: str, payload: tuple[str, str], recipient: str) -> str:
    form, text = payload
    amount = json.dumps(text) if form == "string" else text
    body = f'{{"amount": {amount}, "description": "prop"'
    if kind == "transfer":
        body += f", {json.dumps('recipient')}: {json.dumps(recipient)}"
    return body + "}"


def expected_amount(payload: tuple[str, str]) -> Decimal | None:
    form, text = payload
    try:
        value = json.loads(text, parse_float=Decimal) if form == "number" else text
    except ValueError:
        return None
    try:
        return parse_amount(value)
    except AmountError:
        return None


class MoneyServicePropertyTests(HypothesisTestCase):
    """Any sequence of deposits, withdrawals and transfers, valid or not, over HTTP."""

    @classmethod
    def setUpTestData(cls):
        cls.users = [User.objects.create_user(f"prop{i}", password=None) for i in range(3)]
        Balance.objects.bulk_create([Balance(user=user) for user in cls.users])
        # One client per user for the whole class: a new client loads the middleware again.
        cls.clients = {}
        for user in cls.users:
            cls.clients[user.pk] = APIClient()
            cls.clients[user.pk].force_authenticate(user)

    @settings(
        max_examples=80,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(steps)
    def test_every_request_is_a_clean_400_or_an_exact_movement(self, sequence):
        # The services' balance ceiling: SQLite's decimals are exact to 15 digits only.
        ceiling = MONEY_MAX if connection.vendor == "postgresql" else SQLITE_MONEY_MAX
        model = {user.pk: Decimal("0.00") for user in self.users}
        operations = 0
        for kind, actor_index, target_index, payload in sequence:
            actor, target = self.users[actor_index], self.users[target_index]
            response = self.clients[actor.pk].post(
                f"/api/balance/v1/{kind}/",
                request_body(kind, payload, f"  {target.username.upper()} "),
                content_type="application/json",
            )
            amount = expected_amount(payload)
            error = None
            if amount is None:
                error = "validation_error"
            elif kind == "withdraw" and model[actor.pk] < amount:
                error = "insufficient_funds"
            elif kind == "transfer" and actor == target:
                error = "self_transfer"
            elif kind == "transfer" and model[actor.pk] < amount:
                error = "insufficient_funds"
            elif kind in ("deposit", "transfer"):
                credited = actor if kind == "deposit" else target
                if model[credited.pk] + amount > ceiling:
                    error = "balance_limit_exceeded"

            if error is None:
                self.assertEqual(response.status_code, 201, (payload, response.content))
                body = response.json()
                self.assertEqual(Decimal(body["amount"]), amount)
                if kind == "deposit":
                    model[actor.pk] += amount
                    operations += 1
                elif kind == "withdraw":
                    model[actor.pk] -= amount
                    operations += 1
                else:
                    model[actor.pk] -= amount
                    model[target.pk] += amount
                    operations += 2
                self.assertEqual(Decimal(body["balance_after"]), model[actor.pk])
            else:
                self.assertEqual(response.status_code, 400, (payload, response.content))
                data = response.json()
                if error == "validation_error":
                    self.assertEqual(data["type"], "validation_error")
                    self.assertEqual(data["errors"][0]["attr"], "amount")
                else:
                    self.assertEqual(data["errors"][0]["code"], error)

            # After every request, valid or not: the database is the model.
            balances = dict(Balance.objects.values_list("pk", "amount"))
            self.assertEqual(balances, model)
            self.assertEqual(Operation.objects.count(), operations)

        for user in self.users:
            last = Operation.objects.filter(owner=user).order_by("-created_at", "-id").first()
            expected = last.balance_after if last else Decimal("0.00")
            self.assertEqual(model[user.pk], expected)
            self.assertGreaterEqual(model[user.pk], 0)
