"""lighTech.postgresql's health check and lighTech.db's prepared statements, on PostgreSQL."""

import select
import time
from concurrent.futures import ThreadPoolExecutor
from unittest import skipUnless

import psycopg2
from django.db import connection, transaction
from django.test import SimpleTestCase, TransactionTestCase
from django.test.utils import CaptureQueriesContext

from lighTech.db import PreparedStatement
from lighTech.tests.test_e2e import PASSWORD, Server

ON_POSTGRES = connection.vendor == "postgresql"
POSTGRES_ONLY = "the backend and PREPARE are PostgreSQL's; SQLite uses Django's own backend"

BALANCE = "/api/balance/v1/balance/"
ADD = PreparedStatement(
    "test_add", "SELECT %(a)s + %(b)s, %(a)s", types={"a": "integer", "b": "integer"}
)


def terminate_backend_of(conn) -> None:
    """End this connection's server process from another connection, as a restart would."""
    pid = conn.connection.get_backend_pid()
    settings = conn.get_connection_params()
    with psycopg2.connect(**settings) as other, other.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    other.close()
    # The server closes the socket right after; wait until the client side can see it.
    deadline = time.monotonic() + 10
    while not select.select([conn.connection.fileno()], [], [], 0.1)[0]:
        if time.monotonic() > deadline:
            raise AssertionError("the terminated connection never became readable")


@skipUnless(ON_POSTGRES, POSTGRES_ONLY)
class HealthCheckTests(TransactionTestCase):
    def setUp(self):
        self.addCleanup(connection.close)

    def test_an_idle_healthy_connection_is_usable(self):
        connection.ensure_connection()
        self.assertTrue(connection.is_usable())
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            self.assertEqual(cursor.fetchone(), (1,))

    def test_a_connection_the_server_ended_is_unusable(self):
        connection.ensure_connection()
        terminate_backend_of(connection)
        self.assertFalse(connection.is_usable())
        connection.close()

    def test_requests_after_the_server_ended_every_kept_connection_succeed(self):
        # The real server (gunicorn, 2 workers x 4 threads) keeps one connection per thread;
        # ending them all server-side is what a database restart does to it.
        server = Server()
        self.addCleanup(server.stop)
        call = server.call
        body = {"username": "alice", "password": PASSWORD}
        self.assertEqual(call("POST", "/api/auth/v1/register/", body)[0], 201)
        token = call("POST", "/api/auth/v1/login/", body)[1]["access"]
        self.assertEqual(call("POST", "/api/balance/v1/deposit/", {"amount": "5"}, token)[0], 201)
        with ThreadPoolExecutor(8) as pool:
            warm = list(pool.map(lambda _: call("GET", BALANCE, token=token)[0], range(40)))
        self.assertEqual(warm, [200] * 40)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            self.assertGreater(cursor.fetchone()[0], 0)
        time.sleep(0.5)
        with ThreadPoolExecutor(8) as pool:
            after = list(pool.map(lambda _: call("GET", BALANCE, token=token)[:2], range(40)))
        self.assertEqual(after, [(200, {"balance": "5.00"})] * 40)


@skipUnless(ON_POSTGRES, POSTGRES_ONLY)
class PreparedStatementTests(TransactionTestCase):
    def setUp(self):
        self.addCleanup(connection.close)

    def run_add(self, a: int, b: int):
        with connection.cursor() as cursor:
            ADD.execute(cursor, {"a": a, "b": b})
            return cursor.fetchone()

    def test_prepared_once_per_connection_and_reused(self):
        connection.close()
        with CaptureQueriesContext(connection) as queries:
            results = [self.run_add(n, 1) for n in range(3)]
        self.assertEqual(results, [(1, 0), (2, 1), (3, 2)])
        statements = [query["sql"].split()[0] for query in queries.captured_queries]
        self.assertEqual(statements, ["PREPARE", "EXECUTE", "EXECUTE", "EXECUTE"])

    def test_a_new_connection_prepares_again(self):
        self.assertEqual(self.run_add(1, 1), (2, 1))
        connection.close()
        self.assertEqual(self.run_add(2, 2), (4, 2))
        terminate_backend_of(connection)
        connection.close()
        self.assertEqual(self.run_add(3, 3), (6, 3))

    def test_a_rolled_back_transaction_keeps_the_statement_prepared(self):
        connection.close()
        with self.assertRaises(ZeroDivisionError), transaction.atomic():
            self.run_add(1, 2)
            raise ZeroDivisionError
        with CaptureQueriesContext(connection) as queries:
            self.assertEqual(self.run_add(5, 6), (11, 5))
        self.assertEqual([q["sql"].split()[0] for q in queries.captured_queries], ["EXECUTE"])

    def test_values_are_parameters_not_sql(self):
        text = PreparedStatement("test_echo", "SELECT %(s)s", types={"s": "text"})
        hostile = "'); DROP TABLE balance_balance; --"
        with connection.cursor() as cursor:
            text.execute(cursor, {"s": hostile})
            self.assertEqual(cursor.fetchone(), (hostile,))


class PreparedStatementDefinitionTests(SimpleTestCase):
    def test_every_parameter_needs_a_type_and_every_type_a_parameter(self):
        with self.assertRaises(ValueError):
            PreparedStatement("bad", "SELECT %(a)s, %(b)s", types={"a": "integer"})
        with self.assertRaises(ValueError):
            PreparedStatement("bad", "SELECT %(a)s", types={"a": "integer", "b": "text"})

    def test_a_repeated_parameter_is_one_placeholder(self):
        self.assertEqual(
            ADD.prepare_sql, "PREPARE test_add (integer, integer) AS SELECT $1 + $2, $1"
        )
        self.assertEqual(ADD.execute_sql, "EXECUTE test_add (%s, %s)")
