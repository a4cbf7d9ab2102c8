"""gunicorn's logger, with the access line of its default format built directly.

gunicorn builds an access line by collecting every atom its format language knows (~25,
plus one per request header, response header and environ key), copying them into a
quote-escaping dict, and passing that to the logging module, which then looks up the
caller's stack frame. Under transfer load that was ~7% of a worker's CPU
(docs/performance.md), for a line that uses eight atoms. This logger writes the same line
from those eight values, to the same `gunicorn.access` logger and handlers. Any other
access_log_format goes through gunicorn's own code.
"""

import logging
import time
import traceback

from gunicorn import glogging
from gunicorn.config import AccessLogFormat

DEFAULT_ACCESS_LOG_FORMAT = AccessLogFormat.default
# Apache's Common Log Format time, as gunicorn's Logger.now() writes it.
CLF_TIME = "[%d/%b/%Y:%H:%M:%S %z]"


def _quoted(value: str) -> str:
    # gunicorn's SafeAtoms escapes double quotes in every string atom.
    return value.replace('"', '\\"')


class Logger(glogging.Logger):
    """gunicorn's Logger; the default access format is written without the atoms dict."""

    def setup(self, cfg):
        super().setup(cfg)
        # Read on every request; setup() runs again on a configuration reload.
        self._default_access_format = cfg.access_log_format == DEFAULT_ACCESS_LOG_FORMAT
        self._clock = (None, "")

    def now(self):
        """gunicorn's `[%d/%b/%Y:%H:%M:%S %z]`, formatted once per second, not per request."""
        second = int(time.time())
        clock = self._clock
        if clock[0] != second:
            clock = self._clock = (second, time.strftime(CLF_TIME, time.localtime(second)))
        return clock[1]

    def combined_line(self, resp, environ) -> str:
        """The default format's line: `h l u t "r" s b "f" "a"`, as gunicorn writes it."""
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        sent = getattr(resp, "sent", None)
        request_line = (
            f"{environ['REQUEST_METHOD']} {environ['RAW_URI']} {environ['SERVER_PROTOCOL']}"
        )
        return (
            f"{_quoted(environ.get('REMOTE_ADDR', '-'))} - "
            f"{_quoted(self._get_user(environ) or '-')} {self.now()} "
            f'"{_quoted(request_line)}" {status} {"-" if sent is None else sent} '
            f'"{_quoted(environ.get("HTTP_REFERER", "-"))}" '
            f'"{_quoted(environ.get("HTTP_USER_AGENT", "-"))}"'
        )

    def access(self, resp, req, environ, request_time):
        if not (self.access_log_enabled and self._default_access_format):
            return super().access(resp, req, environ, request_time)
        log = self.access_log
        if not log.isEnabledFor(logging.INFO):
            return None
        try:
            # The record logging.Logger.info would make, less the caller's frame lookup
            # (the access log's formatter never shows it).
            log.handle(
                log.makeRecord(
                    log.name,
                    logging.INFO,
                    "(unknown file)",
                    0,
                    self.combined_line(resp, environ),
                    None,
                    None,
                )
            )
        except Exception:
            self.error(traceback.format_exc())
        return None
