"""The error envelope everywhere: unknown URLs, missing slashes, crashes; service endpoints."""

import logging

from django.test import TestCase, override_settings
from rest_framework.test import APIClient

from lighTech.testing import client_for, make_user


def assert_envelope(test, response, status, code=None):
    test.assertEqual(response.status_code, status, response.content)
    test.assertEqual(response["Content-Type"], "application/json")
    body = response.json()
    test.assertEqual(set(body), {"type", "errors"})
    test.assertEqual(set(body["errors"][0]), {"code", "detail", "attr"})
    if code:
        test.assertEqual(body["errors"][0]["code"], code)
    return body


class EnvelopeTests(TestCase):
    def setUp(self):
        self.client = client_for(make_user("alice", balance="5.00"))

    def test_unknown_url_is_a_404_envelope(self):
        for path in ("/api/nothing/", "/nothing", "/api/balance/v1/"):
            with self.subTest(path=path):
                assert_envelope(self, self.client.get(path), 404, "not_found")

    def test_post_without_trailing_slash_is_a_404_not_a_redirect(self):
        for path in ("/api/balance/v1/deposit", "/api/auth/v1/register", "/api/auth/v1/login"):
            with self.subTest(path=path):
                response = self.client.post(path, {"amount": "1"}, format="json")
                body = assert_envelope(self, response, 404, "not_found")
                self.assertIn(f"{path}/", body["errors"][0]["detail"])
        self.assertEqual(self.client.get("/api/balance/v1/balance/").json()["balance"], "5.00")


POST_ENDPOINTS = (
    "/api/auth/v1/register/",
    "/api/auth/v1/login/",
    "/api/auth/v1/token/refresh/",
    "/api/auth/v1/logout/",
    "/api/balance/v1/deposit/",
    "/api/balance/v1/withdraw/",
    "/api/balance/v1/transfer/",
)


class MalformedBodyTests(TestCase):
    """Bodies no parser should choke on: each is a 4xx envelope on every endpoint, never a 500."""

    def setUp(self):
        self.client = client_for(make_user("alice", balance="5.00"))

    def test_malformed_bodies_are_client_errors_everywhere(self):
        bodies = {
            "exponent beyond Decimal's range": '{"amount": 1E+1000000000000000000000}',
            "negative exponent beyond range": '{"amount": 1E-1000000000000000000000}',
            "exponent in a nested value": '{"x": [1E+1000000000000000000000]}',
            "huge integer": '{"amount": ' + "9" * 5000 + "}",
            "lone surrogate": r'{"username": "\ud800"}',
            "deep nesting": "[" * 20000 + "]" * 20000,
            "NaN literal": '{"amount": NaN}',
            "truncated": '{"amount": "1"',
            "not UTF-8": b'{"amount": "\xff"}',
        }
        for path in POST_ENDPOINTS:
            for name, body in bodies.items():
                with self.subTest(path=path, body=name):
                    response = self.client.post(path, body, content_type="application/json")
                    body_json = assert_envelope(self, response, 400, "parse_error")
                    self.assertNotIn("codec", body_json["errors"][0]["detail"])
        self.assertEqual(self.client.get("/api/balance/v1/balance/").json()["balance"], "5.00")

    def test_oversized_body_is_a_413(self):
        big = '{"amount": "1", "description": "' + "x" * (1024 * 1024) + '"}'
        for path in POST_ENDPOINTS:
            with self.subTest(path=path):
                response = self.client.post(path, big, content_type="application/json")
                assert_envelope(self, response, 413, "request_too_large")
        self.assertEqual(self.client.get("/api/balance/v1/balance/").json()["balance"], "5.00")


@override_settings(ROOT_URLCONF="lighTech.tests.urls_failing", DEBUG=False)
class CrashTests(TestCase):
    def setUp(self):
        self.client = APIClient(raise_request_exception=False)
        logging.disable(logging.CRITICAL)
        self.addCleanup(logging.disable, logging.NOTSET)

    def test_crash_in_an_api_view_is_a_500_envelope_without_details(self):
        response = self.client.get("/boom/api/")
        body = assert_envelope(self, response, 500)
        self.assertEqual(body["type"], "server_error")
        self.assertNotIn(b"secret-detail", response.content)
        self.assertNotIn(b"Traceback", response.content)

    def test_crash_outside_drf_is_a_500_envelope_without_details(self):
        response = self.client.get("/boom/plain/")
        body = assert_envelope(self, response, 500)
        self.assertEqual(body["type"], "server_error")
        self.assertNotIn(b"secret-detail", response.content)


class ServiceEndpointTests(TestCase):
    def test_health(self):
        response = APIClient().get("/api/health/")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json(), {"status": "ok"})

    def test_schema_documents_every_endpoint_and_the_bearer_scheme(self):
        response = APIClient().get("/api/schema/?format=json")
        self.assertEqual(response.status_code, 200)
        schema = response.json()
        for path in (
            "/api/auth/v1/register/",
            "/api/auth/v1/login/",
            "/api/auth/v1/logout/",
            "/api/auth/v1/token/refresh/",
            "/api/auth/v1/me/",
            "/api/balance/v1/balance/",
            "/api/balance/v1/deposit/",
            "/api/balance/v1/withdraw/",
            "/api/balance/v1/transfer/",
            "/api/balance/v1/operations/",
            "/api/health/",
        ):
            self.assertIn(path, schema["paths"])
        schemes = schema["components"]["securitySchemes"]
        self.assertIn({"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}, schemes.values())
        deposit = schema["paths"]["/api/balance/v1/deposit/"]["post"]
        self.assertIn("201", deposit["responses"])
        self.assertIn("401", deposit["responses"])

    def test_docs_pages_use_local_assets_only(self):
        client = APIClient()
        for path in ("/api/docs/", "/api/redoc/"):
            with self.subTest(path=path):
                response = client.get(path)
                self.assertEqual(response.status_code, 200)
                html = response.content.decode()
                self.assertNotIn("cdn.jsdelivr.net", html)
                self.assertNotIn("fonts.googleapis.com", html)
                self.assertNotIn('href="https://', html)
                self.assertNotIn('src="https://', html)
                self.assertIn("/static/drf_spectacular_sidecar/", html)
        asset = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
        self.assertEqual(asset.status_code, 200)
