"""Helpers shared by the test suites: users with balances and authenticated API clients."""

from decimal import Decimal

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
