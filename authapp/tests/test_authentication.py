"""Bearer authentication with verified tokens cached per process: nothing it must refuse gets in."""

import time
from datetime import timedelta

from django.test import TestCase
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from authapp.authentication import _verified
from lighTech.testing import make_user

BALANCE = "/api/balance/v1/balance/"


def bearer(token) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


class CachedVerificationTests(TestCase):
    def setUp(self):
        _verified.cache_clear()
        self.alice = make_user("alice")

    def test_a_token_is_verified_once_per_process(self):
        client = bearer(AccessToken.for_user(self.alice))
        for _ in range(3):
            self.assertEqual(client.get(BALANCE).status_code, 200)
        info = _verified.cache_info()
        self.assertEqual((info.misses, info.hits), (1, 2))

    def test_a_cached_token_stops_working_when_it_expires(self):
        token = AccessToken.for_user(self.alice)
        token.set_exp(lifetime=timedelta(seconds=1))
        client = bearer(token)
        self.assertEqual(client.get(BALANCE).status_code, 200)
        time.sleep(1.1)
        response = client.get(BALANCE)
        self.assertEqual(response.status_code, 401)
        self.assertEqual(response.json()["errors"][0]["code"], "token_not_valid")

    def test_a_cached_token_of_a_deactivated_user_is_refused(self):
        client = bearer(AccessToken.for_user(self.alice))
        self.assertEqual(client.get(BALANCE).status_code, 200)
        self.alice.is_active = False
        self.alice.save(update_fields=["is_active"])
        response = client.get(BALANCE)
        self.assertEqual(response.status_code, 401)
        self.assertEqual(response.json()["errors"][0]["code"], "user_inactive")

    def test_a_tampered_copy_of_a_cached_token_is_refused(self):
        access = str(AccessToken.for_user(self.alice))
        self.assertEqual(bearer(access).get(BALANCE).status_code, 200)
        header, payload, signature = access.split(".")
        for forged in (
            f"{header}.{payload}.{signature[::-1]}",
            f"{header}.{payload}.",
            access[:-2],
        ):
            with self.subTest(forged=forged):
                self.assertEqual(bearer(forged).get(BALANCE).status_code, 401)
        self.assertEqual(_verified.cache_info().currsize, 1)

    def test_refused_tokens_are_not_cached(self):
        token = AccessToken.for_user(self.alice)
        token.set_exp(lifetime=-timedelta(seconds=1))
        for _ in range(2):
            self.assertEqual(bearer(token).get(BALANCE).status_code, 401)
        self.assertEqual(_verified.cache_info().currsize, 0)
