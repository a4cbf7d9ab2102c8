"""Sessions: listing, ending one or all, password change, deactivated users, refresh rotation."""

import threading
import uuid
from decimal import Decimal
from unittest import skipUnless

from django.db import connection
from django.test import Client, TestCase, TransactionTestCase
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from authapp.models import Session, User
from balance.models import Balance, Operation
from balance.services import deposit

PASSWORD = "correct horse battery staple"
AUTH = "/api/auth/v1/"


def login(client: APIClient, username: str, password: str = PASSWORD, **extra):
    return client.post(
        f"{AUTH}login/", {"username": username, "password": password}, format="json", **extra
    )


def tokens(client: APIClient, username: str, **extra) -> dict:
    response = login(client, username, **extra)
    assert response.status_code == 200, response.content
    return response.json()


def bearer(access: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {access}"}


def refresh(client: APIClient, token: str):
    return client.post(f"{AUTH}token/refresh/", {"refresh": token}, format="json")


class SessionTestCase(TestCase):
    """Two users, alice and bob, who log in over HTTP."""

    @classmethod
    def setUpTestData(cls):
        cls.alice = User.objects.create_user("alice", password=PASSWORD)
        cls.bob = User.objects.create_user("bob", password=PASSWORD)

    def setUp(self):
        self.client = APIClient()

    def sessions(self, access: str):
        response = self.client.get(f"{AUTH}sessions/", **bearer(access))
        self.assertEqual(response.status_code, 200, response.content)
        return response.json()

    def assertError(self, response, status: int, code: str, attr=None):
        self.assertEqual(response.status_code, status, response.content)
        errors = response.json()["errors"]
        self.assertEqual(len(errors), 1, errors)
        self.assertEqual(errors[0]["code"], code)
        self.assertEqual(errors[0]["attr"], attr)


class SessionListTests(SessionTestCase):
    def test_login_starts_a_session_listed_with_its_origin_and_marked_current(self):
        pair = tokens(self.client, "alice", HTTP_USER_AGENT="Firefox/130", REMOTE_ADDR="10.1.2.3")

        listed = self.sessions(pair["access"])

        self.assertEqual(len(listed), 1)
        session = listed[0]
        self.assertEqual(
            set(session),
            {"id", "created_at", "last_refreshed_at", "expires_at", "user_agent", "ip", "current"},
        )
        self.assertEqual(session["user_agent"], "Firefox/130")
        self.assertEqual(session["ip"], "10.1.2.3")
        self.assertIsNone(session["last_refreshed_at"])
        self.assertTrue(session["current"])
        self.assertEqual(RefreshToken(pair["refresh"])["sid"], session["id"])

    def test_each_login_is_its_own_session_and_only_the_callers_are_listed(self):
        first = tokens(self.client, "alice")
        second = tokens(self.client, "alice")
        tokens(self.client, "bob")

        listed = self.sessions(second["access"])

        self.assertEqual(len(listed), 2)
        current = {s["id"]: s["current"] for s in listed}
        self.assertTrue(current[RefreshToken(second["refresh"])["sid"]])
        self.assertFalse(current[RefreshToken(first["refresh"])["sid"]])

    def test_forwarded_for_header_is_ignored_without_trusted_proxies(self):
        pair = tokens(self.client, "alice", HTTP_X_FORWARDED_FOR="6.6.6.6", REMOTE_ADDR="10.0.0.9")

        self.assertEqual(self.sessions(pair["access"])[0]["ip"], "10.0.0.9")

    def test_sessions_need_a_valid_access_token(self):
        response = self.client.get(f"{AUTH}sessions/")
        self.assertError(response, 401, "not_authenticated")
        self.assertTrue(response["WWW-Authenticate"].startswith("Bearer"))


class RefreshTests(SessionTestCase):
    def test_refresh_rotates_within_the_session_and_records_when(self):
        pair = tokens(self.client, "alice")
        sid = RefreshToken(pair["refresh"])["sid"]

        response = refresh(self.client, pair["refresh"])

        self.assertEqual(response.status_code, 200, response.content)
        rotated = response.json()
        self.assertEqual(RefreshToken(rotated["refresh"])["sid"], sid)
        listed = self.sessions(rotated["access"])
        self.assertEqual([s["id"] for s in listed], [sid])
        self.assertIsNotNone(listed[0]["last_refreshed_at"])
        self.assertTrue(listed[0]["current"])
        # The rotated-away token is dead.
        self.assertError(refresh(self.client, pair["refresh"]), 401, "token_not_valid")

    def test_refresh_errors_are_one_error_with_www_authenticate(self):
        for token in ("not-a-token", "", tokens(self.client, "alice")["access"]):
            with self.subTest(token=token[:10]):
                response = refresh(self.client, token)
                if token == "":
                    self.assertError(response, 400, "blank", "refresh")
                    continue
                self.assertError(response, 401, "token_not_valid")
                self.assertEqual(response["WWW-Authenticate"], 'Bearer realm="api"')

    def test_refresh_token_of_a_deleted_user_is_401_not_500(self):
        # simplejwt's own refresh looked the user up with .get(): DoesNotExist, a 500.
        User.objects.create_user("temp", password=PASSWORD)
        pair = tokens(self.client, "temp")
        legacy = RefreshToken.for_user(User.objects.get(username="temp"))
        User.objects.filter(username="temp").delete()

        for token in (pair["refresh"], str(legacy)):
            with self.subTest(sid="sid" in RefreshToken(token).payload):
                response = refresh(self.client, token)
                self.assertEqual(response.status_code, 401, response.content)

    def test_token_issued_without_a_session_joins_one_on_refresh(self):
        legacy = RefreshToken.for_user(self.alice)

        response = refresh(self.client, str(legacy))

        self.assertEqual(response.status_code, 200, response.content)
        sid = RefreshToken(response.json()["refresh"])["sid"]
        self.assertTrue(Session.objects.filter(pk=sid, user=self.alice).exists())
        self.assertError(refresh(self.client, str(legacy)), 401, "token_not_valid")


class SessionEndTests(SessionTestCase):
    def test_ending_another_session_kills_its_refresh_token_only(self):
        laptop = tokens(self.client, "alice")
        phone = tokens(self.client, "alice")
        phone_sid = RefreshToken(phone["refresh"])["sid"]

        response = self.client.delete(f"{AUTH}sessions/{phone_sid}/", **bearer(laptop["access"]))

        self.assertEqual(response.status_code, 204)
        self.assertError(refresh(self.client, phone["refresh"]), 401, "token_not_valid")
        self.assertEqual(refresh(self.client, laptop["refresh"]).status_code, 200)
        listed = [s["id"] for s in self.sessions(laptop["access"])]
        self.assertNotIn(phone_sid, listed)

    def test_ending_an_ended_unknown_or_someone_elses_session_is_404(self):
        alice = tokens(self.client, "alice")
        bob = tokens(self.client, "bob")
        bob_sid = RefreshToken(bob["refresh"])["sid"]
        alice_sid = RefreshToken(alice["refresh"])["sid"]
        self.client.delete(f"{AUTH}sessions/{alice_sid}/", **bearer(alice["access"]))

        for target in (bob_sid, str(uuid.uuid4()), alice_sid):
            with self.subTest(target=target):
                response = self.client.delete(
                    f"{AUTH}sessions/{target}/", **bearer(alice["access"])
                )
                self.assertError(response, 404, "not_found")
        # Bob's session survived alice's attempt.
        self.assertEqual(refresh(self.client, bob["refresh"]).status_code, 200)

    def test_malformed_session_ids_are_404_not_500(self):
        access = tokens(self.client, "alice")["access"]
        for bad in ("nope", "1", "00000000-0000-0000-0000-00000000000g", "%00", "' OR 1=1 --"):
            with self.subTest(bad=bad):
                response = self.client.delete(f"{AUTH}sessions/{bad}/", **bearer(access))
                self.assertError(response, 404, "not_found")

    def test_logout_all_ends_every_session_including_this_one(self):
        first = tokens(self.client, "alice")
        second = tokens(self.client, "alice")
        bob = tokens(self.client, "bob")

        response = self.client.post(f"{AUTH}logout/all/", **bearer(first["access"]))

        self.assertEqual(response.status_code, 204)
        for pair in (first, second):
            self.assertError(refresh(self.client, pair["refresh"]), 401, "token_not_valid")
        self.assertEqual(self.sessions(first["access"]), [])
        # Access tokens live out their few minutes, as documented; bob is untouched.
        self.assertEqual(self.client.get(f"{AUTH}me/", **bearer(first["access"])).status_code, 200)
        self.assertEqual(refresh(self.client, bob["refresh"]).status_code, 200)

    def test_logout_all_also_kills_tokens_issued_without_a_session(self):
        legacy = RefreshToken.for_user(self.alice)
        access = tokens(self.client, "alice")["access"]

        self.client.post(f"{AUTH}logout/all/", **bearer(access))

        self.assertError(refresh(self.client, str(legacy)), 401, "token_not_valid")

    def test_logout_ends_the_session_of_its_token(self):
        pair = tokens(self.client, "alice")

        response = self.client.post(
            f"{AUTH}logout/", {"refresh": pair["refresh"]}, format="json", **bearer(pair["access"])
        )

        self.assertEqual(response.status_code, 204)
        self.assertEqual(self.sessions(pair["access"]), [])
        again = self.client.post(
            f"{AUTH}logout/", {"refresh": pair["refresh"]}, format="json", **bearer(pair["access"])
        )
        self.assertEqual(again.status_code, 400)

    def test_logout_with_a_token_of_an_ended_session_is_400(self):
        laptop = tokens(self.client, "alice")
        phone = tokens(self.client, "alice")
        self.client.delete(
            f"{AUTH}sessions/{RefreshToken(phone['refresh'])['sid']}/", **bearer(laptop["access"])
        )

        response = self.client.post(
            f"{AUTH}logout/",
            {"refresh": phone["refresh"]},
            format="json",
            **bearer(phone["access"]),
        )

        self.assertError(response, 400, "token_not_valid", "refresh")


class PasswordChangeTests(SessionTestCase):
    NEW = "an entirely new passphrase"

    def change(self, access: str, old: object, new: object):
        return self.client.post(
            f"{AUTH}password/",
            {"old_password": old, "new_password": new},
            format="json",
            **bearer(access),
        )

    def test_change_keeps_this_session_and_ends_the_others(self):
        here = tokens(self.client, "alice")
        elsewhere = tokens(self.client, "alice")

        response = self.change(here["access"], PASSWORD, self.NEW)

        self.assertEqual(response.status_code, 204, response.content)
        self.assertError(refresh(self.client, elsewhere["refresh"]), 401, "token_not_valid")
        self.assertEqual(refresh(self.client, here["refresh"]).status_code, 200)
        self.assertEqual(login(self.client, "alice").status_code, 401)
        self.assertEqual(login(self.client, "alice", self.NEW).status_code, 200)

    def test_wrong_old_password_is_400_and_changes_nothing(self):
        here = tokens(self.client, "alice")
        elsewhere = tokens(self.client, "alice")
        before = User.objects.get(pk=self.alice.pk).password

        response = self.change(here["access"], "not my password", self.NEW)

        self.assertError(response, 400, "password_incorrect", "old_password")
        self.assertEqual(User.objects.get(pk=self.alice.pk).password, before)
        self.assertEqual(refresh(self.client, elsewhere["refresh"]).status_code, 200)

    def test_new_password_must_pass_the_validators(self):
        access = tokens(self.client, "alice")["access"]
        cases = {
            "short": "password_too_short",
            "12345678901": "password_entirely_numeric",
            "password123": "password_too_common",
            "alice123": "password_too_similar",
        }
        for new, code in cases.items():
            with self.subTest(new=new):
                response = self.change(access, PASSWORD, new)
                self.assertEqual(response.status_code, 400)
                codes = {e["code"] for e in response.json()["errors"]}
                self.assertIn(code, codes)
                self.assertTrue(all(e["attr"] == "new_password" for e in response.json()["errors"]))
        self.assertTrue(User.objects.get(pk=self.alice.pk).check_password(PASSWORD))

    def test_non_string_and_missing_fields_are_400(self):
        access = tokens(self.client, "alice")["access"]
        for old, new in ((None, self.NEW), (PASSWORD, 12345678901), (["x"], {"a": 1})):
            with self.subTest(old=old, new=new):
                self.assertEqual(self.change(access, old, new).status_code, 400)
        response = self.client.post(f"{AUTH}password/", {}, format="json", **bearer(access))
        self.assertEqual(response.status_code, 400)

    def test_password_change_needs_authentication(self):
        self.assertError(self.change("bad", PASSWORD, self.NEW), 401, "token_not_valid")


class DeactivatedUserTests(SessionTestCase):
    def deactivate(self, user):
        User.objects.filter(pk=user.pk).update(is_active=False)

    def test_deactivated_user_gets_401_everywhere_including_refresh_and_login(self):
        pair = tokens(self.client, "alice")
        self.deactivate(self.alice)

        for method, path in (
            ("get", f"{AUTH}me/"),
            ("get", f"{AUTH}sessions/"),
            ("post", f"{AUTH}logout/all/"),
            ("get", "/api/balance/v1/balance/"),
            ("post", "/api/balance/v1/deposit/"),
            ("get", "/api/balance/v1/operations/"),
        ):
            with self.subTest(path=path):
                response = getattr(self.client, method)(path, **bearer(pair["access"]))
                self.assertError(response, 401, "user_inactive")
        self.assertError(refresh(self.client, pair["refresh"]), 401, "no_active_account")
        self.assertError(login(self.client, "alice"), 401, "no_active_account")

    def test_deactivated_user_cannot_receive_transfers(self):
        deposit(user=self.bob, amount=Decimal("50.00"))
        access = tokens(self.client, "bob")["access"]
        self.deactivate(self.alice)

        response = self.client.post(
            "/api/balance/v1/transfer/",
            {"recipient": "alice", "amount": "10.00"},
            format="json",
            **bearer(access),
        )

        self.assertError(response, 404, "recipient_not_found", "recipient")
        self.assertEqual(Balance.objects.get(pk=self.bob.pk).amount, Decimal("50.00"))
        self.assertFalse(Balance.objects.filter(pk=self.alice.pk, amount__gt=0).exists())
        self.assertEqual(Operation.objects.count(), 1)


class LoginInputTests(SessionTestCase):
    def test_password_is_not_trimmed_at_login_as_at_registration(self):
        # Registration keeps surrounding spaces; login used to strip them and refuse.
        padded = "  spaced out passphrase  "
        response = self.client.post(
            f"{AUTH}register/", {"username": "carol", "password": padded}, format="json"
        )
        self.assertEqual(response.status_code, 201, response.content)

        self.assertEqual(login(self.client, "carol", padded).status_code, 200)
        self.assertEqual(login(self.client, "carol", padded.strip()).status_code, 401)

    def test_wrong_password_unknown_user_and_non_strings_answer_alike(self):
        wrong = login(self.client, "alice", "nope")
        unknown = login(self.client, "nobody", "nope")
        self.assertError(wrong, 401, "no_active_account")
        self.assertEqual(wrong.json(), unknown.json())
        self.assertEqual(wrong["WWW-Authenticate"], 'Bearer realm="api"')
        for body in ({"username": 1, "password": PASSWORD}, {"username": "alice", "password": 1}):
            with self.subTest(body=body):
                response = self.client.post(f"{AUTH}login/", body, format="json")
                self.assertEqual(response.status_code, 400)


@skipUnless(connection.vendor == "postgresql", "row locks are proven on PostgreSQL only")
class ConcurrentRefreshTests(TransactionTestCase):
    """Two refreshes of one token at the same moment: exactly one rotates it."""

    def test_one_refresh_token_rotates_once_under_concurrency(self):
        User.objects.create_user("racer", password=PASSWORD)
        token = tokens(APIClient(), "racer")["refresh"]
        barrier = threading.Barrier(4)
        statuses = []

        def worker():
            try:
                barrier.wait()
                statuses.append(refresh(APIClient(), token).status_code)
            finally:
                connection.close()

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        self.assertEqual(sorted(statuses), [200, 401, 401, 401])


class SessionAdminTests(SessionTestCase):
    def test_admin_lists_sessions_read_only_and_ends_a_users_sessions(self):
        pair = tokens(self.client, "alice")
        bob = tokens(self.client, "bob")
        admin = User.objects.create_superuser("root", password=PASSWORD)
        browser = Client()
        browser.force_login(admin)
        url = reverse("admin:authapp_session_changelist")

        page = browser.get(url)
        self.assertEqual(page.status_code, 200)
        self.assertContains(page, "alice")
        self.assertNotContains(page, "Add session")
        sid = RefreshToken(pair["refresh"])["sid"]
        response = browser.post(
            url, {"action": "end_all_sessions_of_users", "_selected_action": [sid]}
        )

        self.assertEqual(response.status_code, 302)
        self.assertError(refresh(self.client, pair["refresh"]), 401, "token_not_valid")
        self.assertEqual(refresh(self.client, bob["refresh"]).status_code, 200)
