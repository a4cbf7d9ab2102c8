"""End to end: the real server started as `make run` starts it, driven over real HTTP."""

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.test import TransactionTestCase

BASE_DIR = Path(settings.BASE_DIR)
PASSWORD = "c0rrect-Horse-battery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn with the project's gunicorn.conf.py, DEBUG off, on the test database."""

    def __init__(self, **env_overrides: str) -> None:
        self.port = free_port()
        env = {**os.environ, "PORT": str(self.port), "WEB_CONCURRENCY": "2", "DJANGO_DEBUG": "0"}
        db = connection.settings_dict
        if connection.vendor == "postgresql":
            env["POSTGRES_DB"] = db["NAME"]
        else:
            env["SQLITE_PATH"] = str(db["NAME"])
        env.update(env_overrides)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "gunicorn.conf.py",
                "lighTech.wsgi:application",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(self.process.stderr.read().decode()[-2000:])
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("gunicorn did not start within 60 s")

    def stop(self) -> str:
        """Stop the server; returns what it logged."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self.process.stderr.closed:
            return ""
        log = self.process.stderr.read().decode(errors="replace")
        self.process.stderr.close()
        return log

    def call(self, method: str, path: str, body=None, token: str | None = None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)  # noqa: S310
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                raw, status, headers = response.read(), response.status, response.headers
        except urllib.error.HTTPError as error:
            raw, status, headers = error.read(), error.code, error.headers
        return status, (json.loads(raw) if raw else None), headers


class ReadmeWalkthroughTests(TransactionTestCase):
    def setUp(self):
        self.server = Server()
        self.addCleanup(self.server.stop)

    def test_readme_walkthrough_over_http(self):
        call = self.server.call
        self.assertEqual(call("GET", "/api/health/")[:2], (200, {"status": "ok"}))
        for name in ("alice", "bob"):
            status, body, _ = call(
                "POST", "/api/auth/v1/register/", {"username": name, "password": PASSWORD}
            )
            self.assertEqual(status, 201, body)
        status, tokens, _ = call(
            "POST", "/api/auth/v1/login/", {"username": "alice", "password": PASSWORD}
        )
        self.assertEqual(status, 200)
        access = tokens["access"]

        status, op, _ = call("POST", "/api/balance/v1/deposit/", {"amount": "100.00"}, access)
        self.assertEqual((status, op["balance_after"]), (201, "100.00"))
        status, op, _ = call(
            "POST",
            "/api/balance/v1/transfer/",
            {"recipient": "bob", "amount": "30.00", "description": "lunch"},
            access,
        )
        self.assertEqual((status, op["type"], op["counterparty"]), (201, "transfer_out", "bob"))
        status, op, _ = call("POST", "/api/balance/v1/withdraw/", {"amount": "20.00"}, access)
        self.assertEqual((status, op["balance_after"]), (201, "50.00"))
        status, body, _ = call("POST", "/api/balance/v1/withdraw/", {"amount": "500"}, access)
        self.assertEqual((status, body["errors"][0]["code"]), (400, "insufficient_funds"))
        self.assertEqual(
            call("GET", "/api/balance/v1/balance/", token=access)[1], {"balance": "50.00"}
        )
        status, page, _ = call("GET", "/api/balance/v1/operations/", token=access)
        self.assertEqual(
            [o["type"] for o in page["results"]], ["withdraw", "transfer_out", "deposit"]
        )

        status, rotated, _ = call(
            "POST", "/api/auth/v1/token/refresh/", {"refresh": tokens["refresh"]}
        )
        self.assertEqual(status, 200)
        self.assertEqual(
            call("POST", "/api/auth/v1/token/refresh/", {"refresh": tokens["refresh"]})[0], 401
        )
        status, _, _ = call(
            "POST", "/api/auth/v1/logout/", {"refresh": rotated["refresh"]}, rotated["access"]
        )
        self.assertEqual(status, 204)
        self.assertEqual(
            call("POST", "/api/auth/v1/token/refresh/", {"refresh": rotated["refresh"]})[0], 401
        )

        status, body, headers = call("GET", "/api/auth/v1/me/")
        self.assertEqual(status, 401)
        self.assertTrue(headers["WWW-Authenticate"].startswith("Bearer"))
        status, body, _ = call("POST", "/api/balance/v1/deposit", {"amount": "1"}, access)
        self.assertEqual((status, body["errors"][0]["code"]), (404, "not_found"))

    def test_static_docs_are_served_with_debug_off(self):
        for path in (
            "/api/docs/",
            "/api/redoc/",
            "/admin/login/",
            "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
            "/static/admin/css/base.css",
        ):
            with self.subTest(path=path):
                request = urllib.request.Request(self.server.base + path)  # noqa: S310
                with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                    self.assertEqual(response.status, 200)


class DatabaseDownTests(TransactionTestCase):
    """With the database unreachable the API answers 503 in the envelope, never a 500."""

    def test_unreachable_database_gives_503s(self):
        if connection.vendor == "postgresql":
            server = Server(POSTGRES_PORT=str(free_port()), POSTGRES_CONNECT_TIMEOUT="2")
        else:
            server = Server(SQLITE_PATH="/nonexistent-dir/db.sqlite3")
        self.addCleanup(server.stop)
        for method, path, body in (
            ("GET", "/api/health/", None),
            ("POST", "/api/auth/v1/login/", {"username": "alice", "password": PASSWORD}),
            ("POST", "/api/auth/v1/register/", {"username": "carol", "password": PASSWORD}),
        ):
            with self.subTest(path=path):
                status, payload, _ = server.call(method, path, body)
                self.assertEqual(status, 503, payload)
                self.assertEqual(payload["errors"][0]["code"], "service_unavailable")
        log = server.stop()
        # An outage is logged one line per request, not one traceback per request.
        self.assertIn("Database unavailable", log)
        self.assertNotIn("Traceback", log)


class KeepAliveCapTests(TransactionTestCase):
    def test_a_connection_is_closed_politely_after_its_request_cap(self):
        server = Server(GUNICORN_KEEPALIVE_REQUESTS="3")
        self.addCleanup(server.stop)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        self.addCleanup(conn.close)
        answers = []
        for _ in range(3):
            conn.request("GET", "/api/health/")
            response = conn.getresponse()
            response.read()
            answers.append((response.status, response.getheader("Connection", "").lower()))
        # The last response of the connection says so: a client never sends on a closing one.
        self.assertEqual(answers, [(200, "keep-alive"), (200, "keep-alive"), (200, "close")])
        # The client's next connection is served as usual.
        status, body, _ = server.call("GET", "/api/health/")
        self.assertEqual((status, body), (200, {"status": "ok"}))


def read_responses(stream, count: int) -> list[tuple[int, dict, bytes]]:
    """Read `count` HTTP/1.1 responses from one buffered stream: (status, headers, body)."""
    responses = []
    for _ in range(count):
        status_line = stream.readline()
        if not status_line:
            break  # the server closed the connection
        headers = {}
        for line in iter(stream.readline, b"\r\n"):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding") == "chunked":
            body = b""
            while size := int(stream.readline(), 16):
                body += stream.read(size)
                stream.readline()
            stream.readline()
        else:
            body = stream.read(int(headers.get("content-length", "0")))
        responses.append((int(status_line.split()[1]), headers, body))
    return responses


class InlineNextRequestTests(TransactionTestCase):
    """Requests already waiting on a kept-alive connection are served by the same thread."""

    def pipelined(self, server, raw_requests: list[bytes], expect: int):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(b"".join(raw_requests))  # all of them before reading any answer
            with sock.makefile("rb") as stream:
                answers = read_responses(stream, expect)
                closed = stream.read(1) == b"" if len(answers) < len(raw_requests) else None
        return answers, closed

    def test_pipelined_requests_are_answered_in_order_past_the_inline_limit(self):
        server = Server(GUNICORN_INLINE_REQUESTS="4")
        self.addCleanup(server.stop)
        body = json.dumps({"username": "nobody", "password": "wrong-password"}).encode()
        login = b"".join(
            [
                b"POST /api/auth/v1/login/ HTTP/1.1\r\nHost: localhost\r\n",
                b"Content-Type: application/json\r\n",
                b"Content-Length: %d\r\n\r\n" % len(body),
                body,
            ]
        )
        health = b"GET /api/health/ HTTP/1.1\r\nHost: localhost\r\n\r\n"
        # Seven requests: one thread serves the first and four more inline, then the
        # connection goes back to gthread's own path, which finds the rest in its buffer.
        requests = [health, login, health, login, health, health, login]
        answers, _ = self.pipelined(server, requests, expect=len(requests))
        self.assertEqual([status for status, _, _ in answers], [200, 401, 200, 401, 200, 200, 401])
        for (_, _, payload), sent in zip(answers, requests, strict=True):
            if sent is health:
                self.assertEqual(json.loads(payload), {"status": "ok"})
            else:
                self.assertEqual(json.loads(payload)["errors"][0]["code"], "no_active_account")

    def test_the_keepalive_cap_still_closes_a_pipelining_connection(self):
        server = Server(GUNICORN_KEEPALIVE_REQUESTS="3", GUNICORN_INLINE_REQUESTS="4")
        self.addCleanup(server.stop)
        health = b"GET /api/health/ HTTP/1.1\r\nHost: localhost\r\n\r\n"
        answers, closed = self.pipelined(server, [health] * 5, expect=5)
        self.assertEqual(
            [(status, headers.get("connection")) for status, headers, _ in answers],
            [(200, "keep-alive"), (200, "keep-alive"), (200, "close")],
        )
        self.assertTrue(closed, "the server closes after the capped response")


class OversizedBodyTests(TransactionTestCase):
    def test_a_413_closes_the_connection_instead_of_promising_keep_alive(self):
        server = Server()
        self.addCleanup(server.stop)
        body = b'{"amount": "1", "description": "' + b"x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        body += b'"}'
        request = b"".join(
            [
                b"POST /api/auth/v1/register/ HTTP/1.1\r\nHost: localhost\r\n",
                b"Content-Type: application/json\r\n",
                b"Content-Length: %d\r\n\r\n" % len(body),
                body,
            ]
        )
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(request)
            with sock.makefile("rb") as stream:
                [(status, headers, payload)] = read_responses(stream, 1)
                rest = stream.read()
        self.assertEqual(status, 413)
        self.assertEqual(json.loads(payload)["errors"][0]["code"], "request_too_large")
        self.assertEqual(headers.get("connection"), "close")
        self.assertEqual(rest, b"", "nothing more on a connection the server closes")
        # The client's next connection is served as usual.
        status, payload, _ = server.call("GET", "/api/health/")
        self.assertEqual((status, payload), (200, {"status": "ok"}))


def send_ignoring_close(sock, data: bytes) -> None:
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        sock.sendall(data)


def chunked(body: bytes, size: int) -> bytes:
    """`body` in the chunked transfer coding, cut into chunks of `size` bytes."""
    parts = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts) + b"0\r\n\r\n"


class ChunkedBodyTests(TransactionTestCase):
    """A body sent with `Transfer-Encoding: chunked` (no Content-Length) is read like any other.

    Django reads a body only up to Content-Length; without the fix in lighTech.handlers a
    chunked deposit answered 400 "amount: required" and a chunked 3 MB body slipped past the
    413 (found by a hostile-client pass).
    """

    def setUp(self):
        self.server = Server()
        self.addCleanup(self.server.stop)

    def send_chunked(self, path: str, body: bytes, token: str | None = None, size: int = 7):
        data = chunked(body, size)
        head = b"POST %s HTTP/1.1\r\nHost: localhost\r\n" % path.encode()
        head += b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
        if token:
            head += b"Authorization: Bearer %s\r\n" % token.encode()
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as sock:
            # Sent from another thread while this one reads, as an HTTP client does: the server
            # may answer (413) and close before the whole body is sent.
            sender = threading.Thread(
                target=send_ignoring_close, args=(sock, head + b"\r\n" + data)
            )
            sender.start()
            with sock.makefile("rb") as stream:
                [(status, headers, payload)] = read_responses(stream, 1)
                rest = stream.read()
            sender.join()
        self.assertEqual(rest, b"", "the connection closes after a chunked request")
        self.assertEqual(headers.get("connection"), "close")
        return status, json.loads(payload)

    def test_chunked_bodies_register_log_in_and_move_money(self):
        credentials = json.dumps({"username": "chunky", "password": PASSWORD}).encode()
        status, body = self.send_chunked("/api/auth/v1/register/", credentials)
        self.assertEqual((status, body["username"]), (201, "chunky"), body)
        status, tokens = self.send_chunked("/api/auth/v1/login/", credentials)
        self.assertEqual(status, 200, tokens)
        access = tokens["access"]
        status, op = self.send_chunked(
            "/api/balance/v1/deposit/", b'{"amount": "10.50", "description": "chunked"}', access
        )
        self.assertEqual((status, op["amount"], op["balance_after"]), (201, "10.50", "10.50"))
        # Bad input sent chunked is refused as it would be with a Content-Length.
        status, body = self.send_chunked("/api/balance/v1/withdraw/", b'{"amount": "-1"}', access)
        self.assertEqual((status, body["errors"][0]["attr"]), (400, "amount"))
        status, body = self.send_chunked("/api/balance/v1/deposit/", b"{not json", access)
        self.assertEqual(status, 400)
        self.assertEqual(
            self.server.call("GET", "/api/balance/v1/balance/", token=access)[1],
            {"balance": "10.50"},
        )

    def test_an_oversized_chunked_body_answers_413_and_changes_nothing(self):
        body = b'{"username": "big", "password": "' + b"x" * (3 * 1024 * 1024) + b'"}'
        status, payload = self.send_chunked("/api/auth/v1/register/", body, size=65536)
        self.assertEqual((status, payload["errors"][0]["code"]), (413, "request_too_large"))
        status, payload, _ = self.server.call(
            "POST", "/api/auth/v1/login/", {"username": "big", "password": "x"}
        )
        self.assertEqual(status, 401)
        # The next connection is served as usual.
        status, payload, _ = self.server.call("GET", "/api/health/")
        self.assertEqual((status, payload), (200, {"status": "ok"}))


class ProtocolErrorEnvelopeTests(TransactionTestCase):
    """What gunicorn refuses before Django sees it answers in the API's envelope too."""

    def test_oversized_url_oversized_header_and_invalid_header_are_json(self):
        server = Server()
        self.addCleanup(server.stop)
        cases = [
            (b"GET /api/balance/v1/operations/?cursor=" + b"A" * 5000 + b" HTTP/1.1\r\n", 414),
            (b"GET /api/health/ HTTP/1.1\r\nX-Big: " + b"b" * 9000 + b"\r\n", 431),
            (b"GET /api/health/ HTTP/1.1\r\nIdempotency-Key: \x7f\r\n", 400),
        ]
        for head, expected in cases:
            with self.subTest(status=expected):
                request = head + b"Host: localhost\r\n\r\n"
                with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
                    sock.sendall(request)
                    with sock.makefile("rb") as stream:
                        [(status, headers, payload)] = read_responses(stream, 1)
                self.assertEqual(status, expected)
                self.assertEqual(headers["content-type"], "application/json")
                self.assertEqual(headers["connection"], "close")
                self.assertEqual(headers["x-content-type-options"], "nosniff")
                body = json.loads(payload)
                self.assertEqual(body["type"], "client_error")
                self.assertEqual(len(body["errors"]), 1)
                self.assertIsNone(body["errors"][0]["attr"])
