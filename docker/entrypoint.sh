#!/bin/sh
# Wait for PostgreSQL (when POSTGRES_DB is set), apply migrations, then run the given
# command (gunicorn by default). Works in the image and from a checkout, with the
# virtualenv's python on PATH (or PYTHON=/path/to/python).
#   DB_WAIT_TIMEOUT  seconds to wait for the database (default 60)
set -eu

cd "$(dirname "$0")/.."

if [ -z "${PYTHON:-}" ]; then
    if command -v python >/dev/null 2>&1; then PYTHON=python; else PYTHON=python3; fi
fi

if [ "$#" -eq 0 ]; then
    set -- gunicorn -c gunicorn.conf.py lighTech.wsgi:application
fi

if [ -n "${POSTGRES_DB:-}" ]; then
    echo "entrypoint: waiting for PostgreSQL at ${POSTGRES_HOST:-localhost}:${POSTGRES_PORT:-5432}"
    "$PYTHON" - <<'PY'
import os
import sys
import time

import psycopg2

timeout = float(os.environ.get("DB_WAIT_TIMEOUT") or 60)
deadline = time.monotonic() + timeout
params = {
    "dbname": os.environ["POSTGRES_DB"],
    "user": os.environ.get("POSTGRES_USER") or None,
    "password": os.environ.get("POSTGRES_PASSWORD") or None,
    "host": os.environ.get("POSTGRES_HOST") or "localhost",
    "port": os.environ.get("POSTGRES_PORT") or "5432",
    "connect_timeout": 3,
}
while True:
    try:
        psycopg2.connect(**params).close()
    except psycopg2.OperationalError as exc:
        if time.monotonic() >= deadline:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            sys.exit(f"entrypoint: gave up on PostgreSQL after {timeout:g}s: {reason}")
        time.sleep(1)
    else:
        break
PY
    echo "entrypoint: PostgreSQL is up"
fi

"$PYTHON" manage.py migrate --noinput

exec "$@"
