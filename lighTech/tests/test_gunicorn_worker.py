"""The gunicorn worker's check for a request already waiting on a kept-alive connection."""

import io
import socket
from types import SimpleNamespace

from django.test import SimpleTestCase

from lighTech.gunicorn_worker import request_waiting


def connection(sock, buffered: bytes = b""):
    """What request_waiting reads of gthread's TConn: its socket and its parser's buffer."""
    return SimpleNamespace(
        sock=sock, parser=SimpleNamespace(unreader=SimpleNamespace(buf=io.BytesIO(buffered)))
    )


class RequestWaitingTests(SimpleTestCase):
    def setUp(self):
        self.server, self.client = socket.socketpair()
        self.addCleanup(self.server.close)
        self.addCleanup(self.client.close)
        self.server.setblocking(True)  # as gthread's worker threads keep it

    def test_nothing_sent_yet_is_not_waiting_and_does_not_block(self):
        self.assertFalse(request_waiting(connection(self.server)))

    def test_bytes_on_the_socket_are_waiting_and_stay_there_for_the_parser(self):
        self.client.sendall(b"GET /api/health/ HTTP/1.1\r\n")
        self.assertTrue(request_waiting(connection(self.server)))
        self.assertTrue(request_waiting(connection(self.server)))
        self.assertEqual(self.server.recv(100), b"GET /api/health/ HTTP/1.1\r\n")

    def test_bytes_the_parser_already_read_ahead_are_waiting(self):
        self.assertTrue(request_waiting(connection(self.server, b"GET / HTTP/1.1\r\n")))

    def test_a_closed_or_reset_connection_is_left_to_gthread(self):
        self.client.close()
        self.assertFalse(request_waiting(connection(self.server)))
        self.server.close()
        self.assertFalse(request_waiting(connection(self.server)))
