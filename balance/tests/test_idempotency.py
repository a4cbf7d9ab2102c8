"""Idempotency-Key on deposit/, withdraw/ and transfer/: replay, reuse, scope, validation, purge."""

import http.client
import json
from datetime import timedelta
from decimal import Decimal
from io import StringIO

from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import LiveServerTestCase, TestCase
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from authapp.models import User
from balance.idempotency import request_fingerprint
from balance.models import Balance, IdempotencyKey, Operation
from balance.services import balance_open

DEPOSIT = "/api/balance/v1/deposit/"
WITHDRAW = "/api/balance/v1/withdraw/"
TRANSFER = "/api/balance/v1/transfer/"


def make_user(username: str) -> User:
    # No password: hashing one costs more than the whole test.
    user = User.objects.create(username=username)
    balance_open(user=user)
    return user


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


class IdempotencyKeyTests(TestCase):
    """The first answer to a key is the only one: same status, same body, no second move."""

    def setUp(self):
        self.alice = make_user("alice")
        self.bob = make_user("bob")
        self.client = client_for(self.alice)

    def post(self, path, body, key, client=None):
        client = client or self.client
        headers = {} if key is None else {"Idempotency-Key": key}
        return client.post(path, body, format="json", headers=headers)

    def balance(self, user) -> Decimal:
        return Balance.objects.get(user=user).amount

    def test_same_key_same_body_replays_the_first_response_and_moves_money_once(self):
        for path, body in (
            (DEPOSIT, {"amount": "50.00", "description": "salary"}),
            (WITHDRAW, {"amount": "10.00"}),
            (TRANSFER, {"recipient": "bob", "amount": "5.00"}),
        ):
            with self.subTest(path=path):
                key = f"key-{path}"
                first = self.post(path, body, key)
                second = self.post(path, body, key)
                self.assertEqual(first.status_code, 201, first.content)
                self.assertNotIn("Idempotent-Replayed", first.headers)
                self.assertEqual(second.status_code, 201)
                self.assertEqual(second.headers["Idempotent-Replayed"], "true")
                self.assertEqual(second.content, first.content)
        self.assertEqual(self.balance(self.alice), Decimal("35.00"))
        self.assertEqual(self.balance(self.bob), Decimal("5.00"))
        self.assertEqual(Operation.objects.filter(owner=self.alice).count(), 3)
        self.assertEqual(Operation.objects.filter(owner=self.bob).count(), 1)

    def test_a_refused_request_is_replayed_even_after_it_would_succeed(self):
        refused = self.post(WITHDRAW, {"amount": "10.00"}, "w-1")
        self.assertEqual(refused.status_code, 400)
        self.assertEqual(refused.json()["errors"][0]["code"], "insufficient_funds")
        self.post(DEPOSIT, {"amount": "100.00"}, None)
        again = self.post(WITHDRAW, {"amount": "10.00"}, "w-1")
        self.assertEqual(again.status_code, 400)
        self.assertEqual(again.content, refused.content)
        self.assertEqual(again.headers["Idempotent-Replayed"], "true")
        self.assertEqual(self.balance(self.alice), Decimal("100.00"))

    def test_business_and_validation_errors_of_every_kind_are_replayed(self):
        cases = [
            (TRANSFER, {"recipient": "ALICE ", "amount": "1.00"}, 400, "self_transfer"),
            (TRANSFER, {"recipient": "nobody", "amount": "1.00"}, 404, "recipient_not_found"),
            (DEPOSIT, {"amount": "0"}, 400, "min_value"),
            (DEPOSIT, {"amount": "1.001"}, 400, "max_decimal_places"),
            (DEPOSIT, {"amount": "NaN"}, 400, "invalid"),
            (DEPOSIT, {}, 400, "required"),
            (DEPOSIT, {"amount": "1", "description": "x" * 256}, 400, "max_length"),
        ]
        for number, (path, body, status, code) in enumerate(cases):
            with self.subTest(body=body):
                first = self.post(path, body, f"bad-{number}")
                second = self.post(path, body, f"bad-{number}")
                self.assertEqual(first.status_code, status, first.content)
                self.assertEqual(first.json()["errors"][0]["code"], code)
                self.assertEqual(second.status_code, status)
                self.assertEqual(second.content, first.content)
                self.assertEqual(second.headers["Idempotent-Replayed"], "true")
        self.assertFalse(Operation.objects.exists())
        self.assertEqual(IdempotencyKey.objects.count(), len(cases))

    def test_same_key_with_another_body_or_endpoint_answers_409_and_changes_nothing(self):
        self.assertEqual(self.post(DEPOSIT, {"amount": "10.00"}, "k").status_code, 201)
        for path, body in (
            (DEPOSIT, {"amount": "11.00"}),
            (DEPOSIT, {"amount": "10.00", "description": "other"}),
            # A JSON number is a different body from a string, even for the same amount.
            (DEPOSIT, {"amount": 10.0}),
            (WITHDRAW, {"amount": "10.00"}),
            (TRANSFER, {"recipient": "bob", "amount": "10.00"}),
        ):
            with self.subTest(path=path, body=body):
                response = self.post(path, body, "k")
                self.assertEqual(response.status_code, 409)
                self.assertEqual(
                    response.json(),
                    {
                        "type": "client_error",
                        "errors": [
                            {
                                "code": "idempotency_key_reused",
                                "detail": response.json()["errors"][0]["detail"],
                                "attr": None,
                            }
                        ],
                    },
                )
        self.assertEqual(self.balance(self.alice), Decimal("10.00"))
        self.assertEqual(Operation.objects.count(), 1)

    def test_body_key_order_and_whitespace_do_not_change_the_request(self):
        first = self.client.post(
            DEPOSIT,
            data='{"amount": "7.00", "description": "d"}',
            content_type="application/json",
            headers={"Idempotency-Key": "order"},
        )
        second = self.client.post(
            DEPOSIT,
            data='{ "description":"d","amount":"7.00" }',
            content_type="application/json",
            headers={"Idempotency-Key": "order"},
        )
        self.assertEqual(first.status_code, 201)
        self.assertEqual(second.status_code, 201)
        self.assertEqual(second.headers["Idempotent-Replayed"], "true")
        self.assertEqual(self.balance(self.alice), Decimal("7.00"))

    def test_keys_are_scoped_to_the_user(self):
        self.post(DEPOSIT, {"amount": "10.00"}, "shared")
        response = self.post(DEPOSIT, {"amount": "10.00"}, "shared", client_for(self.bob))
        self.assertEqual(response.status_code, 201)
        self.assertNotIn("Idempotent-Replayed", response.headers)
        self.assertEqual(self.balance(self.alice), Decimal("10.00"))
        self.assertEqual(self.balance(self.bob), Decimal("10.00"))

    def test_invalid_keys_answer_400_in_the_envelope_and_change_nothing(self):
        for key in ("", "x" * 256, "tab\tinside"):
            with self.subTest(length=len(key)):
                response = self.post(DEPOSIT, {"amount": "10.00"}, key)
                self.assertEqual(response.status_code, 400, response.content)
                body = response.json()
                self.assertEqual(body["type"], "validation_error")
                self.assertEqual(body["errors"][0]["code"], "invalid")
                self.assertEqual(body["errors"][0]["attr"], "Idempotency-Key")
        self.assertFalse(Operation.objects.exists())
        self.assertFalse(IdempotencyKey.objects.exists())

    def test_a_key_of_255_characters_and_any_printable_text_is_accepted(self):
        for key in ("k" * 255, "ключ платежа 1", "a/b:c?d=e"):
            with self.subTest(key=key[:20]):
                self.assertEqual(self.post(DEPOSIT, {"amount": "1.00"}, key).status_code, 201)
                replay = self.post(DEPOSIT, {"amount": "1.00"}, key)
                self.assertEqual(replay.headers["Idempotent-Replayed"], "true")
        self.assertEqual(self.balance(self.alice), Decimal("3.00"))

    def test_requests_without_the_header_never_touch_the_key_table(self):
        with CaptureQueriesContext(connection) as queries:
            self.assertEqual(self.post(DEPOSIT, {"amount": "1.00"}, None).status_code, 201)
        self.assertFalse([q for q in queries.captured_queries if "idempotencykey" in q["sql"]])
        self.assertFalse(IdempotencyKey.objects.exists())

    def test_a_database_failure_during_the_operation_keeps_no_key_and_a_retry_executes(self):
        # A real error raised by PostgreSQL inside the operation's INSERT: the key, claimed
        # earlier in the same transaction, must disappear with it.
        if connection.vendor != "postgresql":
            self.skipTest("uses a PL/pgSQL trigger")
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'refused by test'; END $$"
            )
            cursor.execute(
                "CREATE TRIGGER test_refuse BEFORE INSERT ON balance_operation "
                "FOR EACH ROW EXECUTE FUNCTION test_refuse()"
            )
        self.client.raise_request_exception = False
        with self.assertLogs("django.request", "ERROR"):
            failed = self.post(DEPOSIT, {"amount": "10.00"}, "crash")
        self.assertEqual(failed.status_code, 500)
        self.assertFalse(IdempotencyKey.objects.exists())
        self.assertEqual(self.balance(self.alice), Decimal("0.00"))
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER test_refuse ON balance_operation")
        retried = self.post(DEPOSIT, {"amount": "10.00"}, "crash")
        self.assertEqual(retried.status_code, 201)
        self.assertNotIn("Idempotent-Replayed", retried.headers)
        self.assertEqual(self.balance(self.alice), Decimal("10.00"))
        self.assertEqual(IdempotencyKey.objects.get().response_status, 201)

    def test_a_key_without_an_answer_yet_answers_409_in_use(self):
        # Only reachable in a race with the purge; the row stands in for that moment.
        IdempotencyKey.objects.create(
            user=self.alice,
            key="pending",
            fingerprint=request_fingerprint(method="POST", path=DEPOSIT, body={"amount": "1.00"}),
        )
        response = self.post(DEPOSIT, {"amount": "1.00"}, "pending")
        self.assertEqual(response.status_code, 409)
        self.assertEqual(response.json()["errors"][0]["code"], "idempotency_key_in_use")
        self.assertFalse(Operation.objects.exists())

    def test_unauthenticated_requests_with_a_key_answer_401_and_keep_nothing(self):
        response = APIClient().post(
            DEPOSIT, {"amount": "1.00"}, format="json", headers={"Idempotency-Key": "x"}
        )
        self.assertEqual(response.status_code, 401)
        self.assertFalse(IdempotencyKey.objects.exists())


class PurgeIdempotencyKeysTests(TestCase):
    """purge_idempotency_keys deletes keys past the retention window and nothing younger."""

    def setUp(self):
        self.user = make_user("carol")

    def key(self, name: str, age: timedelta) -> IdempotencyKey:
        return IdempotencyKey.objects.create(
            user=self.user,
            key=name,
            fingerprint="0" * 64,
            response_status=201,
            response_body="{}",
            created_at=timezone.now() - age,
        )

    def test_default_retention_is_24_hours(self):
        self.key("old", timedelta(hours=24, minutes=1))
        self.key("young", timedelta(hours=23, minutes=59))
        out = StringIO()
        call_command("purge_idempotency_keys", stdout=out)
        self.assertIn("Deleted 1 ", out.getvalue())
        self.assertEqual(list(IdempotencyKey.objects.values_list("key", flat=True)), ["young"])

    def test_older_than_sets_the_window_and_cannot_go_below_24_hours(self):
        self.key("two-days", timedelta(hours=49))
        self.key("one-day", timedelta(hours=25))
        call_command("purge_idempotency_keys", "--older-than", "48", stdout=StringIO())
        self.assertEqual(list(IdempotencyKey.objects.values_list("key", flat=True)), ["one-day"])
        with self.assertRaises(CommandError):
            call_command("purge_idempotency_keys", "--older-than", "1", stdout=StringIO())
        self.assertEqual(IdempotencyKey.objects.count(), 1)


class IdempotencySchemaTests(TestCase):
    """The OpenAPI schema documents the header and the 409 answers on the three endpoints."""

    def test_schema_documents_the_header_and_409(self):
        schema = self.client.get("/api/schema/", headers={"Accept": "application/json"})
        self.assertEqual(schema.status_code, 200)
        paths = schema.json()["paths"]
        for path in (DEPOSIT, WITHDRAW, TRANSFER):
            with self.subTest(path=path):
                post = paths[path]["post"]
                headers = [p for p in post["parameters"] if p["in"] == "header"]
                self.assertEqual([h["name"] for h in headers], ["Idempotency-Key"])
                self.assertFalse(headers[0].get("required", False))
                self.assertIn("409", post["responses"])


class IdempotencyOverHTTPTests(LiveServerTestCase):
    """The same contract over a real socket: headers, bytes and statuses as a client sees them."""

    def setUp(self):
        self.alice = make_user("alice")
        self.token = str(RefreshToken.for_user(self.alice).access_token)

    def post(self, path: str, body: bytes, key: str | None):
        host, port = self.server_thread.host, self.server_thread.port
        conn = http.client.HTTPConnection(host, port, timeout=30)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.getheader("Idempotent-Replayed"), response.read()
        finally:
            conn.close()

    def test_replay_reuse_and_invalid_keys_over_http(self):
        body = b'{"amount": "12.50", "description": "rent"}'
        status, replayed, first = self.post(DEPOSIT, body, "http-1")
        self.assertEqual((status, replayed), (201, None))
        status, replayed, again = self.post(DEPOSIT, body, "http-1")
        self.assertEqual((status, replayed, again), (201, "true", first))

        status, _, content = self.post(DEPOSIT, b'{"amount": "12.51"}', "http-1")
        self.assertEqual(status, 409)
        self.assertEqual(json.loads(content)["errors"][0]["code"], "idempotency_key_reused")

        status, _, content = self.post(WITHDRAW, b'{"amount": "99.00"}', "http-2")
        status2, replayed, content2 = self.post(WITHDRAW, b'{"amount": "99.00"}', "http-2")
        self.assertEqual((status, status2, replayed, content2), (400, 400, "true", content))

        status, _, content = self.post(DEPOSIT, body, "k" * 256)
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(content)["errors"][0]["attr"], "Idempotency-Key")

        status, replayed, _ = self.post(DEPOSIT, body, None)
        self.assertEqual((status, replayed), (201, None))
        self.assertEqual(self.balance_of_alice(), Decimal("25.00"))

    def balance_of_alice(self) -> Decimal:
        return Balance.objects.get(user=self.alice).amount
