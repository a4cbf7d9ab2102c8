"""Gunicorn settings, driven by the same environment (and .env) as the Django settings."""

import os
from pathlib import Path

try:
    from dotenv import load_dotenv
except ImportError:  # pragma: no cover - python-dotenv is a runtime dependency
    pass
else:
    # Lets PORT and WEB_CONCURRENCY in .env apply to `make run`; real env vars still win.
    load_dotenv(Path(__file__).resolve().parent / ".env", override=False)


def _positive_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else default


# Inside a container every interface must listen, or the published port reaches nothing.
bind = f"0.0.0.0:{_positive_int('PORT', 8000)}"
# Threaded workers, one process per core: a request spends much of its time waiting for
# PostgreSQL, and the process's other threads run meanwhile. Unlike sync workers they keep
# HTTP connections alive, so a client does not pay a new TCP connection per request.
# More processes only add memory and contention (measured with `make bench`,
# docs/performance.md).
# gthread, closing a kept-alive connection after GUNICORN_KEEPALIVE_REQUESTS requests (100)
# so long-lived clients spread over the processes again, and serving a request that is
# already waiting on a kept-alive connection in the same thread, up to
# GUNICORN_INLINE_REQUESTS (4) in a row (lighTech/gunicorn_worker.py).
worker_class = "lighTech.gunicorn_worker.CappedKeepAliveThreadWorker"
workers = _positive_int("WEB_CONCURRENCY", os.cpu_count() or 1)
threads = _positive_int("GUNICORN_THREADS", 4)
keepalive = 5
timeout = 30
graceful_timeout = 30
accesslog = "-"
# gunicorn's logger, writing the default access line without its atoms dict (same text).
logger_class = "lighTech.gunicorn_logging.Logger"
errorlog = "-"
# No per-user control socket: it lives in $HOME (not writable in the image) and two servers
# on one machine (a dev server and CI's smoke run) would fight over it.
control_socket_disable = True
