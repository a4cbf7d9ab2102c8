"""Admin for balances and operations: both read-only, money moves only through the services."""

from django.contrib import admin

from balance.models import Balance, Operation


class ReadOnlyAdmin(admin.ModelAdmin):
    """Lists and shows rows; nobody can add, change or delete one here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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
