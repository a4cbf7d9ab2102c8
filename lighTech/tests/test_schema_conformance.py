"""Regression tests for what schemathesis found: each response conforms to the published schema.

Every case here was a failure of `scripts/schemathesis.sh` before it was fixed; the
request goes through the real WSGI app and the response is checked by schemathesis' own
conformance checks against the schema the app serves.
"""

import uuid
from decimal import Decimal

import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import TestCase, override_settings
from rest_framework_simplejwt.tokens import AccessToken
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from authapp.models import User
from balance.models import Balance, Operation
from balance.services import deposit

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def header(response, name: str) -> list[str]:
    """A response header's values, whatever the letter case the transport keeps."""
    return {key.lower(): value for key, value in response.headers.items()}[name.lower()]


class SchemaConformanceTests(TestCase):
    """Requests through the WSGI app, responses validated against /api/schema/."""

    @classmethod
    def setUpClass(cls):
        # As Django's test client does: a raw WSGI call would otherwise close the test's
        # database connection at the end of each request.
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        super().setUpClass()
        # The handler itself: get_wsgi_application() would run django.setup() again and
        # reset the logging the test runner configured.
        cls.schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", WSGIHandler())

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)

    @classmethod
    def setUpTestData(cls):
        cls.alice = User.objects.create_user("alice", password=None)  # no email: ""
        cls.bob = User.objects.create_user("bob", password=None)
        deposit(user=cls.alice, amount=Decimal("10.00"))

    def call(self, method: str, path: str, status: int, *, token: str | None = "alice", **kw):  # noqa: S107
        headers = kw.pop("headers", {})
        if token == "alice":
            headers["Authorization"] = f"Bearer {AccessToken.for_user(self.alice)}"
        elif token:
            headers["Authorization"] = f"Bearer {token}"
        if "body" in kw:
            kw.setdefault("media_type", "application/json")
        operation = self.schema[path][method]
        case = operation.Case(headers=headers, **kw)
        response = case.call()
        self.assertEqual(response.status_code, status, response.text)
        case.validate_response(response, checks=CHECKS)
        return response

    def assertNothingMoved(self):
        self.assertEqual(Balance.objects.get(pk=self.alice.pk).amount, Decimal("10.00"))
        self.assertEqual(Operation.objects.count(), 1)

    def test_me_with_an_empty_email_conforms(self):
        # Found: email was published as `format: email` and "" is not one.
        self.assertEqual(self.call("GET", "/api/auth/v1/me/", 200).json()["email"], "")

    def test_non_string_text_fields_are_refused(self):
        # Found: {"description": 0} was accepted and stored as "0".
        for path, body in (
            ("/api/balance/v1/deposit/", {"amount": "1.00", "description": 0}),
            ("/api/balance/v1/transfer/", {"amount": "1.00", "recipient": 1}),
            ("/api/balance/v1/withdraw/", {"amount": "1.00", "description": 1.5}),
        ):
            with self.subTest(path=path):
                self.call("POST", path, 400, body=body)
        for path, body in (
            ("/api/auth/v1/register/", {"username": 12345678, "password": "long enough pw"}),
            ("/api/auth/v1/login/", {"username": "alice", "password": 12345678}),
            ("/api/auth/v1/token/refresh/", {"refresh": 1}),
        ):
            with self.subTest(path=path):
                self.call("POST", path, 400, body=body, token=None)
        self.assertNothingMoved()

    def test_amount_refusals_carry_documented_codes(self):
        # Found: min_value, max_value, max_decimal_places were not in the 400 schema.
        for amount in ("0", "0.001", "99999999999999999", "abc", "\u0663", "\x1c5", "-1"):
            with self.subTest(amount=amount):
                self.call("POST", "/api/balance/v1/deposit/", 400, body={"amount": amount})
        self.assertNothingMoved()

    def test_business_errors_conform(self):
        self.call("POST", "/api/balance/v1/withdraw/", 400, body={"amount": "11.00"})
        transfer = "/api/balance/v1/transfer/"
        self.call("POST", transfer, 400, body={"amount": "1.00", "recipient": " ALICE "})
        self.call("POST", transfer, 400, body={"amount": "11.00", "recipient": "bob"})
        response = self.call("POST", transfer, 404, body={"amount": "1", "recipient": "nobody"})
        self.assertEqual(response.json()["errors"][0]["code"], "recipient_not_found")
        self.assertNothingMoved()

    def test_bad_idempotency_keys_conform(self):
        # Found: the 400 for a malformed Idempotency-Key named an attr the schema did not list.
        for key in ("", "x" * 256, "tab\there"):
            for path in ("/api/balance/v1/deposit/", "/api/balance/v1/withdraw/"):
                with self.subTest(key=key[:10], path=path):
                    response = self.call(
                        "POST", path, 400, body={"amount": "1.00"}, headers={"Idempotency-Key": key}
                    )
                    self.assertEqual(response.json()["errors"][0]["attr"], "Idempotency-Key")
        self.assertNothingMoved()

    def test_moments_with_offsets_postgresql_refuses_are_answered(self):
        # Found: ?created_after=2000-01-01T00:30:13+20:02 was a 500 (PostgreSQL's offsets end at
        # +-15:59); moments are now sent in UTC, and those outside years 1-9999 in UTC are a 400.
        url = "/api/balance/v1/operations/"
        for moment in ("2000-01-01T00:30:13+20:02", "2000-01-01T00:30:13-23:59"):
            with self.subTest(moment=moment):
                self.call("GET", url, 200, query={"created_after": moment})
                self.call("GET", url, 200, query={"created_before": moment})
        for moment in ("0001-01-01T00:00:00+05:00", "9999-12-31T23:00:00-05:00"):
            with self.subTest(moment=moment):
                self.call("GET", url, 400, query={"created_after": moment})

    def test_operation_filters_refuse_empty_and_bad_values(self):
        # Found: `?type=` was taken as "no filter"; cursor errors were not in the schema.
        for query in (
            {"type": ""},
            {"type": "refund"},
            {"cursor": "0"},
            {"cursor": ""},
            {"page_size": "0"},
            {"page_size": ""},
            {"created_after": "yesterday"},
            {"created_before": ""},
        ):
            with self.subTest(query=query):
                self.call("GET", "/api/balance/v1/operations/", 400, query=query)

    def test_unauthorized_answers_conform_with_one_error_and_the_header(self):
        # Found: an invalid token answered five errors (simplejwt's dict detail flattened),
        # and the token endpoints' 401s had no WWW-Authenticate and were not in the schema.
        for token in ("garbage", str(AccessToken.for_user(self.alice)) + "x", None):
            with self.subTest(token=str(token)[:12]):
                response = self.call("GET", "/api/balance/v1/balance/", 401, token=token)
                self.assertEqual(len(response.json()["errors"]), 1)
                self.assertEqual(header(response, "WWW-Authenticate"), ['Bearer realm="api"'])
        login = {"username": "alice", "password": "wrong password"}
        self.call("POST", "/api/auth/v1/login/", 401, body=login, token=None)
        self.call("POST", "/api/auth/v1/token/refresh/", 401, body={"refresh": "x"}, token=None)

    def test_registration_and_password_errors_conform(self):
        # Found: the password validators' codes were not in the 400 schema.
        register = {"username": "carol", "password": "123"}
        self.call("POST", "/api/auth/v1/register/", 400, body=register, token=None)
        self.call("POST", "/api/auth/v1/register/", 400, body={"username": "ALICE"}, token=None)
        change = {"old_password": "wrong", "new_password": "short"}
        self.call("POST", "/api/auth/v1/password/", 400, body=change)

    def test_oversized_bodies_conform(self):
        # 413 was not in the schema of any POST endpoint.
        body = {"amount": "1.00", "description": "x" * 70_000}
        self.call("POST", "/api/balance/v1/deposit/", 413, body=body)
        self.call("POST", "/api/auth/v1/login/", 413, body={"username": "x" * 70_000}, token=None)
        self.assertNothingMoved()

    def test_session_endpoints_conform(self):
        self.call("GET", "/api/auth/v1/sessions/", 200)
        path = "/api/auth/v1/sessions/{session_id}/"
        self.call("DELETE", path, 404, path_parameters={"session_id": str(uuid.uuid4())})
        self.call("POST", "/api/auth/v1/logout/all/", 204)

    @override_settings(
        THROTTLE_RATES={"login_username": "5/min", "auth_ip": "1/hour", "money_user": "1/hour"},
        CACHES={
            "default": {
                "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                "LOCATION": f"conformance-{uuid.uuid4()}",
            }
        },
    )
    def test_throttled_answers_conform_with_retry_after(self):
        self.call("POST", "/api/balance/v1/deposit/", 201, body={"amount": "1.00"})
        response = self.call("POST", "/api/balance/v1/deposit/", 429, body={"amount": "1.00"})
        self.assertTrue(int(header(response, "Retry-After")[0]) >= 1)
