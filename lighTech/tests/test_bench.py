"""bench/run.py's own safety checks (the benchmark itself runs with `make bench`)."""

import importlib.util
import socket

from django.conf import settings
from django.test import SimpleTestCase


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_run", settings.BASE_DIR / "bench/run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BenchPortTests(SimpleTestCase):
    def test_a_port_someone_listens_on_is_refused_before_the_server_starts(self):
        bench = load_bench()
        with socket.socket() as other_server:
            other_server.bind(("127.0.0.1", 0))
            other_server.listen()
            port = other_server.getsockname()[1]
            self.assertTrue(bench.port_in_use(port))
            bench.ENV["http_port"] = port
            with self.assertRaises(SystemExit) as stopped:
                bench.start_server(settings.BASE_DIR / "unused.log")
            self.assertIn("already in use", str(stopped.exception))
        self.assertFalse(bench.port_in_use(port))
