#!/usr/bin/env bash
# Fuzz every endpoint from the app's own OpenAPI schema with schemathesis.
#
# Starts gunicorn (DEBUG off) on 127.0.0.1:$FUZZ_PORT against the configured database
# (POSTGRES_* or SQLite), registers a real user, and runs schemathesis with that user's
# Bearer token: no 5xx, every status, header and body conforms to the schema.
#   scripts/schemathesis.sh                 FUZZ_EXAMPLES (default 30) cases per operation
#   FUZZ_PORT=8590 FUZZ_EXAMPLES=100 FUZZ_SEED=1 scripts/schemathesis.sh  (default port: any free one)
# Exit status is schemathesis'; its JUnit report and the server log go to build/schemathesis/.
# It migrates and writes to the configured database (fuzz_* users): point it at a scratch one.
set -euo pipefail

cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
# FUZZ_PORT, or any free local port.
PORT="${FUZZ_PORT:-$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
EXAMPLES="${FUZZ_EXAMPLES:-30}"
BASE="http://127.0.0.1:${PORT}"
OUT=build/schemathesis
mkdir -p "$OUT"

# The fuzzer registers many users and sends bursts: the limits would answer 429 to most
# of it. The access token must outlive the run.
export DJANGO_DEBUG=0 THROTTLE_LOGIN_USERNAME=1000000/s THROTTLE_AUTH_IP=1000000/s \
  THROTTLE_MONEY_USER=1000000/s JWT_ACCESS_MINUTES=120

"$PY" manage.py migrate --noinput -v 0
"$PY" manage.py collectstatic --noinput -v 0

"$PY" -m gunicorn lighTech.wsgi:application -c gunicorn.conf.py \
  --bind "127.0.0.1:${PORT}" --workers 2 --access-logfile /dev/null \
  >"$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null || true' EXIT

"$PY" - "$BASE" <<'EOF'
import sys, time, urllib.request
deadline = time.monotonic() + 60
while True:
    try:
        urllib.request.urlopen(sys.argv[1] + "/api/health/", timeout=2)
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("the server did not start: see build/schemathesis/server.log")
        time.sleep(0.5)
EOF

# A real user with money (so withdrawals and transfers can succeed) and a recipient.
TOKEN="$("$PY" - "$BASE" <<'EOF'
import json, secrets, sys, urllib.request

base = sys.argv[1]

def post(path, body, token=None):
    request = urllib.request.Request(
        base + path, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json",
                 **({"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")

password = secrets.token_urlsafe(16)
name = "fuzz_" + secrets.token_hex(4)
post("/api/auth/v1/register/", {"username": name, "password": password})
post("/api/auth/v1/register/", {"username": name + "_to", "password": password})
token = post("/api/auth/v1/login/", {"username": name, "password": password})["access"]
post("/api/balance/v1/deposit/", {"amount": "1000000.00"}, token)
print(token)
EOF
)"

ARGS=(run "$BASE/api/schema/"
  --header "Authorization: Bearer ${TOKEN}"
  --checks all
  # A schema-valid request may still break a business rule (insufficient funds, a taken
  # username, a weak password, a cursor that is not ours): those 400s are correct, so the
  # check that every schema-valid request succeeds does not apply to this API.
  --exclude-checks positive_data_acceptance
  --max-examples "$EXAMPLES"
  --workers 2
  --request-timeout 30
  --suppress-health-check too_slow,filter_too_much
  --report junit --report-junit-path "$OUT/junit.xml"
)
if [ -n "${FUZZ_SEED:-}" ]; then ARGS+=(--seed "$FUZZ_SEED"); fi

"$PY" -c "import sys; from schemathesis.cli import schemathesis; sys.argv[0] = 'schemathesis'; sys.exit(schemathesis())" "${ARGS[@]}"
