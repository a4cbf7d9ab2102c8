"""gunicorn's threaded worker, with a cap on the requests one kept-alive connection may carry."""

import os

from gunicorn.workers.gthread import ThreadWorker


def keepalive_requests() -> int:
    """GUNICORN_KEEPALIVE_REQUESTS (default 100); 0 means no cap."""
    value = os.environ.get("GUNICORN_KEEPALIVE_REQUESTS", "").strip()
    return int(value) if value.isdigit() else 100


class CappedKeepAliveThreadWorker(ThreadWorker):
    """A gthread worker that closes a connection after it has served keepalive_requests.

    Each worker process runs Python on one core at a time (the GIL), and a kept-alive
    connection stays with the process that accepted it. Clients that hold their connections
    for minutes can thus leave one process with most of them and the other idle: measured with
    16 connections on 2 processes, a 10/6 or 11/5 split cost a third of the throughput. Like
    nginx's keepalive_requests, the last response of a connection says `Connection: close`
    (so the client never sends on a closing connection); the client's next connection goes to
    whichever process accepts first, which is the less busy one.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.keepalive_requests = keepalive_requests()

    def handle_request(self, req, conn):
        served = getattr(conn, "requests_served", 0) + 1
        conn.requests_served = served
        if self.keepalive_requests and served >= self.keepalive_requests:
            req.force_close()
        return super().handle_request(req, conn)
