"""Rate limits: failed logins per username, auth per IP, money per user, and cache outages."""

import os
import socket
import uuid
from decimal import Decimal
from unittest import skipUnless

from django.conf import settings
from django.test import TestCase, override_settings
from rest_framework.test import APIClient

from authapp.models import User
from balance.models import Balance, Operation
from lighTech import throttling

PASSWORD = "correct horse battery staple"
# Hour-long windows: a test never straddles a window boundary by accident.
RATES = {"login_username": "3/hour", "auth_ip": "5/hour", "money_user": "4/hour"}
REDIS_URL = os.environ.get("REDIS_URL", "")


def locmem_cache() -> dict:
    # A fresh location per test class: counters never leak between tests.
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"throttle-test-{uuid.uuid4()}",
        }
    }


def redis_cache(url: str) -> dict:
    # A fresh key prefix per test: counters never leak between tests or runs.
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": f"test-{uuid.uuid4()}",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }


def closed_port() -> int:
    """A local TCP port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ThrottleTestsMixin:
    """The limits, run against whichever cache the subclass configures."""

    cache_settings: dict

    @classmethod
    def setUpTestData(cls):
        cls.alice = User.objects.create_user("alice", password=PASSWORD)
        cls.bob = User.objects.create_user("bob", password=PASSWORD)

    def setUp(self):
        caches = self.cache_settings() if callable(self.cache_settings) else self.cache_settings
        override = override_settings(THROTTLE_RATES=RATES, CACHES=caches)
        override.enable()
        self.addCleanup(override.disable)
        self.client = APIClient()

    def login(self, username: str, password: str, **extra):
        body = {"username": username, "password": password}
        return self.client.post("/api/auth/v1/login/", body, format="json", **extra)

    def assertThrottled(self, response, max_wait: int = 3600):
        self.assertEqual(response.status_code, 429, response.content)
        body = response.json()
        self.assertEqual(body["type"], "client_error")
        self.assertEqual([e["code"] for e in body["errors"]], ["throttled"])
        self.assertTrue(1 <= int(response["Retry-After"]) <= max_wait, response["Retry-After"])

    def test_failed_logins_per_username_then_429_even_with_the_right_password(self):
        for _ in range(3):
            self.assertEqual(self.login("alice", "wrong", REMOTE_ADDR="10.0.0.1").status_code, 401)

        # Another IP, another letter case: the same username's counter.
        self.assertThrottled(self.login("ALICE", PASSWORD, REMOTE_ADDR="10.0.0.2"))
        # Other usernames are not affected.
        self.assertEqual(self.login("bob", PASSWORD, REMOTE_ADDR="10.0.0.3").status_code, 200)

    def test_wrong_old_passwords_count_as_failed_logins_of_the_caller(self):
        self.client.force_authenticate(self.alice)
        change = {"old_password": "guess", "new_password": "a brand new passphrase"}
        for _ in range(2):
            response = self.client.post("/api/auth/v1/password/", change, format="json")
            self.assertEqual(response.status_code, 400)
        self.assertEqual(self.login("alice", "wrong").status_code, 401)

        self.assertThrottled(self.client.post("/api/auth/v1/password/", change, format="json"))
        self.assertThrottled(self.login("alice", PASSWORD))
        self.assertTrue(User.objects.get(pk=self.alice.pk).check_password(PASSWORD))

    def test_successful_logins_do_not_count_against_the_username(self):
        for index in range(4):
            response = self.login("alice", PASSWORD, REMOTE_ADDR=f"10.0.1.{index}")
            self.assertEqual(response.status_code, 200, response.content)

    def test_login_and_register_share_a_per_ip_limit(self):
        register = {"username": "x", "password": ""}  # invalid: a cheap 400 that still counts
        for _ in range(3):
            response = self.client.post("/api/auth/v1/register/", register, format="json")
            self.assertEqual(response.status_code, 400)
        for _ in range(2):
            self.assertEqual(self.login("nobody", "wrong").status_code, 401)

        self.assertThrottled(self.client.post("/api/auth/v1/register/", register, format="json"))
        self.assertThrottled(self.login("bob", PASSWORD))
        # A client cannot pick a new IP with X-Forwarded-For: no proxy is trusted by default.
        self.assertThrottled(self.login("bob", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.7"))
        # Another address has its own budget.
        self.assertEqual(self.login("bob", PASSWORD, REMOTE_ADDR="10.9.9.9").status_code, 200)

    def test_money_endpoints_are_limited_per_user(self):
        self.client.force_authenticate(self.alice)
        paths = ["deposit/", "deposit/", "withdraw/", "transfer/"]
        bodies = [
            {"amount": "10.00"},
            {"amount": "10.00"},
            {"amount": "1.00"},
            {"amount": "1.00", "recipient": "bob"},
        ]
        for path, body in zip(paths, bodies, strict=True):
            response = self.client.post(f"/api/balance/v1/{path}", body, format="json")
            self.assertEqual(response.status_code, 201, response.content)

        for path in ("deposit/", "withdraw/", "transfer/"):
            with self.subTest(path=path):
                response = self.client.post(
                    f"/api/balance/v1/{path}", {"amount": "1.00", "recipient": "bob"}, format="json"
                )
                self.assertThrottled(response)
        # A throttled request moved nothing.
        self.assertEqual(Balance.objects.get(pk=self.alice.pk).amount, Decimal("18.00"))
        self.assertEqual(Operation.objects.filter(owner=self.alice).count(), 4)
        # Reads are not limited, and bob has his own budget.
        self.assertEqual(self.client.get("/api/balance/v1/balance/").status_code, 200)
        self.client.force_authenticate(self.bob)
        response = self.client.post("/api/balance/v1/deposit/", {"amount": "1"}, format="json")
        self.assertEqual(response.status_code, 201)


class LocMemThrottleTests(ThrottleTestsMixin, TestCase):
    """The limits with the local-memory cache (no REDIS_URL)."""

    cache_settings = staticmethod(locmem_cache)


@skipUnless(REDIS_URL, "REDIS_URL is not set: the Redis-backed limits are not exercised")
class RedisThrottleTests(ThrottleTestsMixin, TestCase):
    """The limits with Redis, as in production."""

    @staticmethod
    def cache_settings():
        return redis_cache(REDIS_URL)

    def test_counter_is_one_round_trip_with_an_expiry(self):
        from django.core.cache import cache

        throttle = throttling.MoneyUserThrottle()
        key = throttle._key(f"probe-{uuid.uuid4()}", 0.0)
        redis_key = cache.make_and_validate_key(key)
        throttle._hit(throttle._key("warm-up", 0.0))  # this thread's connection is made
        connection = throttling._thread_connection(cache)
        sock = connection._sock
        sent = []
        original = connection.send_command

        def counting_send(*args, **kwargs):
            sent.append(args[0])
            return original(*args, **kwargs)

        connection.send_command = counting_send
        try:
            for expected in range(1, 11):
                self.assertEqual(throttle._hit(key), expected)
        finally:
            del connection.send_command
        # One command per counted request, on the same kept connection (no reconnect).
        self.assertEqual(sent, ["EVAL"] * 10)
        self.assertIs(throttling._thread_connection(cache), connection)
        self.assertIs(connection._sock, sock)
        client = cache._cache.get_client(write=True)
        self.assertTrue(0 < client.ttl(redis_key) <= throttle.duration + 1)

    def test_a_connection_redis_closed_is_replaced_and_the_request_counted(self):
        from django.core.cache import cache

        throttle = throttling.MoneyUserThrottle()
        key = throttle._key(f"probe-{uuid.uuid4()}", 0.0)
        self.assertEqual(throttle._hit(key), 1)
        # As a Redis restart would: every other client's connection is closed.
        cache._cache.get_client(write=True).client_kill_filter(_type="normal", skipme=True)
        self.assertEqual(throttle._hit(key), 2)
        self.assertEqual(throttle._hit(key), 3)


class CacheOutageTests(TestCase):
    """A dead cache lets requests through and says so in the log."""

    @classmethod
    def setUpTestData(cls):
        cls.alice = User.objects.create_user("alice", password=PASSWORD)

    def setUp(self):
        dead = redis_cache(f"redis://127.0.0.1:{closed_port()}/0")
        override = override_settings(THROTTLE_RATES=RATES, CACHES=dead)
        override.enable()
        self.addCleanup(override.disable)
        throttling._last_outage_log = 0.0

    def test_money_endpoints_keep_working_when_the_cache_is_down(self):
        client = APIClient()
        client.force_authenticate(self.alice)

        with self.assertLogs("lighTech.throttling", "WARNING") as logs:
            # More requests than the limit: none is refused, none fails.
            for _ in range(6):
                response = client.post("/api/balance/v1/deposit/", {"amount": "1"}, format="json")
                self.assertEqual(response.status_code, 201, response.content)

        self.assertEqual(Balance.objects.get(pk=self.alice.pk).amount, Decimal("6.00"))
        self.assertIn("Throttle cache unavailable", logs.output[0])
        # One warning per interval, not one per request.
        self.assertEqual(len(logs.output), 1)

    def test_login_keeps_working_when_the_cache_is_down(self):
        client = APIClient()
        body = {"username": "alice", "password": "wrong"}
        with self.assertLogs("lighTech.throttling", "WARNING"):
            for _ in range(4):
                response = client.post("/api/auth/v1/login/", body, format="json")
                self.assertEqual(response.status_code, 401)
        body["password"] = PASSWORD
        response = client.post("/api/auth/v1/login/", body, format="json")
        self.assertEqual(response.status_code, 200)


class RateSettingTests(TestCase):
    """Rates come from the environment in DRF's format; the test runner raises them."""

    def test_the_test_runner_raised_the_limits_for_other_suites(self):
        self.assertEqual(set(settings.THROTTLE_RATES), set(RATES))
        for rate in settings.THROTTLE_RATES.values():
            self.assertGreaterEqual(throttling.parse_rate(rate)[0], 100000)

    def test_parse_rate_reads_drf_format(self):
        self.assertEqual(throttling.parse_rate("5/min"), (5, 60))
        self.assertEqual(throttling.parse_rate("20/m"), (20, 60))
        self.assertEqual(throttling.parse_rate("100/s"), (100, 1))
        self.assertEqual(throttling.parse_rate("7/hour"), (7, 3600))
        self.assertEqual(throttling.parse_rate("1/day"), (1, 86400))
