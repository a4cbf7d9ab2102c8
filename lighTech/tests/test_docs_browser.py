"""The docs pages as a person sees them: headless Chromium against gunicorn, offline.

Needs Debian's `chromium` (`make browser-test` installs it) and the `playwright` package;
Playwright drives that binary (`executable_path`), it never downloads a browser of its own.
Screenshots land in build/browser/.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from unittest import skipUnless
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection
from django.test import TransactionTestCase

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(settings.BASE_DIR) / "build" / "browser"
PASSWORD = "correct horse battery staple"

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - a dev dependency
    sync_playwright = None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def post_json(url: str, body: dict, token: str | None = None) -> dict:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(  # noqa: S310 - a local http URL we built
        url, data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.loads(response.read())


@skipUnless(
    os.path.exists(CHROMIUM) and shutil.which(CHROMIUM),
    f"Chromium not found at {CHROMIUM}: run `make browser-test` (installs Debian's chromium)",
)
@skipUnless(sync_playwright, "playwright is not installed (requirements-dev.txt)")
class DocsBrowserTests(TransactionTestCase):
    """Swagger UI and ReDoc render every endpoint; Try it out works with a Bearer token."""

    def setUp(self):
        self.port = int(os.environ.get("BROWSER_TEST_PORT") or free_port())
        self.base = f"http://127.0.0.1:{self.port}"
        db = connection.settings_dict
        env = {
            **os.environ,
            "DJANGO_DEBUG": "0",
            # No connection outlives a request: the test database can be dropped afterwards.
            "DJANGO_CONN_MAX_AGE": "0",
        }
        if connection.vendor == "postgresql":
            env["POSTGRES_DB"] = db["NAME"]
        else:
            env["POSTGRES_DB"] = ""
            env["SQLITE_PATH"] = str(db["NAME"])
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.log = open(SCREENSHOTS / "gunicorn.log", "w")  # noqa: SIM115
        self.addCleanup(self.log.close)
        self.server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "lighTech.wsgi:application",
                "-c",
                "gunicorn.conf.py",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "2",
            ],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.addCleanup(self.stop_server)
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{self.base}/api/health/", timeout=2)  # noqa: S310
                break
            except OSError:
                if time.monotonic() > deadline or self.server.poll() is not None:
                    self.fail("gunicorn did not start; see build/browser/gunicorn.log")
                time.sleep(0.3)

    def stop_server(self):
        self.server.terminate()
        try:
            self.server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.server.kill()
            self.server.wait()

    def test_swagger_ui_authorizes_and_tries_get_balance_and_redoc_renders(self):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        post_json(f"{self.base}/api/auth/v1/register/", {"username": "eve", "password": PASSWORD})
        token = post_json(
            f"{self.base}/api/auth/v1/login/", {"username": "eve", "password": PASSWORD}
        )["access"]
        post_json(f"{self.base}/api/balance/v1/deposit/", {"amount": "42.50"}, token)
        with urllib.request.urlopen(f"{self.base}/api/schema/?format=json") as response:  # noqa: S310
            schema = json.loads(response.read())
        operations = sum(len(methods) for methods in schema["paths"].values())

        offsite = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 2200})

                # Offline: anything not served by our own server is refused and recorded.
                def only_local(route):
                    if urlsplit(route.request.url).hostname == "127.0.0.1":
                        route.continue_()
                    else:
                        offsite.append(route.request.url)
                        route.abort()

                page.route("**/*", only_local)
                self.swagger(page, operations, token)
                self.redoc(page, schema)
            finally:
                browser.close()
        self.assertEqual(offsite, [], "the docs pages reached outside the server")

    def swagger(self, page, operations: int, token: str):
        page.goto(f"{self.base}/api/docs/")
        blocks = page.locator(".opblock")
        expect(blocks.first).to_be_visible(timeout=30_000)
        self.assertEqual(blocks.count(), operations)
        for path in ("/api/auth/v1/sessions/", "/api/balance/v1/transfer/"):
            expect(page.locator(f'.opblock-summary-path[data-path="{path}"]').first).to_be_visible()

        page.locator("button.authorize").first.click()
        modal = page.locator(".modal-ux")
        expect(modal).to_be_visible()
        modal.locator("input").first.fill(token)
        modal.locator("button.authorize").click()
        # Authorized: the modal shows the masked value and offers to remove it.
        expect(modal.get_by_role("heading", name="Authorized")).to_be_visible()
        expect(modal.get_by_role("button", name="Remove authorization")).to_be_visible()
        page.screenshot(path=str(SCREENSHOTS / "swagger-authorize-dialog.png"))
        modal.get_by_role("button", name="Close").first.click()
        page.screenshot(path=str(SCREENSHOTS / "swagger-authorized.png"))

        operation = page.locator(".opblock-get").filter(
            has=page.locator('.opblock-summary-path[data-path="/api/balance/v1/balance/"]')
        )
        operation.locator(".opblock-summary").click()
        operation.locator("button.try-out__btn").click()
        operation.locator("button.execute").click()
        status = operation.locator(".live-responses-table .response .response-col_status")
        expect(status.first).to_have_text("200", timeout=30_000)
        body = operation.locator(".live-responses-table .response-col_description pre").first
        expect(body).to_contain_text('"balance": "42.50"')
        operation.scroll_into_view_if_needed()
        operation.screenshot(path=str(SCREENSHOTS / "swagger-try-balance.png"))
        page.screenshot(path=str(SCREENSHOTS / "swagger-full.png"), full_page=True)

    def redoc(self, page, schema: dict):
        page.goto(f"{self.base}/api/redoc/")
        expect(page.get_by_text(schema["info"]["title"]).first).to_be_visible(timeout=30_000)
        expect(page.get_by_text("List my sessions").first).to_be_attached()
        expect(page.get_by_text("Get my balance").first).to_be_attached()
        page.screenshot(path=str(SCREENSHOTS / "redoc.png"))
