"""The WSGI application gunicorn serves: API paths on the shorter chain, the rest on the full one.

Requests here are raw WSGI calls into lighTech.handlers.PathRoutedWSGIApplication, the object
lighTech/wsgi.py serves (Django's test client would build its own handler with the full chain).
"""

import io
import json
import re
import uuid
from decimal import Decimal
from unittest import mock
from wsgiref.util import setup_testing_defaults

from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.http import HttpRequest
from django.test import SimpleTestCase, TestCase, override_settings
from django.urls import Resolver404, get_resolver, resolve, set_urlconf
from rest_framework_simplejwt.tokens import AccessToken

from authapp.models import User
from balance.models import Operation
from lighTech.handlers import (
    API_PATH_PREFIXES,
    SITE_ONLY_MIDDLEWARE,
    APIWSGIHandler,
    PathRoutedWSGIApplication,
)
from lighTech.testing import STRONG_PASSWORD, balance_of, make_user


def wsgi_call(app, method: str, path: str, *, body=None, form=None, headers=None, cookies=""):
    """One request through `app` (a JSON `body` or a urlencoded `form`).

    Returns (status code, headers as a dict of lists, body).
    """
    raw = form.encode() if form is not None else b"" if body is None else json.dumps(body).encode()
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "wsgi.input": io.BytesIO(raw),
        "CONTENT_LENGTH": str(len(raw)),
        "SERVER_NAME": "testserver",
        "HTTP_HOST": "testserver",
    }
    if body is not None:
        environ["CONTENT_TYPE"] = "application/json"
    if form is not None:
        environ["CONTENT_TYPE"] = "application/x-www-form-urlencoded"
    if cookies:
        environ["HTTP_COOKIE"] = cookies
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    setup_testing_defaults(environ)
    answer = {}

    def start_response(status, response_headers):
        answer["status"] = int(status.split()[0])
        answer["headers"] = {}
        for name, value in response_headers:
            # Django writes cookies as c.output(header=""), with a leading space.
            answer["headers"].setdefault(name.lower(), []).append(value.strip())

    response = app(environ, start_response)
    try:
        content = b"".join(response)
    finally:
        response.close()
    return answer["status"], answer["headers"], content


class RawWSGITestCase(TestCase):
    @classmethod
    def setUpClass(cls):
        # As Django's test client does: a raw WSGI call would otherwise close the test's
        # database connection at the end of each request.
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        super().setUpClass()
        cls.app = PathRoutedWSGIApplication()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


class RoutingTests(RawWSGITestCase):
    def test_api_endpoints_take_the_api_chain_and_browser_pages_the_full_one(self):
        api = (
            "/api/auth/v1/login/",
            "/api/balance/v1/transfer/",
            "/api/balance/v1/operations/",
            "/api/health/",
        )
        site = (
            f"/{settings.ADMIN_PATH}",
            f"/{settings.ADMIN_PATH}login/",
            "/api/docs/",
            "/api/redoc/",
            "/api/schema/",
            "/api/unknown/",
            "/api",
            "/",
            "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css",
        )
        expected = {**dict.fromkeys(api, self.app.api), **dict.fromkeys(site, self.app.site)}
        for path, handler in expected.items():
            with self.subTest(path=path):
                self.assertIs(self.app.handler_for(path), handler)

    def test_the_api_chain_is_the_full_one_less_sessions_auth_and_messages(self):
        before = list(settings.MIDDLEWARE)
        handler = APIWSGIHandler()
        self.assertEqual(settings.MIDDLEWARE, before, "settings.MIDDLEWARE must stay whole")
        self.assertEqual(handler.middleware, [m for m in before if m not in SITE_ONLY_MIDDLEWARE])
        for kept in (
            "django.middleware.security.SecurityMiddleware",
            "corsheaders.middleware.CorsMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
        ):
            self.assertIn(kept, handler.middleware)
        for left_out in SITE_ONLY_MIDDLEWARE:
            self.assertIn(left_out, before)
            self.assertNotIn(left_out, handler.middleware)

    def test_static_files_are_still_served_and_never_under_an_api_prefix(self):
        self.assertFalse(f"/{settings.STATIC_URL}".startswith(API_PATH_PREFIXES))
        status, headers, body = wsgi_call(
            self.app, "GET", "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css"
        )
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"][0].startswith("text/css"))
        self.assertGreater(len(body), 1000)


class APIChainTests(RawWSGITestCase):
    @classmethod
    def setUpTestData(cls):
        cls.alice = make_user("alice", balance="10.00")
        cls.bob = make_user("bob")

    def bearer(self, user) -> dict:
        return {"Authorization": f"Bearer {AccessToken.for_user(user)}"}

    def test_security_headers_on_api_responses(self):
        status, headers, body = wsgi_call(self.app, "GET", "/api/health/")
        self.assertEqual((status, json.loads(body)), (200, {"status": "ok"}))
        self.assertEqual(headers["x-frame-options"], ["DENY"])
        self.assertEqual(headers["x-content-type-options"], ["nosniff"])
        self.assertEqual(headers["referrer-policy"], ["same-origin"])
        self.assertEqual(headers["cross-origin-opener-policy"], ["same-origin"])
        self.assertNotIn("set-cookie", headers)

    @override_settings(CORS_ALLOWED_ORIGINS=["https://app.example.com"])
    def test_cors_preflight_still_answers_on_the_api_chain(self):
        status, headers, _ = wsgi_call(
            self.app,
            "OPTIONS",
            "/api/balance/v1/transfer/",
            headers={
                "Origin": "https://app.example.com",
                "Access-Control-Request-Method": "POST",
            },
        )
        self.assertEqual(status, 200)
        self.assertEqual(headers["access-control-allow-origin"], ["https://app.example.com"])

    def test_money_moves_and_errors_keep_the_envelope(self):
        status, _, body = wsgi_call(
            self.app,
            "POST",
            "/api/balance/v1/transfer/",
            body={"recipient": "bob", "amount": "2.50"},
            headers=self.bearer(self.alice),
        )
        self.assertEqual(status, 201, body)
        self.assertEqual(json.loads(body)["created_at"][-1], "Z")
        self.assertEqual(balance_of(self.alice), Decimal("7.50"))
        self.assertEqual(balance_of(self.bob), Decimal("2.50"))
        self.assertEqual(Operation.objects.count(), 3)  # the deposit and both legs

        status, _, body = wsgi_call(
            self.app,
            "POST",
            "/api/balance/v1/withdraw/",
            body={"amount": "-1"},
            headers=self.bearer(self.bob),
        )
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(body)["errors"][0]["attr"], "amount")

        status, headers, body = wsgi_call(self.app, "GET", "/api/balance/v1/balance/")
        self.assertEqual(status, 401)
        self.assertIn("www-authenticate", headers)
        self.assertEqual(json.loads(body)["type"], "client_error")
        self.assertEqual(Operation.objects.count(), 3)


class SiteChainTests(RawWSGITestCase):
    def test_admin_login_still_uses_csrf_and_a_session(self):
        User.objects.filter(pk=make_user("staff").pk).update(is_staff=True, is_superuser=True)
        login = f"/{settings.ADMIN_PATH}login/"
        status, headers, body = wsgi_call(self.app, "GET", login)
        self.assertEqual(status, 200)
        csrf_cookie = next(c for c in headers["set-cookie"] if c.startswith("csrftoken="))
        csrf_cookie = csrf_cookie.split(";")[0]
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1)

        form = f"csrfmiddlewaretoken={token.decode()}&username=staff&password={STRONG_PASSWORD}"
        status, _, _ = wsgi_call(self.app, "POST", login, form=form)
        self.assertEqual(status, 403, "no CSRF cookie: refused")
        status, headers, _ = wsgi_call(self.app, "POST", login, form=form, cookies=csrf_cookie)
        self.assertEqual(status, 302)
        self.assertTrue(any(c.startswith("sessionid=") for c in headers["set-cookie"]))


def _request(path: str) -> HttpRequest:
    request = HttpRequest()
    request.path_info = path
    return request


class ResolutionTests(SimpleTestCase):
    """The API handler keeps how a path resolved, and answers exactly as Django would."""

    PLAIN = (
        "/api/health/",
        "/api/auth/v1/login/",
        "/api/auth/v1/me/",
        "/api/balance/v1/balance/",
        "/api/balance/v1/transfer/",
        "/api/balance/v1/operations/",
    )

    def setUp(self):
        self.handler = APIWSGIHandler()

    def assertSameMatch(self, match, path):
        fresh = resolve(path)
        self.assertEqual(
            (match.func, match.args, match.kwargs, match.url_name, match.route, match.view_name),
            (fresh.func, fresh.args, fresh.kwargs, fresh.url_name, fresh.route, fresh.view_name),
        )

    def test_a_path_without_parameters_is_resolved_once_then_kept(self):
        for path in self.PLAIN:
            with self.subTest(path=path):
                first = self.handler.resolve_request(request := _request(path))
                self.assertIs(request.resolver_match, first)
                self.assertSameMatch(first, path)
                with mock.patch.object(
                    type(get_resolver()), "resolve", side_effect=AssertionError("resolved again")
                ):
                    again = self.handler.resolve_request(request := _request(path))
                self.assertIs(again, first)
                self.assertIs(request.resolver_match, first)

    def test_a_path_that_does_not_resolve_is_never_kept(self):
        for path in ("/api/balance/v1/nope/", "/api/balance/v1/transfer", "/api/health/x/"):
            with self.subTest(path=path):
                for _ in range(2):
                    with self.assertRaises(Resolver404):
                        self.handler.resolve_request(_request(path))
        self.assertEqual(self.handler._resolved, {})

    def test_a_path_with_a_parameter_is_resolved_every_time(self):
        ids = [uuid.uuid4() for _ in range(3)]
        for session_id in ids:
            path = f"/api/auth/v1/sessions/{session_id}/"
            match = self.handler.resolve_request(_request(path))
            self.assertEqual(match.kwargs, {"session_id": session_id})
            self.assertSameMatch(match, path)
        self.assertEqual(self.handler._resolved, {})

    def test_another_urlconf_resolves_afresh(self):
        kept = self.handler.resolve_request(_request("/api/health/"))
        with override_settings(ROOT_URLCONF="lighTech.tests.urls_failing"):
            boom = self.handler.resolve_request(_request("/boom/api/"))
            self.assertEqual(boom.func.view_class.__name__, "ExplodingApiView")
            self.assertIsNot(self.handler.resolve_request(_request("/api/health/")), kept)
        # Leaving the override builds the root resolver again (clear_url_caches()).
        with self.assertRaises(Resolver404):
            self.handler.resolve_request(_request("/boom/api/"))
        self.assertSameMatch(self.handler.resolve_request(_request("/api/health/")), "/api/health/")

    def test_a_urlconf_chosen_for_the_request_takes_djangos_own_path(self):
        request = _request("/boom/api/")
        request.urlconf = "lighTech.tests.urls_failing"
        self.addCleanup(set_urlconf, None)  # Django's request_finished does this
        match = self.handler.resolve_request(request)
        self.assertEqual(match.func.view_class.__name__, "ExplodingApiView")
        self.assertEqual(self.handler._resolved, {})

    def test_at_most_resolved_paths_kept(self):
        with mock.patch("lighTech.handlers.RESOLVED_PATHS_KEPT", 2):
            for path in self.PLAIN:
                self.assertSameMatch(self.handler.resolve_request(_request(path)), path)
        self.assertEqual(len(self.handler._resolved), 2)
