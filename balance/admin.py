"""Admin for balances, operations and idempotency keys: read-only, money moves only via services."""

from django.contrib import admin

from balance.models import Balance, IdempotencyKey, Operation
from lighTech.admin import ReadOnlyAdmin


@admin.register(Balance)
class BalanceAdmin(ReadOnlyAdmin):
    """Balances; editing one here would bypass the ledger."""

    list_display = ("user", "amount")
    search_fields = ("user__username",)
    list_select_related = ("user",)


@admin.register(Operation)
class OperationAdmin(ReadOnlyAdmin):
    """The append-only ledger."""

    list_display = (
        "id",
        "created_at",
        "owner",
        "type",
        "amount",
        "balance_after",
        "counterparty",
    )
    list_filter = ("type",)
    search_fields = ("owner__username", "counterparty__username", "description")
    list_select_related = ("owner", "counterparty")
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ReadOnlyAdmin):
    """Stored Idempotency-Keys, so support can tell whether a client's retried payment ran."""

    list_display = ("id", "created_at", "user", "key", "response_status")
    list_filter = ("response_status",)
    search_fields = ("user__username", "=key")
    list_select_related = ("user",)
    show_full_result_count = False
