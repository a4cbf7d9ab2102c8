"""Instructions per request, counted by valgrind: a measure of a code change that machine noise
does not move (docs/performance.md, "Fourth look").

    BENCH_KEEP_DB=1 make bench                  # once: leaves the seeded lightech_bench behind
    .venv/bin/python bench/instructions.py transfer [requests]

Scenarios: transfer, deposit, withdraw, balance, history, health. The WSGI application that
gunicorn serves (lighTech.wsgi) is fed the requests in this process, one thread, no HTTP; the
database and Redis are the real ones. The script runs itself twice under
`valgrind --tool=callgrind`, with 1 and with 1 + `requests` (default 300) measured requests
after the same warm-up, and prints the difference divided by `requests`: start-up and
warm-up cancel out. Two runs of unchanged code agree to about 0.1%; compare a change with
its parent by running this on both. Needs valgrind (apt-get install valgrind) and the
environment of the bench's server (POSTGRES_* and REDIS_URL as for `make bench`; POSTGRES_DB
defaults to lightech_bench). Under valgrind a request takes about 20 times longer.
"""

import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WARM_UP = 200
# A few users only, so the warm-up has verified each one's token once (a real client reuses
# its token; verifying a new one is the cache's miss path, not the steady state).
USERS = 40
LOAD_PREFIX = "bench_"  # bench/run.py's load users

PATHS = {
    "transfer": ("POST", "/api/balance/v1/transfer/"),
    "deposit": ("POST", "/api/balance/v1/deposit/"),
    "withdraw": ("POST", "/api/balance/v1/withdraw/"),
    "balance": ("GET", "/api/balance/v1/balance/"),
    "history": ("GET", "/api/balance/v1/operations/"),
    "health": ("GET", "/api/health/"),
}


def serve(scenario: str, measured: int) -> None:
    """Inside valgrind: warm up, then send `measured` requests of the scenario."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lighTech.settings")
    import django

    django.setup()
    from rest_framework_simplejwt.tokens import AccessToken

    from authapp.models import User
    from lighTech.wsgi import application

    users = [
        (str(AccessToken.for_user(user)), user.username)
        for user in User.objects.filter(username__startswith=LOAD_PREFIX).order_by("pk")[:USERS]
    ]
    if len(users) < 2:
        sys.exit("instructions: no load users; run `BENCH_KEEP_DB=1 make bench` first")
    method, path = PATHS[scenario]
    pick = random.Random(1)  # noqa: S311 - the same draws every run, not secrets
    failures = []

    def one() -> None:
        token, name = pick.choice(users)
        amount = f"{pick.randint(0, 9)}.{pick.randint(1, 99):02d}"
        body = b""
        if scenario == "transfer":
            recipient = pick.choice([other for _, other in users if other != name])
            body = json.dumps({"recipient": recipient, "amount": amount}).encode()
        elif method == "POST":
            body = json.dumps({"amount": amount, "description": "bench"}).encode()
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "SCRIPT_NAME": "",
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8089",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "127.0.0.1:8089",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "wsgi.version": (1, 0),
        }
        if scenario != "health":
            environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        if body:
            environ.update(CONTENT_TYPE="application/json", CONTENT_LENGTH=str(len(body)))
        statuses = []
        response = application(
            environ, lambda status, headers, exc_info=None: statuses.append(status)
        )
        b"".join(response)
        response.close()
        if not statuses[0].startswith("2"):
            failures.append(statuses[0])

    for _ in range(WARM_UP + measured):
        one()
    if failures:
        sys.exit(f"instructions: {len(failures)} requests failed, e.g. {failures[0]}")


def count(scenario: str, measured: int) -> int:
    """Instructions of a whole run of this script with `measured` requests, under callgrind."""
    with tempfile.TemporaryDirectory() as folder:
        result = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={folder}/out",
                sys.executable,
                __file__,
                "--serve",
                scenario,
                str(measured),
            ],
            capture_output=True,
            text=True,
            # A fixed hash seed: string hashing is randomised per process otherwise.
            env={
                "POSTGRES_DB": "lightech_bench",
                **os.environ,
                "DJANGO_DEBUG": "0",
                "PYTHONHASHSEED": "0",
            },
        )
    found = re.search(r"Collected : (\d+)", result.stderr)
    if result.returncode or not found:
        sys.exit(f"instructions: the run failed:\n{result.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    if sys.argv[1:2] == ["--serve"]:
        serve(sys.argv[2], int(sys.argv[3]))
        return
    if len(sys.argv) < 2 or sys.argv[1] not in PATHS:
        sys.exit(f"usage: bench/instructions.py {{{','.join(PATHS)}}} [requests]")
    if not shutil.which("valgrind"):
        sys.exit("instructions: valgrind is not installed (apt-get install valgrind)")
    scenario = sys.argv[1]
    requests = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    base = count(scenario, 1)
    total = count(scenario, 1 + requests)
    print(f"{scenario}: {(total - base) / requests:,.0f} instructions per request")


if __name__ == "__main__":
    main()
