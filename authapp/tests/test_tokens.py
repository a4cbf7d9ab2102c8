"""Login, refresh rotation, logout, me, and every kind of bad bearer token."""

from datetime import timedelta
from unittest import skipUnless

import jwt
from django.db import connection
from django.test import TestCase
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from lighTech.testing import STRONG_PASSWORD, make_user

LOGIN = "/api/auth/v1/login/"
REFRESH = "/api/auth/v1/token/refresh/"
LOGOUT = "/api/auth/v1/logout/"
ME = "/api/auth/v1/me/"


def assert_single_401_error(test, response):
    """One error with a stable code and a text detail, never simplejwt's nested dict."""
    body = response.json()
    test.assertEqual(body["type"], "client_error")
    test.assertEqual(len(body["errors"]), 1, body)
    error = body["errors"][0]
    test.assertIn(
        error["code"],
        {
            "not_authenticated",
            "authentication_failed",
            "token_not_valid",
            "user_not_found",
            "user_inactive",
            "no_active_account",
        },
    )
    test.assertIsInstance(error["detail"], str)
    test.assertIsNone(error["attr"])


class TokenTestCase(TestCase):
    def setUp(self):
        self.client = APIClient()
        self.alice = make_user("alice")

    def login(self, username="alice", password=STRONG_PASSWORD):
        return self.client.post(LOGIN, {"username": username, "password": password}, format="json")

    def tokens(self, username="alice"):
        response = self.login(username)
        self.assertEqual(response.status_code, 200, response.content)
        return response.json()

    def bearer(self, access):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
        return client


class LoginTests(TokenTestCase):
    def test_login_returns_an_access_and_a_refresh_token(self):
        body = self.tokens()
        self.assertEqual(set(body), {"access", "refresh"})
        self.assertEqual(AccessToken(body["access"])["user_id"], str(self.alice.pk))

    def test_login_ignores_username_letter_case(self):
        self.assertEqual(self.login(username="ALICE").status_code, 200)

    def test_wrong_password_and_unknown_user_get_identical_401s(self):
        wrong_password = self.login(password="not-the-password")
        unknown_user = self.login(username="nobody")
        self.assertEqual(wrong_password.status_code, 401)
        self.assertEqual(unknown_user.status_code, 401)
        self.assertEqual(wrong_password.json(), unknown_user.json())
        self.assertEqual(wrong_password.json()["type"], "client_error")

    def test_inactive_user_cannot_log_in(self):
        self.alice.is_active = False
        self.alice.save()
        self.assertEqual(self.login().status_code, 401)

    def test_missing_fields_are_a_400(self):
        response = self.client.post(LOGIN, {"username": "alice"}, format="json")
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.json()["errors"][0]["attr"], "password")


class RefreshTests(TokenTestCase):
    def refresh(self, token):
        return self.client.post(REFRESH, {"refresh": token}, format="json")

    def test_refresh_rotates_and_the_old_token_is_refused(self):
        first = self.tokens()["refresh"]
        response = self.refresh(first)
        self.assertEqual(response.status_code, 200)
        body = response.json()
        self.assertEqual(set(body), {"access", "refresh"})
        self.assertNotEqual(body["refresh"], first)
        again = self.refresh(first)
        self.assertEqual(again.status_code, 401)
        self.assertEqual(again.json()["errors"][0]["code"], "token_not_valid")
        assert_single_401_error(self, again)
        self.assertTrue(again.headers["WWW-Authenticate"].startswith("Bearer"))
        self.assertEqual(self.refresh(body["refresh"]).status_code, 200)

    def test_garbage_access_and_expired_tokens_are_refused(self):
        access = self.tokens()["access"]
        expired = RefreshToken.for_user(self.alice)
        expired.set_exp(lifetime=-timedelta(seconds=1))
        for token in ("garbage", access, str(expired), self.tokens()["refresh"] + "x"):
            with self.subTest(token=token[:20]):
                response = self.refresh(token)
                self.assertEqual(response.status_code, 401)
                assert_single_401_error(self, response)

    def test_inactive_user_cannot_refresh(self):
        refresh = self.tokens()["refresh"]
        self.alice.is_active = False
        self.alice.save()
        self.assertEqual(self.refresh(refresh).status_code, 401)

    def test_missing_refresh_is_a_400(self):
        self.assertEqual(self.client.post(REFRESH, {}, format="json").status_code, 400)


class LogoutTests(TokenTestCase):
    def test_logout_blacklists_the_refresh_token(self):
        tokens = self.tokens()
        client = self.bearer(tokens["access"])
        response = client.post(LOGOUT, {"refresh": tokens["refresh"]}, format="json")
        self.assertEqual(response.status_code, 204)
        refused = self.client.post(REFRESH, {"refresh": tokens["refresh"]}, format="json")
        self.assertEqual(refused.status_code, 401)
        # Already blacklisted: a second logout is refused too.
        again = client.post(LOGOUT, {"refresh": tokens["refresh"]}, format="json")
        self.assertEqual(again.status_code, 400)

    def test_logout_refuses_other_users_access_and_garbage_tokens(self):
        make_user("bob")
        mine = self.tokens()
        bobs = self.tokens("bob")
        client = self.bearer(mine["access"])
        for token in (bobs["refresh"], mine["access"], "garbage", ""):
            with self.subTest(token=token[:20]):
                response = client.post(LOGOUT, {"refresh": token}, format="json")
                self.assertEqual(response.status_code, 400)
                self.assertEqual(response.json()["type"], "validation_error")
                self.assertEqual(response.json()["errors"][0]["attr"], "refresh")
        # Bob's session survived the attempt.
        self.assertEqual(
            self.client.post(REFRESH, {"refresh": bobs["refresh"]}, format="json").status_code, 200
        )

    def test_logout_without_access_token_is_a_401(self):
        refresh = self.tokens()["refresh"]
        response = self.client.post(LOGOUT, {"refresh": refresh}, format="json")
        self.assertEqual(response.status_code, 401)
        self.assertTrue(response.headers["WWW-Authenticate"].startswith("Bearer"))


class MeTests(TokenTestCase):
    def test_me_returns_the_callers_account(self):
        response = self.bearer(self.tokens()["access"]).get(ME)
        self.assertEqual(response.status_code, 200)
        body = response.json()
        self.assertEqual(set(body), {"id", "username", "email", "date_joined"})
        self.assertEqual(body["username"], "alice")


class BearerTokenTests(TokenTestCase):
    """Missing, expired, tampered and wrong-type tokens are a 401 with WWW-Authenticate."""

    def assert_401(self, client):
        for path in (ME, "/api/balance/v1/balance/", "/api/balance/v1/operations/"):
            response = client.get(path)
            self.assertEqual(response.status_code, 401, path)
            self.assertTrue(response.headers["WWW-Authenticate"].startswith("Bearer"))
            assert_single_401_error(self, response)

    def test_missing_token(self):
        self.assert_401(APIClient())

    def test_expired_token(self):
        token = AccessToken.for_user(self.alice)
        token.set_exp(lifetime=-timedelta(seconds=1))
        self.assert_401(self.bearer(str(token)))

    def test_tampered_token(self):
        access = self.tokens()["access"]
        header, payload, signature = access.split(".")
        self.assert_401(self.bearer(f"{header}.{payload}.{signature[::-1]}"))
        self.assert_401(self.bearer("not.a.token"))

    def test_refresh_token_used_as_access_token(self):
        self.assert_401(self.bearer(self.tokens()["refresh"]))

    def test_wrong_scheme(self):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {self.tokens()['access']}")
        self.assert_401(client)

    def test_deleted_or_inactive_user(self):
        access = self.tokens()["access"]
        self.alice.is_active = False
        self.alice.save()
        self.assert_401(self.bearer(access))

    def test_token_signed_with_another_key(self):
        claims = AccessToken(self.tokens()["access"]).payload
        forged = jwt.encode(claims, "another-key-entirely-for-this-test", algorithm="HS256")
        self.assert_401(self.bearer(forged))


class UsernameComparisonTests(TokenTestCase):
    """Login and registration compare names exactly as the unique index does."""

    def test_compatibility_characters_are_normalized_like_registration(self):
        make_user("kelvin1")
        # U+212A KELVIN SIGN is "K" after NFKC, the normalization registration applies.
        self.assertEqual(self.login(username="\u212aelvin1").status_code, 200)
        response = self.client.post(
            "/api/auth/v1/register/",
            {"username": "\u212aELVIN1", "password": STRONG_PASSWORD},
            format="json",
        )
        self.assertEqual(response.status_code, 400)

    @skipUnless(connection.vendor == "postgresql", "SQLite's lower() only folds ASCII letters")
    def test_letters_whose_upper_and_lower_case_disagree(self):
        # lower("ẞ") is "ß" but upper("ß") is not "ẞ": iexact (upper) missed this user.
        make_user("\u1e9ea1")
        self.assertEqual(self.login(username="\u00dfa1").status_code, 200)


class MalformedSignedTokenTests(TokenTestCase):
    """Tokens signed with the server's key but with broken claims: 401/400, never a 500."""

    def refresh_without(self, claim):
        token = RefreshToken.for_user(self.alice)
        del token[claim]
        return str(token)

    def far_future(self, token_class):
        token = token_class.for_user(self.alice)
        token["exp"] = 10**20
        return str(token)

    def test_refresh_and_logout_refuse_a_refresh_token_without_jti_or_user(self):
        access = self.tokens()["access"]
        for claim in ("jti", "user_id"):
            with self.subTest(claim=claim):
                broken = self.refresh_without(claim)
                refused = self.client.post(REFRESH, {"refresh": broken}, format="json")
                self.assertEqual(refused.status_code, 401)
                assert_single_401_error(self, refused)
                logout = self.bearer(access).post(LOGOUT, {"refresh": broken}, format="json")
                self.assertEqual(logout.status_code, 400)
                self.assertEqual(logout.json()["errors"][0]["attr"], "refresh")

    def test_an_expiry_outside_the_calendar_is_refused(self):
        response = self.bearer(self.far_future(AccessToken)).get(ME)
        self.assertEqual(response.status_code, 401)
        assert_single_401_error(self, response)
        refused = self.client.post(
            REFRESH, {"refresh": self.far_future(RefreshToken)}, format="json"
        )
        self.assertEqual(refused.status_code, 401)
        assert_single_401_error(self, refused)
        logout = self.bearer(self.tokens()["access"]).post(
            LOGOUT, {"refresh": self.far_future(RefreshToken)}, format="json"
        )
        self.assertEqual(logout.status_code, 400)
