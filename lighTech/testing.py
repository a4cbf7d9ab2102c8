"""Helpers shared by the test suites: users with balances and authenticated API clients."""

import threading
from decimal import Decimal

from django.db import connection
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from authapp.services import user_register
from balance import services
from balance.models import Balance, Operation

STRONG_PASSWORD = "c0rrect-Horse-battery"  # noqa: S105 - a test fixture


def make_user(username: str, *, balance: str | None = None, password: str = STRONG_PASSWORD):
    """Register a user the way the API does, optionally with money deposited."""
    user = user_register(username=username, password=password, email="")
    if balance is not None:
        services.deposit(user=user, amount=Decimal(balance))
    return user


def client_for(user) -> APIClient:
    """An API client carrying a fresh Bearer access token of this user."""
    client = APIClient()
    token = RefreshToken.for_user(user).access_token
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def balance_of(user) -> Decimal:
    return Balance.objects.get(pk=user.pk).amount


def ledger_snapshot() -> tuple:
    """Every balance and every operation, to assert that a refused request changed nothing."""
    balances = tuple(Balance.objects.order_by("pk").values_list("pk", "amount"))
    operations = tuple(Operation.objects.order_by("pk").values_list("pk", "balance_after"))
    return balances, operations


def in_threads(jobs, *, threads: int) -> list:
    """Run the callables on real threads released together; return their results in order."""
    barrier = threading.Barrier(threads)
    results: list = [None] * len(jobs)
    queue = list(enumerate(jobs))
    lock = threading.Lock()

    def worker():
        barrier.wait()
        try:
            while True:
                with lock:
                    if not queue:
                        return
                    index, job = queue.pop()
                try:
                    results[index] = job()
                except Exception as exc:  # every unexpected outcome is reported, not lost
                    results[index] = exc
        finally:
            connection.close()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=180)
    return results
