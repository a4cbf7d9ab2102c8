"""gunicorn's threaded worker as the API needs it: a cap on each kept-alive connection, no
poller round trip for a request already waiting on its connection, a 413 that closes its
connection, and gunicorn's own error answers in the API's JSON envelope."""

import json
import os
import socket
import threading

from django.conf import settings
from gunicorn.http.body import ChunkedReader
from gunicorn.util import write_nonblock
from gunicorn.workers.gthread import ThreadWorker


def _env_count(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdigit() else default


def keepalive_requests() -> int:
    """GUNICORN_KEEPALIVE_REQUESTS (default 100); 0 means no cap."""
    return _env_count("GUNICORN_KEEPALIVE_REQUESTS", 100)


def inline_requests() -> int:
    """GUNICORN_INLINE_REQUESTS (default 4): waiting requests a thread serves in a row; 0: none."""
    return _env_count("GUNICORN_INLINE_REQUESTS", 4)


def declared_body_length(req) -> int:
    """The request's Content-Length (gunicorn has validated it), 0 without one."""
    for name, value in req.headers:
        if name == "CONTENT-LENGTH":
            return int(value)
    return 0


def chunked_body(req) -> bool:
    """Whether the request's body comes chunked (gunicorn refuses one that also has a length)."""
    return isinstance(req.body.reader, ChunkedReader)


def request_waiting(conn) -> bool:
    """Whether the client has already sent more on this plain-TCP connection (none taken)."""
    if conn.parser.unreader.buf.getvalue():
        # Read ahead with the last request: the poller would not see these bytes.
        return True
    try:
        # b"" means the client closed: gthread's usual path finds that out and closes.
        return bool(conn.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        # Reset: left to gthread's usual path too.
        return False


class _CapturedErrorPage:
    """The client socket as gunicorn's error writer sees it: what it sends is kept, not sent."""

    def __init__(self, sock) -> None:
        self._sock = sock
        self.written = b""

    def sendall(self, data: bytes) -> None:
        self.written += data

    def __getattr__(self, name):
        return getattr(self._sock, name)


def json_error_response(page: bytes) -> bytes | None:
    """gunicorn's HTML error page as the API's JSON envelope: same status, still closing."""
    if not page.startswith(b"HTTP/"):
        return None
    _, status, reason = page.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
    # Imported here: the worker class is loaded by gunicorn's master before Django is set up.
    from lighTech.exception_handler import error_body

    if int(status) >= 500:
        body = error_body("server_error", "error", "A server error occurred.")
    else:
        body = error_body("client_error", "_".join(reason.lower().split()), f"{reason}.")
    raw = json.dumps(body).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(raw)}\r\n"
        "X-Content-Type-Options: nosniff\r\n\r\n"
    )
    return head.encode("latin-1") + raw


class CappedKeepAliveThreadWorker(ThreadWorker):
    """A gthread worker that closes a connection after it has served keepalive_requests,
    and serves a kept-alive connection's next request at once when it has already arrived.

    Each worker process runs Python on one core at a time (the GIL), and a kept-alive
    connection stays with the process that accepted it. Clients that hold their connections
    for minutes can thus leave one process with most of them and the other idle: measured with
    16 connections on 2 processes, a 10/6 or 11/5 split cost a third of the throughput. Like
    nginx's keepalive_requests, the last response of a connection says `Connection: close`
    (so the client never sends on a closing connection); the client's next connection goes to
    whichever process accepts first, which is the less busy one.

    After each response, gthread hands the connection back to its main thread, which puts it
    on the poller, wakes when the next request arrives and queues it for a thread again:
    two thread switches and half a dozen system calls per request, about a tenth of a
    worker's CPU under load (docs/performance.md). Under load the client's next request is
    often on the socket before the thread is done logging the last one; the thread then
    serves it itself, up to inline_requests in a row, and only while no other connection is
    queued for a thread: without that rule a busy connection kept its thread from the
    queued ones and the transfer p99 went from ~60 to 125-175 ms. Plain TCP only (a TLS
    socket cannot be peeked at) and HTTP/1.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.keepalive_requests = keepalive_requests()
        self.inline_requests = inline_requests()
        # Connections queued for a thread and not yet picked up (the main thread queues them,
        # the worker threads pick them up).
        self._queued = 0
        self._queued_lock = threading.Lock()

    def enqueue_req(self, conn):
        with self._queued_lock:
            self._queued += 1
        super().enqueue_req(conn)

    def handle_request(self, req, conn):
        served = getattr(conn, "requests_served", 0) + 1
        conn.requests_served = served
        if self.keepalive_requests and served >= self.keepalive_requests:
            req.force_close()
        elif declared_body_length(req) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            # Django answers 413 without reading such a body, and gthread gives up draining
            # a large one: its connection cannot carry another request, so the 413 says
            # `Connection: close` rather than promising keep-alive.
            req.force_close()
        elif chunked_body(req):
            # The app reads a chunked body only up to one byte past the limit
            # (lighTech.handlers.read_unsized_body): the rest of an oversized one stays unread,
            # and gthread would have to drain it before the next request. Such clients are
            # rare; their connection closes after the response, whatever the body's size.
            req.force_close()
        return super().handle_request(req, conn)

    def handle(self, conn):
        with self._queued_lock:
            self._queued -= 1
        keepalive = super().handle(conn)
        for _ in range(self.inline_requests):
            # Another connection waiting for a thread goes first: it was queued earlier.
            if keepalive is not True or not self.alive or self._queued:
                break
            if self.cfg.is_ssl or conn.is_http2 or not request_waiting(conn):
                break
            keepalive = super().handle(conn)
        return keepalive

    def handle_error(self, req, client, addr, exc):
        """Requests gunicorn refuses itself (a URL over 4094 bytes, an oversized or invalid
        header) get the API's JSON error envelope, like every other error, not gunicorn's HTML
        page: gunicorn decides the status and logs as usual, and its page is rewritten."""
        page = _CapturedErrorPage(client)
        super().handle_error(req, page, addr, exc)
        answer = json_error_response(page.written)
        try:
            write_nonblock(client, answer or page.written)
        except Exception:
            self.log.debug("Failed to send error message.")
