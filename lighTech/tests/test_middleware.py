"""Browser middleware still guards the admin; the JSON API runs without it."""

import re

from django.test import Client, TestCase

from authapp.models import User
from lighTech.testing import client_for, make_user

PASSWORD = "x-Strong-pass-9"


class BrowserMiddlewareTests(TestCase):
    def setUp(self):
        User.objects.create_superuser("root", "root@example.com", PASSWORD)

    def test_admin_login_needs_the_csrf_token_and_starts_a_session(self):
        browser = Client(enforce_csrf_checks=True)
        form = browser.get("/admin/login/?next=/admin/")
        self.assertEqual(form.status_code, 200)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
        credentials = {"username": "root", "password": PASSWORD, "next": "/admin/"}

        refused = Client(enforce_csrf_checks=True).post("/admin/login/", credentials)
        self.assertEqual(refused.status_code, 403)

        accepted = browser.post("/admin/login/", {**credentials, "csrfmiddlewaretoken": token})
        self.assertRedirects(accepted, "/admin/", fetch_redirect_response=False)
        self.assertIn("sessionid", accepted.cookies)
        self.assertContains(browser.get("/admin/"), "Site administration")

    def test_admin_messages_survive_the_redirect(self):
        browser = Client()
        browser.login(username="root", password=PASSWORD)
        alice = make_user("alice")
        response = browser.post(
            f"/admin/authapp/user/{alice.pk}/change/",
            {
                "username": "alice",
                "email": "",
                "is_active": "on",
                "date_joined_0": "2026-01-01",
                "date_joined_1": "00:00:00",
            },
            follow=True,
        )
        self.assertEqual(response.status_code, 200)
        self.assertTrue(list(response.context["messages"]))

    def test_api_responses_set_no_session_or_csrf_cookie(self):
        alice = make_user("alice", balance="1.00")
        api = client_for(alice)
        api.cookies["sessionid"] = "whatever"
        for response in (
            api.get("/api/balance/v1/balance/"),
            api.post("/api/balance/v1/deposit/", {"amount": "1"}, format="json"),
            api.get("/api/health/"),
        ):
            self.assertLess(response.status_code, 300, response.content)
            self.assertEqual(dict(response.cookies), {})
            self.assertNotIn("Cookie", response.get("Vary", ""))
            # The browser middleware did not run at all.
            self.assertFalse(hasattr(response.wsgi_request, "session"))
            self.assertFalse(hasattr(response.wsgi_request, "_messages"))

    def test_pages_outside_the_api_get_the_browser_middleware(self):
        response = Client().get("/admin/login/")
        self.assertTrue(hasattr(response.wsgi_request, "session"))
        self.assertTrue(hasattr(response.wsgi_request, "_messages"))
