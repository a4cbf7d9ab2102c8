"""The access log writes exactly gunicorn's line, whichever request it logs."""

import base64
import logging
import os
import re
import time
from datetime import timedelta
from types import SimpleNamespace

from django.test import SimpleTestCase
from gunicorn import glogging
from gunicorn.config import Config

from lighTech.gunicorn_logging import CLF_TIME, Logger


class _Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record) -> None:
        self.lines.append(self.format(record))


def _config(**settings) -> Config:
    cfg = Config()
    cfg.set("accesslog", os.devnull)
    for name, value in settings.items():
        cfg.set(name, value)
    return cfg


def _environ(**overrides) -> dict:
    environ = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": "/api/balance/v1/transfer/?x=1",
        "PATH_INFO": "/api/balance/v1/transfer/",
        "QUERY_STRING": "x=1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.0.0.7",
        "HTTP_USER_AGENT": 'wrk/4 "quoted"',
        "HTTP_REFERER": "https://example.test/a?b=c",
        "HTTP_AUTHORIZATION": "Bearer abc.def.ghi",
    }
    environ.update(overrides)
    return {name: value for name, value in environ.items() if value is not None}


def _basic(user: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:secret".encode()).decode()


# Each case is (what it shows, environ, response status, bytes sent).
CASES = [
    ("a typical API request", _environ(), "201 Created", 187),
    (
        "no client address, agent or referer",
        _environ(REMOTE_ADDR=None, HTTP_USER_AGENT=None, HTTP_REFERER=None),
        "200 OK",
        15,
    ),
    ("nothing sent yet", _environ(), "500 Internal Server Error", None),
    ("an empty body", _environ(REQUEST_METHOD="DELETE"), "204 No Content", 0),
    ("a status given as a number", _environ(), 404, 52),
    ("a basic-auth user with a quote", _environ(HTTP_AUTHORIZATION=_basic('al"ice')), "200 OK", 1),
    (
        "basic auth that is not base64",
        _environ(HTTP_AUTHORIZATION="Basic %%%"),
        "401 Unauthorized",
        9,
    ),
    ("quotes and percent signs in the URL", _environ(RAW_URI='/a"b%s%(h)s'), "404 Not Found", 3),
    ("HTTP/1.0", _environ(SERVER_PROTOCOL="HTTP/1.0", REQUEST_METHOD="GET"), "200 OK", 2),
]


class AccessLineTests(SimpleTestCase):
    def setUp(self):
        self.kept = _Kept()
        access = logging.getLogger("gunicorn.access")
        access.addHandler(self.kept)
        self.addCleanup(access.removeHandler, self.kept)

    def line(self, logger_class, cfg, environ, status, sent) -> str:
        logger = logger_class(cfg)
        self.addCleanup(logger.close_on_exec)
        # One clock for both, so that the lines compare whole.
        logger.now = lambda: "[04/Dec/2026:08:30:00 +0000]"
        resp = SimpleNamespace(
            status=status, sent=sent, headers=[("Content-Type", "application/json")]
        )
        req = SimpleNamespace(headers=[("HOST", "localhost"), ("USER-AGENT", "wrk")])
        before = len(self.kept.lines)
        logger.access(resp, req, environ, timedelta(microseconds=1500))
        self.assertEqual(len(self.kept.lines), before + 1)
        return self.kept.lines[-1]

    def test_the_default_format_writes_gunicorns_own_line(self):
        for what, environ, status, sent in CASES:
            with self.subTest(what):
                cfg = _config()
                self.assertEqual(
                    self.line(Logger, cfg, environ, status, sent),
                    self.line(glogging.Logger, cfg, environ, status, sent),
                )

    def test_another_format_goes_through_gunicorns_code(self):
        cfg = _config(access_log_format='%(h)s %(m)s %(U)s %(D)s %({content-type}o)s "%(a)s"')
        for what, environ, status, sent in CASES:
            with self.subTest(what):
                ours = self.line(Logger, cfg, environ, status, sent)
                self.assertEqual(ours, self.line(glogging.Logger, cfg, environ, status, sent))
                self.assertIn(" 1500 application/json ", ours)

    def test_no_line_when_the_access_log_is_off(self):
        cfg = Config()
        logger = Logger(cfg)
        logger.access(
            SimpleNamespace(status="200 OK", sent=1, headers=[]), None, _environ(), timedelta(0)
        )
        self.assertEqual(self.kept.lines, [])

    def test_a_level_above_info_silences_it(self):
        access = logging.getLogger("gunicorn.access")
        level = access.level
        self.addCleanup(access.setLevel, level)
        logger = Logger(_config())
        access.setLevel(logging.WARNING)
        logger.access(
            SimpleNamespace(status="200 OK", sent=1, headers=[]), None, _environ(), timedelta(0)
        )
        self.assertEqual(self.kept.lines, [])


class ClockTests(SimpleTestCase):
    def test_the_time_is_gunicorns_format_for_the_current_second(self):
        logger = Logger(_config())
        for _ in range(3):
            before = time.strftime(CLF_TIME)
            ours = logger.now()
            after = time.strftime(CLF_TIME)
            # gunicorn's own now() is time.strftime(CLF_TIME).
            self.assertIn(ours, {before, after})
            self.assertRegex(ours, re.compile(r"^\[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]$"))
            time.sleep(0.4)
