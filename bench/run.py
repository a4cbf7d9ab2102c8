"""`make bench`: load-test the production configuration and compare it with pgbench in one run.

Steps: fresh database -> migrate -> seed users (bulk SQL) and two history users (100 and
1,000,000 operations) -> pgbench initialisation -> CHECKPOINT -> gunicorn, warm-up -> pgbench
TPC-B -> wrk transfers at 16 connections -> pgbench again -> the other wrk scenarios ->
history latency -> worker peak RSS -> money conservation -> table + JSON in bench/results/.
Everything is configured by environment variables (see ENV below); it needs PostgreSQL's
client tools (pgbench) and wrk, and installs wrk with apt-get when it is missing.
"""

import contextlib
import datetime as dt
import http.client
import json
import os
import platform
import re
import runpy
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path

import psycopg2
from dotenv import load_dotenv

ROOT = Path(__file__).resolve().parent.parent
# The same PostgreSQL settings as the app (.env fills what the environment leaves unset).
load_dotenv(ROOT / ".env", override=False)
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"


def env(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


ENV = {
    "host": env("POSTGRES_HOST", "127.0.0.1"),
    "port": env("POSTGRES_PORT", "5432"),
    "user": env("POSTGRES_USER", "postgres"),
    "password": os.environ.get("POSTGRES_PASSWORD", ""),
    # Dropped and created again on every run: never point these at a database you keep.
    "db": env("BENCH_DB", "lightech_bench"),
    "pgbench_db": env("BENCH_PGBENCH_DB", "lightech_pgbench"),
    "http_port": int(env("BENCH_PORT", "8089")),
    "users": int(env("BENCH_USERS", "1000")),
    "connections": int(env("BENCH_CONNECTIONS", "16")),
    "duration": int(env("BENCH_DURATION", "20")),
    "warmup": int(env("BENCH_WARMUP", "3")),
    "warmup_all": int(env("BENCH_WARMUP_ALL", "10")),
    "history_rounds": int(env("BENCH_HISTORY_ROUNDS", "300")),
    "big_history": int(env("BENCH_BIG_HISTORY", "1000000")),
    "pgbench_scale": int(env("BENCH_PGBENCH_SCALE", "10")),
    "pgbench_clients": int(env("BENCH_PGBENCH_CLIENTS", "8")),
    "pgbench_seconds": int(env("BENCH_PGBENCH_SECONDS", "20")),
    "keep_db": env("BENCH_KEEP_DB", "0") == "1",
}

SEED_BALANCE = Decimal("1000000.00")
LOAD_PREFIX = "bench_"
SMALL_USER, BIG_USER = "history_100", "history_1m"
HISTORY = "/api/balance/v1/operations/"
# How deep the deep history page is; bench/django_tasks.py uses the same number.
DEEP = 50_000

TARGETS = {
    "transfer_vs_pgbench": 0.20,
    "transfer_p99_ms": 100.0,
    "history_ratio": 1.5,
    "worker_rss_mb": 120.0,
}


def log(message: str) -> None:
    print(f"[bench {dt.datetime.now(dt.UTC):%H:%M:%S}] {message}", flush=True)


@contextlib.contextmanager
def sql(dbname: str):
    """A cursor on an autocommit connection, closed afterwards."""
    conn = connect(dbname)
    try:
        with conn.cursor() as cur:
            yield cur
    finally:
        conn.close()


def connect(dbname: str, autocommit: bool = True):
    conn = psycopg2.connect(
        host=ENV["host"],
        port=ENV["port"],
        user=ENV["user"],
        password=ENV["password"],
        dbname=dbname,
    )
    conn.autocommit = autocommit
    return conn


def choose_role() -> None:
    """Keep the configured role if it can connect; else fall back to a local `postgres`.

    A fresh clone's .env names the role `lightech` (what docker-compose and CI create), which
    a developer's own PostgreSQL may not have; the benchmark only needs a role that may
    create databases, and a local server with trust or peer-less TCP auth lets `postgres` in.
    """
    try:
        connect("postgres").close()
        return
    except psycopg2.OperationalError as configured:
        reason = str(configured).strip().splitlines()[-1]
    if ENV["user"] != "postgres":
        try:
            psycopg2.connect(
                host=ENV["host"], port=ENV["port"], user="postgres", dbname="postgres"
            ).close()
        except psycopg2.OperationalError:
            pass
        else:
            log(f"role {ENV['user']!r} cannot connect ({reason}); using role 'postgres'")
            ENV.update(user="postgres", password="")
            return
    sys.exit(
        f"bench: cannot connect to PostgreSQL at {ENV['host']}:{ENV['port']} as "
        f"{ENV['user']!r} ({reason}). Set POSTGRES_USER/POSTGRES_PASSWORD (environment or "
        ".env) to a role that may create databases."
    )


def pg_env() -> dict:
    out = dict(os.environ)
    out.update(PGHOST=ENV["host"], PGPORT=ENV["port"], PGUSER=ENV["user"])
    if ENV["password"]:
        out["PGPASSWORD"] = ENV["password"]
    return out


def app_env() -> dict:
    """The production configuration, pointed at the benchmark database."""
    out = dict(os.environ)
    out.update(
        POSTGRES_DB=ENV["db"],
        POSTGRES_HOST=ENV["host"],
        POSTGRES_PORT=ENV["port"],
        POSTGRES_USER=ENV["user"],
        POSTGRES_PASSWORD=ENV["password"],
        DJANGO_DEBUG="0",
        PORT=str(ENV["http_port"]),
        # Tokens are minted once before the run; they must outlive it.
        JWT_ACCESS_MINUTES="240",
    )
    return out


# --- tools ---------------------------------------------------------------------------------


def find_tool(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    return None


def ensure_tools() -> dict:
    """wrk and pgbench, installing them with apt-get if they are missing."""
    missing = [name for name in ("wrk", "pgbench") if not find_tool(name)]
    if missing:
        packages = ["wrk" if name == "wrk" else "postgresql-contrib" for name in missing]
        if not shutil.which("apt-get"):
            sys.exit(f"bench: missing {missing} and no apt-get to install them")
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        log(f"installing {packages} with apt-get")
        apt_env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=apt_env)
        subprocess.run(
            [*sudo, "apt-get", "install", "-y", "-qq", *packages], check=True, env=apt_env
        )
    tools = {name: find_tool(name) for name in ("wrk", "pgbench")}
    if not all(tools.values()):
        sys.exit(f"bench: could not find {tools}")
    return tools


# --- database ------------------------------------------------------------------------------


def recreate_database(name: str) -> None:
    with sql("postgres") as cur:
        try:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except psycopg2.errors.InsufficientPrivilege:
            # Left by a run as another role (BENCH_KEEP_DB=1, say).
            sys.exit(
                f"bench: database {name} exists and belongs to another role than "
                f"{ENV['user']!r}; drop it, or set BENCH_DB / BENCH_PGBENCH_DB"
            )
        cur.execute(f'CREATE DATABASE "{name}"')


def drop_database(name: str) -> None:
    with sql("postgres") as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def manage(*args: str) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args], check=True, env=app_env(), cwd=ROOT
    )


def seed() -> dict:
    """Load users with a balance each, and the two history users with their ledgers."""
    users, big = ENV["users"], ENV["big_history"]
    started = time.monotonic()
    conn = connect(ENV["db"], autocommit=False)
    with conn, conn.cursor() as cur:
        cur.execute(
            """
            INSERT INTO authapp_user (password, is_superuser, username, first_name, last_name,
                                      email, is_staff, is_active, date_joined)
            SELECT '!', false, %s || g, '', '', '', false, true, now()
            FROM generate_series(1, %s) AS g
            """,
            [LOAD_PREFIX, users],
        )
        cur.execute(
            "INSERT INTO balance_balance (user_id, amount) "
            "SELECT id, %s FROM authapp_user WHERE username LIKE %s",
            [SEED_BALANCE, LOAD_PREFIX + "%"],
        )
        for name, count in ((SMALL_USER, 100), (BIG_USER, big)):
            cur.execute(
                """
                INSERT INTO authapp_user (password, is_superuser, username, first_name,
                                          last_name, email, is_staff, is_active, date_joined)
                VALUES ('!', false, %s, '', '', '', false, true, now()) RETURNING id
                """,
                [name],
            )
            (user_id,) = cur.fetchone()
            # Deposits of 1.00, one a second up to now; ids ascend with time as in real use.
            cur.execute(
                """
                INSERT INTO balance_operation (owner_id, type, amount, balance_after,
                                               description, created_at)
                SELECT %s, 'deposit', 1.00, g, 'seed',
                       now() - make_interval(secs => %s - g)
                FROM generate_series(1, %s) AS g ORDER BY g
                """,
                [user_id, count, count],
            )
            cur.execute(
                "INSERT INTO balance_balance (user_id, amount) VALUES (%s, %s)",
                [user_id, count],
            )
    conn.close()
    with sql(ENV["db"]) as cur:
        cur.execute("VACUUM ANALYZE")
    return {"users": users, "big_history": big, "seconds": round(time.monotonic() - started, 1)}


def money_snapshot() -> dict:
    with sql(ENV["db"]) as cur:
        cur.execute("SELECT count(*), coalesce(sum(amount), 0) FROM balance_balance")
        balances, total = cur.fetchone()
        cur.execute("SELECT count(*) FROM balance_operation")
        (operations,) = cur.fetchone()
    return {"balances": balances, "total": str(total), "operations": operations}


def conservation_check(seeded_total: Decimal) -> dict:
    """Money conserved: totals, both legs of every transfer, every user's ledger chain."""
    checks = {}
    with sql(ENV["db"]) as cur:
        cur.execute("SELECT coalesce(sum(amount), 0) FROM balance_balance")
        (total,) = cur.fetchone()
        cur.execute(
            "SELECT coalesce(sum(amount) FILTER (WHERE type = 'deposit'), 0), "
            "coalesce(sum(amount) FILTER (WHERE type = 'withdraw'), 0), "
            "coalesce(sum(amount) FILTER (WHERE type = 'transfer_in'), 0), "
            "coalesce(sum(amount) FILTER (WHERE type = 'transfer_out'), 0) "
            "FROM balance_operation"
        )
        deposits, withdrawals, transfers_in, transfers_out = cur.fetchone()
        # The seeded history deposits are in the ledger; the load users' seed is not.
        expected = seeded_total + deposits - withdrawals
        checks["total_equals_seed_plus_deposits_minus_withdrawals"] = total == expected
        checks["transfers_in_equal_transfers_out"] = transfers_in == transfers_out
        cur.execute(
            """
            SELECT count(*) FROM (
                SELECT transfer_id FROM balance_operation WHERE transfer_id IS NOT NULL
                GROUP BY transfer_id
                HAVING count(*) <> 2
                    OR count(*) FILTER (WHERE type = 'transfer_in') <> 1
                    OR min(amount) <> max(amount)
            ) AS broken
            """
        )
        checks["every_transfer_has_two_equal_legs"] = cur.fetchone()[0] == 0
        # Each user's balance is the seed plus the signed sum of the user's operations, and
        # equals the balance_after of the user's last operation.
        cur.execute(
            """
            WITH moved AS (
                SELECT owner_id,
                       sum(CASE WHEN type IN ('deposit', 'transfer_in') THEN amount
                                ELSE -amount END) AS delta
                FROM balance_operation GROUP BY owner_id
            ), last AS (
                SELECT DISTINCT ON (owner_id) owner_id, balance_after
                FROM balance_operation ORDER BY owner_id, id DESC
            )
            SELECT count(*) FROM balance_balance b
            JOIN authapp_user u ON u.id = b.user_id
            LEFT JOIN moved m ON m.owner_id = b.user_id
            LEFT JOIN last l ON l.owner_id = b.user_id
            WHERE b.amount <> (CASE WHEN u.username LIKE %s THEN %s ELSE 0 END)
                             + coalesce(m.delta, 0)
               OR (l.owner_id IS NOT NULL AND l.balance_after <> b.amount)
            """,
            [LOAD_PREFIX.replace("_", r"\_") + "%", SEED_BALANCE],
        )
        checks["every_balance_matches_its_ledger"] = cur.fetchone()[0] == 0
        # In id order each operation moves the previous balance_after by its amount, and
        # created_at never goes backwards: the ledger is the order of the balance changes.
        cur.execute(
            """
            SELECT count(*) FILTER (WHERE prev_after IS NOT NULL AND balance_after <>
                       prev_after + CASE WHEN type IN ('deposit', 'transfer_in') THEN amount
                                         ELSE -amount END),
                   count(*) FILTER (WHERE prev_at > created_at)
            FROM (
                SELECT type, amount, balance_after, created_at,
                       lag(balance_after) OVER w AS prev_after,
                       lag(created_at) OVER w AS prev_at
                FROM balance_operation
                WINDOW w AS (PARTITION BY owner_id ORDER BY id)
            ) AS chain
            """
        )
        broken_chain, time_inversions = cur.fetchone()
        checks["ledger_chain_unbroken"] = broken_chain == 0
        checks["created_at_follows_id_per_owner"] = time_inversions == 0
        cur.execute("SELECT count(*) FROM balance_balance WHERE amount < 0")
        checks["no_negative_balance"] = cur.fetchone()[0] == 0
    return {
        "ok": all(checks.values()),
        "checks": checks,
        "total": str(total),
        "deposits": str(deposits),
        "withdrawals": str(withdrawals),
        "transfers": str(transfers_out),
    }


# --- pgbench -------------------------------------------------------------------------------


def pgbench_init(pgbench: str) -> None:
    recreate_database(ENV["pgbench_db"])
    subprocess.run(
        [pgbench, "-i", "-q", "-s", str(ENV["pgbench_scale"]), ENV["pgbench_db"]],
        check=True,
        env=pg_env(),
        capture_output=True,
    )


def checkpoint() -> bool:
    """CHECKPOINT on the server (needs a superuser or pg_checkpoint); False if not allowed."""
    try:
        with sql("postgres") as cur:
            cur.execute("CHECKPOINT")
    except psycopg2.Error as exc:
        log(f"CHECKPOINT not run ({exc.pgcode}): a checkpoint may fall inside the measurements")
        return False
    return True


def pgbench_run(pgbench: str) -> dict:
    clients = ENV["pgbench_clients"]
    out = subprocess.run(
        [
            pgbench,
            "-c",
            str(clients),
            "-j",
            str(min(clients, os.cpu_count() or 1)),
            "-T",
            str(ENV["pgbench_seconds"]),
            ENV["pgbench_db"],
        ],
        check=True,
        env=pg_env(),
        capture_output=True,
        text=True,
    ).stdout
    tps = float(re.search(r"tps = ([\d.]+) \(without initial connection time\)", out).group(1))
    latency = re.search(r"latency average = ([\d.]+) ms", out)
    return {"tps": tps, "latency_avg_ms": float(latency.group(1)) if latency else None}


# --- the server ----------------------------------------------------------------------------


def gunicorn_settings() -> dict:
    """What gunicorn.conf.py resolves to in this environment (workers, class, threads)."""
    conf = ROOT / "gunicorn.conf.py"
    saved = dict(os.environ)
    try:
        os.environ.update(app_env())
        values = runpy.run_path(str(conf)) if conf.exists() else {}
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return {
        key: values.get(key)
        for key in ("workers", "worker_class", "threads", "keepalive", "accesslog", "logger_class")
        if key in values
    }


def port_in_use(port: int) -> bool:
    """Whether something already listens on 127.0.0.1:port (TIME_WAIT leftovers do not count)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def start_server(log_path: Path) -> subprocess.Popen:
    # Another server on the port would answer the health check and take the load in place of
    # ours (seen: a developer's gunicorn left running measured instead, then a crash at the end).
    if port_in_use(ENV["http_port"]):
        sys.exit(
            f"bench: 127.0.0.1:{ENV['http_port']} is already in use (another server?); "
            "stop it or set BENCH_PORT"
        )
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    command = [gunicorn]
    if (ROOT / "gunicorn.conf.py").exists():
        command += ["-c", str(ROOT / "gunicorn.conf.py")]
    command += ["--bind", f"127.0.0.1:{ENV['http_port']}", "lighTech.wsgi:application"]
    server = subprocess.Popen(
        command,
        cwd=ROOT,
        env=app_env(),
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{ENV['http_port']}/api/health/"
    for _ in range(150):
        if server.poll() is not None:
            sys.exit(f"bench: gunicorn exited; see {log_path}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200 and server.poll() is None:
                    return server
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    stop_server(server)
    sys.exit(f"bench: gunicorn did not answer; see {log_path}")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return sorted(int(pid) for pid in children)


def memory_of(pid: int) -> dict:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(re.findall(r"^(VmHWM|VmRSS):\s+(\d+) kB", status, re.MULTILINE))
    return {
        "pid": pid,
        "peak_rss_mb": round(int(fields["VmHWM"]) / 1024, 1),
        "rss_mb": round(int(fields["VmRSS"]) / 1024, 1),
    }


# --- wrk -----------------------------------------------------------------------------------


def wrk(tool: str, scenario: str, users_file: Path, path: str, seconds: int) -> dict:
    connections = ENV["connections"]
    out = subprocess.run(
        [
            tool,
            "-t",
            str(min(2, connections)),
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(BENCH / "wrk" / "scenario.lua"),
            f"http://127.0.0.1:{ENV['http_port']}",
            "--",
            scenario,
            str(users_file),
            path,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("BENCH_JSON "))
    raw = json.loads(line.removeprefix("BENCH_JSON "))
    socket_errors = sum(raw["socket_errors"].values())
    seconds_run = raw["duration_us"] / 1e6
    return {
        "requests": raw["requests"],
        "rps": round(raw["requests"] / seconds_run, 1),
        "p50_ms": raw["latency_us"]["p50"] / 1000,
        "p95_ms": raw["latency_us"]["p95"] / 1000,
        "p99_ms": raw["latency_us"]["p99"] / 1000,
        "max_ms": raw["latency_us"]["max"] / 1000,
        "errors": raw["client_errors"] + raw["server_errors"] + raw["other_status"] + socket_errors,
        "status_4xx": raw["client_errors"],
        "status_5xx": raw["server_errors"],
        "socket_errors": raw["socket_errors"],
    }


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time these processes have used so far."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def measure(
    tool: str, name: str, scenario: str, users_file: Path, path: str, seconds: int, workers
):
    if ENV["warmup"]:
        wrk(tool, scenario, users_file, path, ENV["warmup"])
    load_before = os.getloadavg()[0]
    cpu_before = cpu_seconds(workers)
    result = wrk(tool, scenario, users_file, path, seconds)
    cpu = cpu_seconds(workers) - cpu_before
    # CPU the app itself spent per request: unlike req/s, it barely moves with machine noise.
    result["worker_cpu_ms_per_request"] = round(1000 * cpu / max(result["requests"], 1), 2)
    result["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    log(
        f"{name}: {result['rps']} req/s, p50 {result['p50_ms']} ms, "
        f"p99 {result['p99_ms']} ms, errors {result['errors']}, "
        f"{result['worker_cpu_ms_per_request']} ms worker CPU/request"
    )
    return result


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def history_latency(pages: dict[str, tuple[str, str]], rounds: int) -> dict:
    """Sequential latency of each history page, the pages interleaved round by round.

    One keep-alive connection, one request at a time: the figure is the page's own cost, not
    queueing, and interleaving exposes every page to the same machine noise, so their ratios
    hold even when the machine is busy.
    """
    conn = http.client.HTTPConnection("127.0.0.1", ENV["http_port"], timeout=30)
    samples: dict[str, list[float]] = {name: [] for name in pages}
    errors = dict.fromkeys(pages, 0)
    for round_number in range(rounds + 5):
        for name, (path, token) in pages.items():
            started = time.perf_counter()
            conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
            response = conn.getresponse()
            body = response.read()
            elapsed = (time.perf_counter() - started) * 1000
            if round_number < 5:
                continue  # warm-up rounds
            if response.status != 200 or len(json.loads(body)["results"]) != 20:
                errors[name] += 1
            samples[name].append(elapsed)
    conn.close()
    return {
        name: {
            "requests": len(values),
            "p50_ms": round(percentile(values, 0.50), 2),
            "p95_ms": round(percentile(values, 0.95), 2),
            "p99_ms": round(percentile(values, 0.99), 2),
            "mean_ms": round(sum(values) / len(values), 2),
            "errors": errors[name],
        }
        for name, values in samples.items()
    }


# --- report --------------------------------------------------------------------------------


def machine() -> dict:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    with sql("postgres") as cur:
        cur.execute("SHOW server_version")
        (pg_version,) = cur.fetchone()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": pg_version,
        "commit": commit + ("-dirty" if dirty else ""),
        "load_average_at_start": os.getloadavg(),
    }


def verdicts(result: dict) -> dict:
    s = result["scenarios"]
    tps = result["pgbench"]["tps"]
    history = result["history"]
    base = history["small_first_page"]
    worst_rss = max(worker["peak_rss_mb"] for worker in result["workers"])

    def ratio(page: str, key: str) -> float:
        return round(history[page][key] / base[key], 2)

    out = {
        "transfer_vs_pgbench": {
            "value": round(s["transfer"]["rps"] / tps, 3),
            "target": f">= {TARGETS['transfer_vs_pgbench']}",
        },
        "transfer_p99_ms": {
            "value": s["transfer"]["p99_ms"],
            "target": f"<= {TARGETS['transfer_p99_ms']}",
        },
        "transfer_errors": {"value": s["transfer"]["errors"], "target": "== 0"},
        "history_big_first_page_p50_ratio": {
            "value": ratio("big_first_page", "p50_ms"),
            "target": f"<= {TARGETS['history_ratio']}",
        },
        "history_big_deep_page_p50_ratio": {
            "value": ratio("big_deep_page", "p50_ms"),
            "target": f"<= {TARGETS['history_ratio']}",
        },
        "history_big_first_page_p95_ratio": {
            "value": ratio("big_first_page", "p95_ms"),
            "target": f"<= {TARGETS['history_ratio']}",
        },
        "history_big_deep_page_p95_ratio": {
            "value": ratio("big_deep_page", "p95_ms"),
            "target": f"<= {TARGETS['history_ratio']}",
        },
        # The 100-operation user's plan may sort its 100 rows; the big one must never sort.
        "history_plans_without_sort": {
            "value": not any(
                plan["sorts"]
                for name, plan in result["history_plans"].items()
                if name.startswith("big")
            ),
            "target": "true",
        },
        "worker_peak_rss_mb": {"value": worst_rss, "target": f"<= {TARGETS['worker_rss_mb']}"},
        "money_conserved": {"value": result["conservation"]["ok"], "target": "true"},
    }
    out["transfer_vs_pgbench"]["pass"] = (
        out["transfer_vs_pgbench"]["value"] >= TARGETS["transfer_vs_pgbench"]
    )
    out["transfer_p99_ms"]["pass"] = out["transfer_p99_ms"]["value"] <= TARGETS["transfer_p99_ms"]
    out["transfer_errors"]["pass"] = out["transfer_errors"]["value"] == 0
    for key in out:
        if key.startswith("history_big"):
            out[key]["pass"] = out[key]["value"] <= TARGETS["history_ratio"]
    out["history_plans_without_sort"]["pass"] = out["history_plans_without_sort"]["value"]
    out["worker_peak_rss_mb"]["pass"] = worst_rss <= TARGETS["worker_rss_mb"]
    out["money_conserved"]["pass"] = out["money_conserved"]["value"]
    return out


def table(result: dict) -> str:
    """The report as Markdown tables (readable as plain text too)."""
    m = result["machine"]
    lines = [
        f"LightTech `make bench`, {result['started_at']}: {m['cores']} cores ({m['cpu']}), "
        f"{m['memory_gb']} GB, PostgreSQL {m['postgresql']}, Python {m['python']}, "
        f"commit {m['commit']}, load average at start {m['load_average_at_start'][0]:.2f}",
        f"gunicorn {result['gunicorn']}; throttle cache {result['settings']['throttle_cache']}; "
        f"wrk {ENV['connections']} connections, {ENV['duration']} s per scenario, "
        f"{ENV['users']:,} load users",
        "",
        "| scenario (16 clients) | req/s | p50 ms | p95 ms | p99 ms | errors | worker CPU ms/req |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, row in result["scenarios"].items():
        lines.append(
            f"| {name} | {row['rps']:.1f} | {row['p50_ms']:.2f} | {row['p95_ms']:.2f} "
            f"| {row['p99_ms']:.2f} | {row['errors']} | {row['worker_cpu_ms_per_request']:.2f} |"
        )
    lines += [
        "",
        f"| history page (1 client, {ENV['history_rounds']} interleaved rounds) | p50 ms "
        "| p95 ms | p99 ms | errors | SQL ms (EXPLAIN ANALYZE) | sort in plan |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    labels = {
        "small_first_page": "100-operation user, first page",
        "big_first_page": f"{ENV['big_history']:,}-operation user, first page",
        "big_deep_page": f"{ENV['big_history']:,}-operation user, {DEEP:,} deep",
    }
    for name, row in result["history"].items():
        plan = result["history_plans"][name]
        lines.append(
            f"| {labels[name]} | {row['p50_ms']:.2f} | {row['p95_ms']:.2f} | {row['p99_ms']:.2f} "
            f"| {row['errors']} | {plan['execution_ms']:.3f} | {'yes' if plan['sorts'] else 'no'} |"
        )
    pg = result["pgbench"]
    lines += [
        "",
        f"pgbench TPC-B scale {ENV['pgbench_scale']}, {ENV['pgbench_clients']} clients, "
        f"{ENV['pgbench_seconds']} s, same run: {pg['tps']:.0f} tps (mean of "
        f"{pg['before']['tps']:.0f} right before and {pg['after']['tps']:.0f} right after the "
        "transfer scenario)",
        "",
        "gunicorn workers' peak RSS (VmHWM): "
        + ", ".join(f"{w['peak_rss_mb']} MB" for w in result["workers"]),
        "",
        "| target | value | wanted | result |",
        "| --- | ---: | --- | --- |",
    ]
    for name, verdict in result["verdicts"].items():
        lines.append(
            f"| {name} | {verdict['value']} | {verdict['target']} "
            f"| {'PASS' if verdict['pass'] else 'FAIL'} |"
        )
    return "\n".join(lines)


# --- main ----------------------------------------------------------------------------------


def main() -> int:
    if ENV["big_history"] <= DEEP:
        sys.exit(f"bench: BENCH_BIG_HISTORY must exceed the deep page's depth, {DEEP}")
    started = dt.datetime.now(dt.UTC)
    result = {"started_at": started.isoformat(timespec="seconds"), "settings": dict(ENV)}
    result["settings"].pop("password")
    # The throttles' counters: Redis as in production when REDIS_URL is set, else per process.
    result["settings"]["throttle_cache"] = "redis" if os.environ.get("REDIS_URL") else "locmem"
    tools = ensure_tools()
    choose_role()
    result["settings"]["user"] = ENV["user"]
    result["machine"] = machine()
    result["gunicorn"] = gunicorn_settings()
    workdir = Path(tempfile.mkdtemp(prefix="lightech-bench-"))

    log(f"fresh database {ENV['db']}, migrating")
    recreate_database(ENV["db"])
    manage("migrate", "--noinput", "-v", "0")
    log(f"seeding {ENV['users']} users and histories of 100 and {ENV['big_history']} operations")
    result["seed"] = seed()
    seeded_total = SEED_BALANCE * ENV["users"]
    users_file = workdir / "users.txt"
    prepared = json.loads(
        subprocess.run(
            [
                sys.executable,
                str(BENCH / "django_tasks.py"),
                str(users_file),
                LOAD_PREFIX,
                SMALL_USER,
                BIG_USER,
            ],
            check=True,
            capture_output=True,
            text=True,
            env=app_env(),
            cwd=ROOT,
        ).stdout
    )
    small, big = prepared["history"]
    result["history_plans"] = {
        "small_first_page": small["first_page_plan"],
        "big_first_page": big["first_page_plan"],
        "big_deep_page": big["deep_page_plan"],
    }
    before = money_snapshot()

    log("pgbench: initialising")
    pgbench_init(tools["pgbench"])
    # The seeding and pgbench's own initialisation wrote a lot of WAL; a checkpoint now keeps
    # the one it would trigger out of the measurements (of pgbench and of the app alike).
    result["checkpoint_after_seed"] = checkpoint()

    server_log = workdir / "gunicorn.log"
    server = start_server(server_log)
    try:
        # A server that has been up for a while: every worker thread has its database
        # connection and has seen the users' tokens. Not measured.
        log(f"warm-up: {ENV['warmup_all']} s of GET balance")
        wrk(tools["wrk"], "get", users_file, "/api/balance/v1/balance/", ENV["warmup_all"])
        scenarios = {}
        d = ENV["duration"]
        # pgbench right before and right after the transfer scenario (the app idle meanwhile):
        # the ratio compares the two under the same machine conditions.
        pg_before = pgbench_run(tools["pgbench"])
        log(f"pgbench before transfers: {pg_before['tps']:.0f} tps")
        scenarios["transfer"] = measure(
            tools["wrk"], "transfer", "transfer", users_file, "", d, worker_pids(server.pid)
        )
        pg_after = pgbench_run(tools["pgbench"])
        log(f"pgbench after transfers: {pg_after['tps']:.0f} tps")
        for name, scenario, path in (
            ("deposit", "deposit", ""),
            ("withdraw", "withdraw", ""),
            ("balance", "get", "/api/balance/v1/balance/"),
            ("history first page", "get", HISTORY),
            ("health", "anonymous", "/api/health/"),
        ):
            scenarios[name] = measure(
                tools["wrk"], name, scenario, users_file, path, d, worker_pids(server.pid)
            )
        result["scenarios"] = scenarios

        log(f"history latency: {ENV['history_rounds']} interleaved rounds, one connection")
        result["history"] = history_latency(
            {
                "small_first_page": (HISTORY, small["token"]),
                "big_first_page": (HISTORY, big["token"]),
                "big_deep_page": (f"{HISTORY}?cursor={big['deep_cursor']}", big["token"]),
            },
            ENV["history_rounds"],
        )
        for name, row in result["history"].items():
            log(f"history {name}: p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms")
        result["workers"] = [memory_of(pid) for pid in worker_pids(server.pid)]
    finally:
        stop_server(server)

    result["pgbench"] = {
        "tps": round((pg_before["tps"] + pg_after["tps"]) / 2, 1),
        "before": pg_before,
        "after": pg_after,
    }
    log("checking money conservation")
    result["money_before"] = before
    result["money_after"] = money_snapshot()
    result["conservation"] = conservation_check(seeded_total)
    result["verdicts"] = verdicts(result)
    result["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")

    if not ENV["keep_db"]:
        drop_database(ENV["db"])
        drop_database(ENV["pgbench_db"])
    RESULTS.mkdir(exist_ok=True)
    out_file = RESULTS / f"{started:%Y%m%dT%H%M%SZ}.json"
    out_file.write_text(json.dumps(result, indent=2, default=str) + "\n")
    text = table(result)
    out_file.with_suffix(".md").write_text(text + "\n")
    print("\n" + text + "\n")
    print(f"results: {out_file.relative_to(ROOT)}; server log: {server_log}")
    return 0 if all(v["pass"] for v in result["verdicts"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
