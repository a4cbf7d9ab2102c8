"""Production hardening: deploy checks, security headers, CORS, admin path, hashing, no leaks."""

import json
import logging
import os
import secrets
import subprocess
import sys
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.test import TestCase, override_settings
from rest_framework.test import APIClient

from authapp.models import User
from lighTech import settings as project_settings

BASE_DIR = settings.BASE_DIR
PRODUCTION_ENV = {
    "DJANGO_DEBUG": "0",
    "DJANGO_ALLOWED_HOSTS": "api.example.com",
    "DJANGO_SECURE_SSL_REDIRECT": "1",
    "DJANGO_SECURE_PROXY_SSL_HEADER": "1",
    "DJANGO_SECURE_HSTS_SECONDS": "31536000",
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "DJANGO_SECURE_HSTS_PRELOAD": "1",
    "DJANGO_SESSION_COOKIE_SECURE": "1",
    "DJANGO_CSRF_COOKIE_SECURE": "1",
}
HTTPS_ENV_OFF = dict.fromkeys(
    [name for name in PRODUCTION_ENV if name.startswith("DJANGO_SECURE") or "COOKIE" in name],
    "0",
)


def manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    """Run manage.py in a fresh process with this environment on top of ours."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env={**os.environ, "DJANGO_SECRET_KEY": secrets.token_urlsafe(50), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class DeployCheckTests(TestCase):
    """`manage.py check --deploy` in a separate process, as an operator would run it."""

    def test_check_deploy_is_clean_with_production_settings(self):
        result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)

        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("System check identified no issues", result.stdout)

    def test_check_deploy_reports_what_is_missing_without_https_settings(self):
        env = {**PRODUCTION_ENV, **HTTPS_ENV_OFF}
        result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)

        self.assertNotEqual(result.returncode, 0)
        for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
            self.assertIn(check, result.stderr)

    def test_throttle_rates_and_admin_path_come_from_the_environment(self):
        env = {
            "THROTTLE_LOGIN_USERNAME": "7/min",
            "THROTTLE_AUTH_IP": "30/hour",
            "THROTTLE_MONEY_USER": "50/s",
            "DJANGO_ADMIN_PATH": "/backoffice/",
        }
        code = (
            "import json; from django.conf import settings; from django.urls import reverse;"
            "print(json.dumps([settings.THROTTLE_RATES, reverse('admin:index')]))"
        )
        result = manage("shell", "-c", code, env=env)

        self.assertEqual(result.returncode, 0, result.stderr)
        rates, admin_url = json.loads(result.stdout.strip().splitlines()[-1])
        self.assertEqual(
            rates, {"login_username": "7/min", "auth_ip": "30/hour", "money_user": "50/s"}
        )
        self.assertEqual(admin_url, "/backoffice/")

    def test_a_malformed_rate_stops_the_app_at_startup(self):
        result = manage("check", env={"THROTTLE_MONEY_USER": "lots"})

        self.assertNotEqual(result.returncode, 0)
        self.assertIn("THROTTLE_MONEY_USER='lots' is not a rate", result.stderr)


class SecurityHeaderTests(TestCase):
    def test_every_response_carries_the_security_headers(self):
        for path in ("/api/health/", "/api/auth/v1/me/", "/api/nowhere/", "/api/docs/"):
            with self.subTest(path=path):
                response = APIClient().get(path)
                self.assertEqual(response["X-Content-Type-Options"], "nosniff")
                self.assertEqual(response["X-Frame-Options"], "DENY")
                self.assertEqual(response["Referrer-Policy"], "same-origin")
                if path != "/api/docs/":  # Swagger UI's page relaxes it for its own use.
                    self.assertEqual(response["Cross-Origin-Opener-Policy"], "same-origin")

    def test_a_refused_host_header_still_gets_the_security_headers(self):
        # CommonMiddleware refuses the host; the headers must not depend on how far in it got.
        response = APIClient().get("/api/health/", HTTP_HOST="evil.example.com")
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.json()["errors"][0]["code"], "bad_request")
        self.assertEqual(response["X-Frame-Options"], "DENY")
        self.assertEqual(response["X-Content-Type-Options"], "nosniff")

    def test_docs_pages_allow_only_this_server(self):
        # ReDoc's script fetches its logo from cdn.redoc.ly: the policy refuses it.
        for path in ("/api/docs/", "/api/redoc/"):
            with self.subTest(path=path):
                response = APIClient().get(path)
                self.assertEqual(response.status_code, 200)
                policy = response["Content-Security-Policy"]
                self.assertIn("default-src 'self'", policy)
                self.assertIn("img-src 'self' data:", policy)
                self.assertNotIn("http", policy)
                self.assertNotIn(b"fonts.googleapis", response.content)

    def test_hsts_is_sent_over_https_when_configured(self):
        self.assertNotIn("Strict-Transport-Security", APIClient().get("/api/health/", secure=True))
        with override_settings(SECURE_HSTS_SECONDS=3600, SECURE_HSTS_INCLUDE_SUBDOMAINS=True):
            response = APIClient().get("/api/health/", secure=True)
        self.assertEqual(response["Strict-Transport-Security"], "max-age=3600; includeSubDomains")

    def test_ssl_redirect_spares_the_health_check(self):
        with override_settings(SECURE_SSL_REDIRECT=True):
            client = APIClient()
            self.assertEqual(client.get("/api/health/").status_code, 200)
            response = client.get("/api/balance/v1/balance/")
        self.assertEqual(response.status_code, 301)
        self.assertTrue(response["Location"].startswith("https://"))


class CorsTests(TestCase):
    ORIGIN = "https://wallet.example.com"

    def preflight(self):
        return APIClient().options(
            "/api/balance/v1/deposit/",
            HTTP_ORIGIN=self.ORIGIN,
            HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
            HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
        )

    def test_cors_is_closed_by_default(self):
        response = self.preflight()
        self.assertNotIn("Access-Control-Allow-Origin", response)
        get = APIClient().get("/api/health/", HTTP_ORIGIN=self.ORIGIN)
        self.assertNotIn("Access-Control-Allow-Origin", get)

    def test_listed_origins_and_only_those_are_allowed(self):
        with override_settings(CORS_ALLOWED_ORIGINS=[self.ORIGIN]):
            response = self.preflight()
            other = APIClient().get("/api/health/", HTTP_ORIGIN="https://evil.example")
        self.assertEqual(response["Access-Control-Allow-Origin"], self.ORIGIN)
        self.assertIn("authorization", response["Access-Control-Allow-Headers"])
        self.assertNotIn("Access-Control-Allow-Origin", other)


# The test runner swaps in a fast hasher; these tests use the production list.
@override_settings(PASSWORD_HASHERS=project_settings.PASSWORD_HASHERS)
class PasswordHashingTests(TestCase):
    PASSWORD = "correct horse battery staple"

    def test_the_production_list_puts_argon2_first_and_keeps_pbkdf2(self):
        self.assertEqual(
            project_settings.PASSWORD_HASHERS[:2],
            [
                "django.contrib.auth.hashers.Argon2PasswordHasher",
                "django.contrib.auth.hashers.PBKDF2PasswordHasher",
            ],
        )

    def test_new_passwords_are_hashed_with_argon2(self):
        response = APIClient().post(
            "/api/auth/v1/register/",
            {"username": "alice", "password": self.PASSWORD},
            format="json",
        )
        self.assertEqual(response.status_code, 201)
        self.assertTrue(User.objects.get(username="alice").password.startswith("argon2$argon2id$"))

    def test_pbkdf2_hashes_still_log_in_and_are_upgraded_to_argon2(self):
        legacy = make_password(self.PASSWORD, hasher="pbkdf2_sha256")
        User.objects.create(username="old", password=legacy)

        response = APIClient().post(
            "/api/auth/v1/login/", {"username": "old", "password": self.PASSWORD}, format="json"
        )

        self.assertEqual(response.status_code, 200, response.content)
        self.assertTrue(User.objects.get(username="old").password.startswith("argon2"))


class NoSecretsLeakTests(TestCase):
    """A full run, every log record captured: no password, token or key shows up."""

    def test_no_password_token_or_secret_key_in_logs_or_error_bodies(self):
        password = "Leaky-" + secrets.token_hex(8)
        new_password = "Leakier-" + secrets.token_hex(8)
        client = APIClient(HTTP_USER_AGENT="leak-test")
        bodies: list[str] = []
        secrets_seen: list[str] = [password, new_password, settings.SECRET_KEY]

        def call(method, path, data=None, token=None, **extra):
            if token:
                extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
            if isinstance(data, str):
                response = getattr(client, method)(
                    path, data, content_type="application/json", **extra
                )
            else:
                response = getattr(client, method)(path, data, format="json", **extra)
            if response.status_code >= 400:
                bodies.append(response.content.decode())
            return response

        # Everything, including the request logs the test runner quiets.
        for name in ("", "django.request"):
            logger = logging.getLogger(name)
            self.addCleanup(logger.setLevel, logger.level)
            logger.setLevel(logging.DEBUG)
        with self.assertLogs(level="DEBUG") as logs:
            logging.getLogger("lighTech").debug("capture started")
            call("post", "/api/auth/v1/register/", {"username": "leaky", "password": password})
            call("post", "/api/auth/v1/register/", {"username": "other", "password": password})
            call("post", "/api/auth/v1/register/", {"username": "weak", "password": "leaky123"})
            call("post", "/api/auth/v1/login/", {"username": "leaky", "password": password + "x"})
            pair = call(
                "post", "/api/auth/v1/login/", {"username": "leaky", "password": password}
            ).json()
            secrets_seen += [pair["access"], pair["refresh"]]
            access = pair["access"]
            call("get", "/api/auth/v1/me/", token=access)
            call("get", "/api/auth/v1/me/", token=access + "tampered")
            call("post", "/api/balance/v1/deposit/", {"amount": "100.00"}, token=access)
            call("post", "/api/balance/v1/withdraw/", {"amount": "1000.00"}, token=access)
            call("post", "/api/balance/v1/transfer/", {"recipient": "nobody", "amount": 1}, access)
            call("post", "/api/balance/v1/deposit/", "{not json", token=access)
            rotated = call("post", "/api/auth/v1/token/refresh/", {"refresh": pair["refresh"]})
            secrets_seen += list(rotated.json().values())
            call("post", "/api/auth/v1/token/refresh/", {"refresh": pair["refresh"]})
            call(
                "post",
                "/api/auth/v1/password/",
                {"old_password": password + "x", "new_password": new_password},
                token=access,
            )
            call(
                "post",
                "/api/auth/v1/password/",
                {"old_password": password, "new_password": new_password},
                token=access,
            )
            call("post", "/api/auth/v1/logout/", {"refresh": pair["refresh"]}, token=access)
            call("post", "/api/auth/v1/logout/all/", token=access)

        logged = "\n".join(logs.output)
        self.assertIn("Unauthorized", logged)  # the capture did see the request logs
        self.assertGreaterEqual(len(bodies), 8)
        for secret in secrets_seen:
            self.assertNotIn(secret, logged)
            for body in bodies:
                self.assertNotIn(secret, body)
        # Parts of a token are secrets too (the signature alone lets nobody in, but the
        # payload names the user and session).
        for token in secrets_seen[3:]:
            signature = token.rsplit(".", 1)[-1]
            self.assertNotIn(signature, logged)
        self.assertEqual(User.objects.get(username="leaky").balance.amount, Decimal("100.00"))
