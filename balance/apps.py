"""Balance app configuration."""

from django.apps import AppConfig


class BalanceConfig(AppConfig):
    """Balances and the operations ledger."""

    name = "balance"
    verbose_name = "Money"
