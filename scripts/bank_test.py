#!/usr/bin/env python3
"""Jepsen-style bank test: concurrent HTTP clients, killed workers and a restarted database.

Starts a private PostgreSQL cluster (initdb in a temporary directory) and gunicorn serving the
app on it, registers a few users, then runs N client threads doing random deposits,
withdrawals and transfers, each with an Idempotency-Key, while it kill -9s gunicorn workers,
stops and restarts PostgreSQL, and lets some requests time out on the client side. Every
request whose outcome is unknown (timeout, reset connection, 503) is retried with the same
key until it gets a definite answer. Afterwards it reads the ledger and checks that nothing
was lost, created or applied twice, prints a table and exits 1 on any anomaly.

    python scripts/bank_test.py --clients 16 --duration 300 --worker-kills 6 --db-restarts 2
"""

# Randomness here picks workloads and victims, never secrets.
# ruff: noqa: S311
import argparse
import glob
import http.client
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
API = "/api/balance/v1/"
PASSWORD = "bank-Test-pass-9137"  # noqa: S105 - throwaway users of a throwaway database
UNKNOWN = "unknown"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16, help="client threads")
    parser.add_argument("--duration", type=float, default=60, help="seconds of traffic")
    parser.add_argument("--users", type=int, default=8, help="accounts money moves among")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--worker-kills", type=int, default=2, help="kill -9 of a worker")
    parser.add_argument("--db-restarts", type=int, default=1, help="PostgreSQL stop+start")
    parser.add_argument(
        "--outage", type=float, default=3.0, help="seconds PostgreSQL stays down per restart"
    )
    parser.add_argument(
        "--client-timeout", type=float, default=5.0, help="HTTP timeout of a normal request"
    )
    parser.add_argument(
        "--short-timeout-rate",
        type=float,
        default=0.03,
        help="share of first attempts sent with a tiny timeout, to force retries",
    )
    parser.add_argument("--short-timeout", type=float, default=0.02, help="that tiny timeout")
    parser.add_argument(
        "--resolve-timeout",
        type=float,
        default=120,
        help="seconds a request may keep retrying before it counts as unresolved",
    )
    parser.add_argument(
        "--recovery-timeout",
        type=float,
        default=30,
        help="seconds the app may take to answer again after PostgreSQL is back",
    )
    parser.add_argument("--replay-sample", type=int, default=200, help="keys re-sent at the end")
    parser.add_argument("--initial", type=Decimal, default=Decimal("500.00"))
    parser.add_argument("--http-port", type=int, default=0, help="0: a free port")
    parser.add_argument("--pg-port", type=int, default=0, help="0: a free port")
    parser.add_argument("--pg-bin", default="", help="PostgreSQL bin directory")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    return parser.parse_args(argv)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- the private PostgreSQL cluster -------------------------------------------------------


class Cluster:
    """A throwaway PostgreSQL cluster this script may stop and start at will."""

    def __init__(self, workdir: Path, port: int, bindir: str) -> None:
        self.data = workdir / "pgdata"
        self.log = workdir / "postgresql.log"
        self.port = port
        self.bindir = Path(bindir or self._find_bindir())
        # PostgreSQL refuses to run as root: as root, run it as the postgres OS user.
        self.prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.prefix:
            shutil.chown(workdir, user="postgres")

    @staticmethod
    def _find_bindir() -> str:
        found = shutil.which("pg_config")
        if found:
            out = subprocess.run([found, "--bindir"], capture_output=True, text=True)
            candidate = out.stdout.strip()
            if (Path(candidate) / "initdb").exists():
                return candidate
        versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: p.split("/")[-2])
        if not versions:
            sys.exit("bank-test: no PostgreSQL binaries found; pass --pg-bin")
        return versions[-1]

    def _run(self, *args: str) -> None:
        subprocess.run([*self.prefix, *args], check=True, stdout=subprocess.DEVNULL)

    def init(self) -> None:
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 "
            "-c max_connections=60 -c shared_buffers=64MB"
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-w",
            "-t",
            "60",
            "-o",
            options,
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        result = subprocess.run(
            [*self.prefix, str(self.bindir / "pg_ctl"), "-D", str(self.data), "status"],
            capture_output=True,
        )
        return result.returncode == 0


# --- HTTP ---------------------------------------------------------------------------------


@dataclass
class Answer:
    """One HTTP attempt: a status and body, or the error that left the outcome unknown."""

    status: int | None
    body: bytes = b""
    replayed: bool = False
    error: str = ""

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def call(port, method, path, *, body=None, token=None, key=None, timeout=5.0) -> Answer:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if key:
        headers["Idempotency-Key"] = key
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        payload = None if body is None else json.dumps(body)
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        data = response.read()
        replayed = response.getheader("Idempotent-Replayed") == "true"
        return Answer(response.status, data, replayed)
    except (OSError, http.client.HTTPException) as exc:
        return Answer(None, error=type(exc).__name__)
    finally:
        conn.close()


def is_envelope(answer: Answer, error_type: str, code: str | None = None) -> bool:
    data = answer.json()
    try:
        ok = data["type"] == error_type and isinstance(data["errors"], list)
        first = data["errors"][0]
        ok = ok and {"code", "detail", "attr"} <= set(first)
        return ok and (code is None or first["code"] == code)
    except (TypeError, KeyError, IndexError):
        return False


# --- the workload -------------------------------------------------------------------------


@dataclass
class Request:
    """One logical money request: one Idempotency-Key, however many HTTP attempts it took."""

    key: str
    kind: str
    user: str
    amount: Decimal
    recipient: str | None = None
    attempts: int = 0
    in_doubt: bool = False
    outcome: str = "pending"  # acknowledged, refused, unresolved
    status: int | None = None
    operation: dict | None = None
    replayed: bool = False
    unknown_reasons: Counter = field(default_factory=Counter)

    def body(self) -> dict:
        body = {"amount": str(self.amount), "description": self.key}
        if self.kind == "transfer":
            body["recipient"] = self.recipient
        return body


class Stats:
    """Thread-safe tallies of everything the clients saw."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counter: Counter = Counter()
        self.anomalies: list[str] = []
        self.requests: list[Request] = []

    def add(self, name: str, n: int = 1) -> None:
        with self.lock:
            self.counter[name] += n

    def anomaly(self, text: str) -> None:
        with self.lock:
            self.anomalies.append(text)


class Bank:
    """The clients, the faults and the final checks."""

    def __init__(self, args: argparse.Namespace, port: int, cluster: Cluster) -> None:
        self.args = args
        self.port = port
        self.cluster = cluster
        self.stats = Stats()
        self.tokens: dict[str, str] = {}
        self.users: list[str] = []
        self.stop_traffic = threading.Event()
        self.stop_probe = threading.Event()
        self.db_down = threading.Event()
        self.refresh: dict[str, str] = {}
        self.outages: list[dict] = []
        self.kills: list[dict] = []
        self.probes: list[tuple[float, str, Answer]] = []
        self.rng = random.Random(args.seed)

    # Setup ------------------------------------------------------------------------------

    def setup_users(self) -> None:
        for n in range(self.args.users):
            name = f"bank{n}"
            answer = call(
                self.port,
                "POST",
                "/api/auth/v1/register/",
                body={"username": name, "password": PASSWORD},
                timeout=60,
            )
            if answer.status != 201:
                sys.exit(f"bank-test: register {name}: {answer.status} {answer.body[:300]!r}")
            answer = call(
                self.port,
                "POST",
                "/api/auth/v1/login/",
                body={"username": name, "password": PASSWORD},
                timeout=60,
            )
            if answer.status != 200:
                sys.exit(f"bank-test: login {name}: {answer.status} {answer.body[:300]!r}")
            self.tokens[name] = answer.json()["access"]
            self.refresh[name] = answer.json()["refresh"]
            self.users.append(name)
        for name in self.users:
            request = Request(f"init-{name}", "deposit", name, self.args.initial)
            self.execute(request, random.Random(0))
            if request.outcome != "acknowledged":
                sys.exit(f"bank-test: initial deposit failed: {request}")

    # Clients ----------------------------------------------------------------------------

    def execute(self, request: Request, rng: random.Random) -> None:
        """Send until a definite answer; every unknown outcome is retried with the same key."""
        path = f"{API}{request.kind}/"
        started = time.monotonic()
        with self.stats.lock:
            self.stats.requests.append(request)
        while True:
            request.attempts += 1
            timeout = self.args.client_timeout
            if request.attempts == 1 and rng.random() < self.args.short_timeout_rate:
                timeout = self.args.short_timeout
            answer = call(
                self.port,
                "POST",
                path,
                body=request.body(),
                token=self.tokens[request.user],
                key=request.key,
                timeout=timeout,
            )
            self.stats.add("http attempts")
            if answer.status is not None:
                self.stats.add(f"HTTP {answer.status}")
            if answer.status == 201:
                request.outcome, request.status = "acknowledged", 201
                request.operation, request.replayed = answer.json(), answer.replayed
                return
            if answer.status in (400, 404):
                request.outcome, request.status = "refused", answer.status
                request.replayed = answer.replayed
                if not is_envelope(answer, "client_error", "insufficient_funds"):
                    self.stats.anomaly(
                        f"{request.key}: unexpected {answer.status} {answer.body[:200]!r}"
                    )
                return
            if answer.status == 429:
                # Refused before it ran (throttles act before the key is claimed): not in
                # doubt, just not done yet.
                self.stats.add("throttled")
                if time.monotonic() - started > self.args.resolve_timeout:
                    request.outcome = "unresolved"
                    return
                time.sleep(1 + rng.random())
                continue
            if answer.status is None:
                reason = answer.error
            elif answer.status == 503:
                reason = "503"
                if not is_envelope(answer, "server_error", "service_unavailable"):
                    self.stats.anomaly(f"{request.key}: 503 outside the envelope {answer.body!r}")
            elif answer.status == 409 and is_envelope(
                answer, "client_error", "idempotency_key_in_use"
            ):
                reason = "409 in use"
            else:
                # A 500, a 409 reused for the very same body, anything else: a bug.
                reason = f"HTTP {answer.status}"
                self.stats.anomaly(
                    f"{request.key}: attempt {request.attempts} answered {answer.status} "
                    f"{answer.body[:300]!r}"
                )
            request.in_doubt = True
            request.unknown_reasons[reason] += 1
            if time.monotonic() - started > self.args.resolve_timeout:
                request.outcome = "unresolved"
                return
            time.sleep(min(2.0, 0.1 * 2 ** min(request.attempts, 5)) * (0.5 + rng.random()))

    def client(self, number: int) -> None:
        rng = random.Random(None if self.args.seed is None else self.args.seed * 1000 + number)
        sequence = 0
        while not self.stop_traffic.is_set():
            sequence += 1
            user = rng.choice(self.users)
            kind = rng.choices(("deposit", "withdraw", "transfer"), (3, 3, 4))[0]
            amount = Decimal(rng.randint(1, 15_000)) / 100
            recipient = (
                rng.choice([u for u in self.users if u != user]) if kind == "transfer" else None
            )
            key = f"c{number}-{sequence}-{uuid.uuid4().hex[:12]}"
            self.execute(Request(key, kind, user, amount, recipient), rng)

    # Faults -----------------------------------------------------------------------------

    def gunicorn_workers(self, master: int) -> list[int]:
        workers = []
        for stat in glob.glob("/proc/[0-9]*/stat"):
            try:
                text = Path(stat).read_text()
            except OSError:
                continue
            # The command name is in parentheses and may hold spaces: split after it.
            fields = text[text.rindex(")") + 2 :].split()
            if int(fields[1]) == master:
                workers.append(int(stat.split("/")[2]))
        return workers

    def kill_worker(self, master: int) -> None:
        workers = self.gunicorn_workers(master)
        if not workers:
            self.stats.anomaly("worker kill: no gunicorn worker found")
            return
        victim = self.rng.choice(workers)
        os.kill(victim, signal.SIGKILL)
        log(f"fault: kill -9 gunicorn worker {victim}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            current = self.gunicorn_workers(master)
            if len(current) >= self.args.workers and victim not in current:
                self.kills.append({"pid": victim, "respawned": True})
                return
            time.sleep(0.2)
        self.kills.append({"pid": victim, "respawned": False})
        self.stats.anomaly(f"worker {victim} was not replaced within 30s")

    def restart_database(self) -> None:
        outage = {"stopped": time.monotonic()}
        log(f"fault: PostgreSQL stop -m immediate ({self.args.outage:g}s outage)")
        # immediate = a crash: open transactions die mid-flight, recovery runs at start.
        self.cluster.stop("immediate")
        self.db_down.set()
        time.sleep(self.args.outage)
        self.db_down.clear()
        self.cluster.start()
        outage["started"] = time.monotonic()
        log("fault: PostgreSQL started again")
        deadline = outage["started"] + self.args.recovery_timeout
        token = self.tokens[self.users[0]]
        while time.monotonic() < deadline:
            answer = call(self.port, "GET", f"{API}balance/", token=token, timeout=5)
            if answer.status == 200:
                outage["recovered"] = time.monotonic()
                break
            time.sleep(0.1)
        else:
            self.stats.anomaly(
                f"the API did not answer 200 within {self.args.recovery_timeout:g}s of the "
                "database coming back"
            )
        self.outages.append(outage)

    def faults(self, master: int, started: float) -> None:
        duration = self.args.duration
        restarts = [
            (i + 1) * duration / (self.args.db_restarts + 1) for i in range(self.args.db_restarts)
        ]
        kills = []
        for i in range(self.args.worker_kills):
            at = (i + 0.5) * duration / self.args.worker_kills
            # A kill lands in normal traffic, not inside an outage where every request fails.
            for restart in restarts:
                if restart - 3 <= at <= restart + self.args.outage + 3:
                    at = restart + self.args.outage + 3
            kills.append(at)
        events = [(at, "restart") for at in restarts] + [(at, "kill") for at in kills]
        for at, kind in sorted(events):
            delay = started + at - time.monotonic()
            if delay > 0 and self.stop_traffic.wait(delay):
                return
            if kind == "kill":
                self.kill_worker(master)
            else:
                self.restart_database()

    def probe(self) -> None:
        """Requests all along: what does a client see while the database is down?"""
        name = self.users[0]
        token = self.tokens[name]
        always = [
            ("GET", "/api/health/", None, None),
            ("GET", f"{API}balance/", token, None),
        ]
        # Every path that reaches the database before answering: the JWT user lookup, the
        # login's user lookup, registration, the refresh token blacklist, the history.
        while_down = [
            ("GET", f"{API}operations/", token, None),
            ("POST", "/api/auth/v1/login/", None, {"username": name, "password": PASSWORD}),
            ("POST", "/api/auth/v1/token/refresh/", None, {"refresh": self.refresh[name]}),
            ("GET", "/api/auth/v1/me/", token, None),
        ]
        number = 0
        while not self.stop_probe.is_set():
            probes = always + (while_down if self.db_down.is_set() else [])
            if self.db_down.is_set():
                number += 1
                body = {"username": f"probe{number}", "password": PASSWORD}
                probes.append(("POST", "/api/auth/v1/register/", None, body))
            for method, path, auth, body in probes:
                answer = call(self.port, method, path, token=auth, body=body, timeout=5)
                self.probes.append((time.monotonic(), path, answer))
            time.sleep(0.1)

    # Checks -----------------------------------------------------------------------------

    def replay_check(self) -> Counter:
        """Re-send a sample of finished keys: same answer, header set, no money moved."""
        done = Counter()
        finished = [r for r in self.stats.requests if r.outcome in ("acknowledged", "refused")]
        sample = self.rng.sample(finished, min(self.args.replay_sample, len(finished)))
        for request in sample:
            answer = call(
                self.port,
                "POST",
                f"{API}{request.kind}/",
                body=request.body(),
                token=self.tokens[request.user],
                key=request.key,
                timeout=self.args.client_timeout,
            )
            same = answer.status == request.status and answer.replayed
            if request.outcome == "acknowledged":
                same = same and answer.json() == request.operation
            done["replayed" if same else "mismatch"] += 1
            if not same:
                self.stats.anomaly(
                    f"replay of {request.key}: {answer.status} {answer.body[:200]!r}, first "
                    f"answer was {request.status} {request.operation}"
                )
        return done


def ledger_rows(port: int):
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="bank")
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT o.id, u.username, o.type, o.amount, o.balance_after, o.transfer_id,"
                " o.description, c.username FROM balance_operation o"
                " JOIN authapp_user u ON u.id = o.owner_id"
                " LEFT JOIN authapp_user c ON c.id = o.counterparty_id"
            )
            operations = cur.fetchall()
            cur.execute(
                "SELECT u.username, b.amount FROM balance_balance b"
                " JOIN authapp_user u ON u.id = b.user_id"
            )
            balances = dict(cur.fetchall())
            cur.execute("SELECT k.key, k.response_status FROM balance_idempotencykey k")
            keys = dict(cur.fetchall())
        return operations, balances, keys
    finally:
        conn.close()


def check(bank: Bank, pg_port: int, env: dict) -> tuple[list[tuple[str, str, str]], Counter]:
    """Compare what clients were told with what the ledger holds; one row per invariant."""
    results = []
    operations, balances, keys = ledger_rows(pg_port)
    requests = {r.key: r for r in bank.stats.requests}
    by_key: dict[str, list] = {}
    for row in operations:
        by_key.setdefault(row[6], []).append(row)

    # 1. Every acknowledged request is in the ledger exactly once, as acknowledged.
    wrong = []
    for request in requests.values():
        rows = by_key.get(request.key, [])
        if request.outcome == "acknowledged":
            expected = 2 if request.kind == "transfer" else 1
            mine = [r for r in rows if r[1] == request.user]
            ok = len(rows) == expected and len(mine) == 1
            ok = ok and str(mine[0][0]) == request.operation["id"]
            ok = ok and mine[0][3] == request.amount
            ok = ok and Decimal(request.operation["balance_after"]) == mine[0][4]
            if request.kind == "transfer":
                other = [r for r in rows if r[1] == request.recipient]
                ok = ok and len(other) == 1 and other[0][5] == mine[0][5]
                ok = ok and other[0][2] == "transfer_in" and mine[0][2] == "transfer_out"
                ok = ok and other[0][7] == request.user and mine[0][7] == request.recipient
            else:
                ok = ok and mine[0][2] == request.kind
            if not ok:
                wrong.append(f"{request.key}: {len(rows)} ledger rows {rows!r}")
        elif request.outcome == "refused" and rows:
            wrong.append(f"{request.key} was refused but has {len(rows)} ledger rows")
    acknowledged = [r for r in requests.values() if r.outcome == "acknowledged"]
    results.append(
        (
            "every 201 is in the ledger exactly once; no refused request is",
            "PASS" if not wrong else "FAIL",
            f"{len(acknowledged)} acknowledged checked" + (f"; {wrong[:3]}" if wrong else ""),
        )
    )

    # 2. Nothing in the ledger that no client sent.
    phantoms = [key for key in by_key if key not in requests]
    results.append(
        (
            "no operation in the ledger that no client sent",
            "PASS" if not phantoms else "FAIL",
            f"{len(operations)} ledger rows" + (f"; unknown {phantoms[:3]}" if phantoms else ""),
        )
    )

    # 3. In-doubt requests were resolved by retrying their key.
    in_doubt = [r for r in requests.values() if r.in_doubt]
    unresolved = [r for r in requests.values() if r.outcome not in ("acknowledged", "refused")]
    results.append(
        (
            "every in-doubt request resolved by retrying its key",
            "PASS" if not unresolved else "FAIL",
            f"{len(in_doubt)} in doubt, {len(in_doubt) - len(unresolved)} resolved, "
            f"{len(unresolved)} unresolved",
        )
    )

    # 4. Keys and operations committed together.
    orphan_keys = [k for k, status in keys.items() if status == 201 and k not in by_key]
    keyless = [k for k in by_key if k not in keys]
    results.append(
        (
            "no key without its operation, no operation without its key",
            "PASS" if not orphan_keys and not keyless else "FAIL",
            f"{len(keys)} keys stored"
            + (
                f"; orphan keys {orphan_keys[:3]}, keyless {keyless[:3]}"
                if orphan_keys or keyless
                else ""
            ),
        )
    )

    # 5. Money: balances add up to acknowledged deposits minus acknowledged withdrawals.
    deposits = sum((r.amount for r in acknowledged if r.kind == "deposit"), Decimal(0))
    withdrawals = sum((r.amount for r in acknowledged if r.kind == "withdraw"), Decimal(0))
    total = sum(balances.values(), Decimal(0))
    results.append(
        (
            "sum of balances = acknowledged deposits - withdrawals",
            "PASS" if total == deposits - withdrawals else "FAIL",
            f"{total} = {deposits} - {withdrawals}",
        )
    )

    # 6. No balance ever negative: every balance_after in the ledger, every stored balance.
    lowest = min([row[4] for row in operations] + list(balances.values()), default=Decimal(0))
    results.append(
        (
            "no balance ever negative",
            "PASS" if lowest >= 0 else "FAIL",
            f"lowest balance_after or balance {lowest}",
        )
    )

    # 7. verify_ledger.
    verify = subprocess.run(
        [sys.executable, "manage.py", "verify_ledger"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    lines = verify.stdout.strip().splitlines() or [""]
    clean = verify.returncode == 0 and lines[-1] == "Ledger OK."
    summary = lines[-2].split(":")[0] if clean and len(lines) > 1 else ""
    results.append(
        (
            "verify_ledger clean",
            "PASS" if clean else "FAIL",
            f"exit {verify.returncode}; {summary}"
            if clean
            else (verify.stdout + verify.stderr)[-400:],
        )
    )

    # 8. The outages: 503 in the envelope, never a 500, and recovery without a restart.
    served_503 = bank.stats.counter["HTTP 503"]
    probe_503 = [a for _, _, a in bank.probes if a.status == 503]
    bad_503 = [a for a in probe_503 if not is_envelope(a, "server_error", "service_unavailable")]
    errors_500 = sum(n for name, n in bank.stats.counter.items() if name.startswith("HTTP 5"))
    errors_500 -= served_503
    errors_500 += len(
        [a for _, _, a in bank.probes if a.status and a.status >= 500 and a.status != 503]
    )
    recovered = [o for o in bank.outages if "recovered" in o]
    in_outage = 0
    for outage in bank.outages:
        end = outage.get("recovered", outage["started"])
        in_outage += len(
            [1 for t, _, a in bank.probes if outage["stopped"] <= t <= end and a.status == 503]
        )
    outage_ok = (
        len(bank.outages) == bank.args.db_restarts
        and len(recovered) == len(bank.outages)
        and not bad_503
        and (not bank.outages or in_outage > 0)
    )
    # Each probed path (health, JWT user lookup, login, refresh, register, history) answered
    # 503 at least once while the database was down.
    paths_503 = {
        path
        for t, path, a in bank.probes
        if a.status == 503
        and any(o["stopped"] <= t <= o.get("recovered", o["started"]) for o in bank.outages)
    }
    probed = {path for _, path, _ in bank.probes}
    outage_ok = outage_ok and (not bank.outages or paths_503 == probed)
    recovery = max((o["recovered"] - o["started"] for o in recovered), default=0.0)
    results.append(
        (
            "during outages: 503 in the envelope; recovered without app restart",
            "PASS" if outage_ok else "FAIL",
            f"{len(bank.outages)} outages, {in_outage} probe 503s, {served_503} client 503s, "
            f"{len(bad_503)} malformed, {len(paths_503)}/{len(probed)} probed paths answered "
            f"503; slowest recovery {recovery:.1f}s",
        )
    )
    results.append(
        (
            "no 500 (or other 5xx than 503) anywhere",
            "PASS" if errors_500 == 0 else "FAIL",
            f"{errors_500} seen",
        )
    )
    return results, Counter(
        deposits=len([r for r in acknowledged if r.kind == "deposit"]),
        withdrawals=len([r for r in acknowledged if r.kind == "withdraw"]),
        transfers=len([r for r in acknowledged if r.kind == "transfer"]),
    )


def print_table(rows: list[tuple[str, ...]], headers: tuple[str, ...]) -> None:
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    print(line)
    print("| " + " | ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print(line)
    for row in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    print(line)


def main(argv=None) -> int:
    args = parse_args(argv)
    # A CI timeout sends SIGTERM: unwind through the finally below, which stops gunicorn and
    # the private PostgreSQL instead of leaving them running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    http_port = args.http_port or free_port()
    pg_port = args.pg_port or free_port()
    workdir = Path(tempfile.mkdtemp(prefix="lightech-bank-"))
    cluster = Cluster(workdir, pg_port, args.pg_bin)
    server = None
    server_log = open(workdir / "gunicorn.log", "wb")  # noqa: SIM115 - closed in finally
    env = dict(
        os.environ,
        POSTGRES_DB="bank",
        POSTGRES_USER="postgres",
        POSTGRES_PASSWORD="",
        POSTGRES_HOST="127.0.0.1",
        POSTGRES_PORT=str(pg_port),
        POSTGRES_CONNECT_TIMEOUT="2",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_DEBUG="0",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_LOG_LEVEL="ERROR",
        # The run outlives the default access-token lifetime of a few minutes.
        JWT_ACCESS_MINUTES="600",
        # The bank test measures correctness, not rate limits: every client comes from one IP
        # and a few users carry all the traffic. A 429 is still handled (retried) if it comes.
        THROTTLE_AUTH_IP="100000/min",
        THROTTLE_LOGIN_USERNAME="100000/min",
        THROTTLE_MONEY_USER="100000/s",
        PORT=str(http_port),
        WEB_CONCURRENCY=str(args.workers),
    )
    try:
        log(f"private PostgreSQL on 127.0.0.1:{pg_port} in {workdir}")
        cluster.init()
        cluster.start()
        subprocess.run(
            [
                *cluster.prefix,
                str(cluster.bindir / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(pg_port),
                "-U",
                "postgres",
                "bank",
            ],
            check=True,
        )
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        log(f"gunicorn with {args.workers} workers on 127.0.0.1:{http_port}")
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "gunicorn.conf.py",
                "--bind",
                f"127.0.0.1:{http_port}",
                "--workers",
                str(args.workers),
                "--access-logfile",
                "/dev/null",
                "lighTech.wsgi:application",
            ],
            cwd=ROOT,
            env=env,
            stdout=server_log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while call(http_port, "GET", "/api/health/", timeout=2).status != 200:
            if server.poll() is not None or time.monotonic() > deadline:
                sys.exit(
                    "bank-test: gunicorn did not come up; see " + str(workdir / "gunicorn.log")
                )
            time.sleep(0.3)

        bank = Bank(args, http_port, cluster)
        bank.setup_users()
        log(
            f"traffic: {args.clients} clients for {args.duration:g}s; faults: "
            f"{args.worker_kills} worker kills, {args.db_restarts} database restarts"
        )
        started = time.monotonic()
        # Daemon threads: an interrupted run still reaches the cleanup below and exits.
        clients = [
            threading.Thread(target=bank.client, args=(n,), daemon=True)
            for n in range(args.clients)
        ]
        prober = threading.Thread(target=bank.probe, daemon=True)
        faults = threading.Thread(target=bank.faults, args=(server.pid, started), daemon=True)
        for thread in [*clients, prober, faults]:
            thread.start()
        faults.join(timeout=args.duration + 600)
        remaining = started + args.duration - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)
        bank.stop_traffic.set()
        for thread in clients:
            thread.join()
        elapsed = time.monotonic() - started
        bank.stop_probe.set()
        prober.join()
        log(f"traffic stopped after {elapsed:.0f}s; checking")
        if server.poll() is not None:
            bank.stats.anomaly("the gunicorn master exited during the run")

        replays = bank.replay_check()
        results, kinds = check(bank, pg_port, env)
        results.append(
            (
                "re-sent keys replay the first answer",
                "PASS" if not replays["mismatch"] else "FAIL",
                f"{replays['replayed']} replayed, {replays['mismatch']} mismatched",
            )
        )
        requests = bank.stats.requests
        counter = bank.stats.counter
        acknowledged = [r for r in requests if r.outcome == "acknowledged"]
        in_doubt = [r for r in requests if r.in_doubt]
        reasons = Counter()
        for r in in_doubt:
            reasons.update(r.unknown_reasons)
        figures = [
            ("clients / duration", f"{args.clients} / {elapsed:.0f}s"),
            ("users / gunicorn workers", f"{args.users} / {args.workers}"),
            ("requests sent (one key each)", len(requests)),
            ("HTTP attempts", counter["http attempts"]),
            ("throughput", f"{counter['http attempts'] / elapsed:.0f} attempts/s"),
            (
                "acknowledged (201)",
                f"{len(acknowledged)} ({kinds['deposits']} deposits, "
                f"{kinds['withdrawals']} withdrawals, {kinds['transfers']} transfers)",
            ),
            ("refused (insufficient_funds)", len([r for r in requests if r.outcome == "refused"])),
            ("retried (more than one attempt)", len([r for r in requests if r.attempts > 1])),
            ("in doubt (timeout, reset, 503)", len(in_doubt)),
            ("  why, per attempt", ", ".join(f"{k} {v}" for k, v in reasons.most_common()) or "-"),
            (
                "  resolved by retrying the key",
                len([r for r in in_doubt if r.outcome != "unresolved"]),
            ),
            ("  of which answered by a replay", len([r for r in in_doubt if r.replayed])),
            ("  unresolved", len([r for r in requests if r.outcome == "unresolved"])),
            (
                "worker kills (respawned)",
                f"{len(bank.kills)} ({len([k for k in bank.kills if k['respawned']])})",
            ),
            (
                "database restarts (recovered)",
                f"{len(bank.outages)} ({len([o for o in bank.outages if 'recovered' in o])})",
            ),
            (
                "HTTP statuses",
                ", ".join(
                    f"{k[5:]}: {v}" for k, v in sorted(counter.items()) if k.startswith("HTTP ")
                ),
            ),
        ]
        failed = [r for r in results if r[1] != "PASS"]
        anomalies = len(bank.stats.anomalies) + len(failed)
        figures.append(("anomalies", anomalies))
        print()
        print_table(figures, ("figure", "value"))
        print_table(results, ("check", "result", "detail"))
        for text in bank.stats.anomalies[:50]:
            print("ANOMALY:", text)
        if anomalies:
            print(f"bank-test: FAILED with {anomalies} anomalies (logs in {workdir})")
            args.keep = True
            return 1
        print("bank-test: OK, 0 anomalies")
        return 0
    finally:
        if server is not None and server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        server_log.close()
        if cluster.running():
            cluster.stop("fast")
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
