"""Registration over HTTP: success, duplicates in any letter case, weak passwords, bad input."""

from django.test import TestCase
from rest_framework.test import APIClient

from authapp.models import User
from balance.models import Balance
from lighTech.testing import STRONG_PASSWORD

URL = "/api/auth/v1/register/"


class RegisterTests(TestCase):
    def setUp(self):
        self.client = APIClient()

    def register(self, **body):
        return self.client.post(URL, body, format="json")

    def assert_field_error(self, response, attr, code=None):
        self.assertEqual(response.status_code, 400, response.content)
        body = response.json()
        self.assertEqual(body["type"], "validation_error")
        attrs = {(e["attr"], e["code"]) for e in body["errors"]}
        self.assertIn(attr, {a for a, _ in attrs})
        if code is not None:
            self.assertIn((attr, code), attrs)

    def test_register_creates_user_and_zero_balance(self):
        response = self.register(username="alice", password=STRONG_PASSWORD, email="a@example.com")
        self.assertEqual(response.status_code, 201)
        body = response.json()
        self.assertEqual(set(body), {"id", "username", "email"})
        self.assertEqual(body["username"], "alice")
        self.assertEqual(body["email"], "a@example.com")
        user = User.objects.get(pk=body["id"])
        self.assertTrue(user.check_password(STRONG_PASSWORD))
        self.assertEqual(str(Balance.objects.get(user=user).amount), "0.00")

    def test_email_is_optional(self):
        response = self.register(username="bob", password=STRONG_PASSWORD)
        self.assertEqual(response.status_code, 201)
        self.assertEqual(response.json()["email"], "")

    def test_duplicate_username_is_rejected(self):
        self.register(username="alice", password=STRONG_PASSWORD)
        response = self.register(username="alice", password=STRONG_PASSWORD)
        self.assert_field_error(response, "username", "unique")
        self.assertEqual(User.objects.count(), 1)

    def test_same_username_in_other_letter_case_is_rejected(self):
        self.register(username="alice", password=STRONG_PASSWORD)
        for variant in ("Alice", "ALICE", "aLiCe"):
            with self.subTest(variant=variant):
                self.assert_field_error(
                    self.register(username=variant, password=STRONG_PASSWORD), "username", "unique"
                )
        self.assertEqual(User.objects.count(), 1)
        self.assertEqual(Balance.objects.count(), 1)

    def test_each_kind_of_weak_password_is_rejected(self):
        cases = {
            "password_too_short": "Ab1-x",
            "password_too_common": "password123",
            "password_entirely_numeric": "4829173650192",
            "password_too_similar": "carolcarol1",
        }
        for code, password in cases.items():
            with self.subTest(code=code):
                response = self.register(username="carolcarol", password=password)
                self.assert_field_error(response, "password", code)
        self.assertFalse(User.objects.exists())

    def test_missing_fields_are_rejected(self):
        for body, attr in (
            ({"password": STRONG_PASSWORD}, "username"),
            ({"username": "dave"}, "password"),
        ):
            with self.subTest(missing=attr):
                self.assert_field_error(self.register(**body), attr, "required")
        self.assert_field_error(self.client.post(URL, {}, format="json"), "username", "required")
        self.assertFalse(User.objects.exists())

    def test_invalid_email_is_rejected(self):
        for email in ("not-an-email", "a@", "@b.c", 12):
            with self.subTest(email=email):
                response = self.register(username="erin", password=STRONG_PASSWORD, email=email)
                self.assert_field_error(response, "email")
        self.assertFalse(User.objects.exists())

    def test_invalid_usernames_are_rejected(self):
        for username in ("", "with space", "x" * 151, None, ["alice"], {"a": 1}, "bad/slash"):
            with self.subTest(username=username):
                response = self.register(username=username, password=STRONG_PASSWORD)
                self.assert_field_error(response, "username")
        self.assertFalse(User.objects.exists())

    def test_non_json_bodies_are_rejected(self):
        response = self.client.post(URL, "{not json", content_type="application/json")
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.json()["errors"][0]["code"], "parse_error")
        response = self.client.post(URL, [1, 2], format="json")
        self.assertEqual(response.status_code, 400)
        response = self.client.post(
            URL, "username=a", content_type="application/x-www-form-urlencoded"
        )
        self.assertEqual(response.status_code, 415)
        self.assertFalse(User.objects.exists())
