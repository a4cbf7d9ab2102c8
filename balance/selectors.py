"""Money reads: the caller's balance and ledger."""

from datetime import datetime
from decimal import Decimal

from django.db import connection
from django.db.models import QuerySet

from balance.models import Balance, Operation
from balance.money import ZERO

# The balance read as SQL written once. Building the ORM query for this one-row read cost more
# instructions than the rest of the request, a whole transfer included (docs/performance.md).
# PostgreSQL returns numeric as Decimal; SQLite (the first-run database) keeps the ORM, whose
# converters turn its stored numbers into Decimals.
_BALANCE_SQL = (
    f"SELECT {Balance._meta.get_field('amount').column} FROM {Balance._meta.db_table} "  # noqa: S608 - names from the model
    f"WHERE {Balance._meta.pk.column} = %s"
)


def balance_get(*, user) -> Decimal:
    """The user's current balance; a user without a balance row yet has 0.00."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_BALANCE_SQL, [user.pk])
            row = cursor.fetchone()
        amount = None if row is None else row[0]
    else:
        amount = Balance.objects.filter(pk=user.pk).values_list("amount", flat=True).first()
    return ZERO if amount is None else amount


HISTORY_FIELDS = (
    "id",
    "type",
    "amount",
    "balance_after",
    "counterparty__username",
    "description",
    "created_at",
)


def operation_list(
    *,
    user,
    type: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> QuerySet[Operation]:
    """The user's operations newest first (created_at, then id), optionally filtered."""
    operations = Operation.objects.filter(owner_id=user.pk)
    if type:
        operations = operations.filter(type=type)
    if created_after is not None:
        operations = operations.filter(created_at__gte=created_after)
    if created_before is not None:
        operations = operations.filter(created_at__lt=created_before)
    # Only what the history shows: the counterparty's username, not its whole row (password
    # hash included), and half the columns for Django to compile and PostgreSQL to send.
    return (
        operations.select_related("counterparty")
        .only(*HISTORY_FIELDS)
        .order_by("-created_at", "-id")
    )
