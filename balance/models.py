"""Balance (one per user) and Operation (the append-only ledger)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from balance.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS, ZERO


class MoneyField(models.DecimalField):
    """numeric(18, 2): exact money, never a float."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_digits", MONEY_MAX_DIGITS)
        kwargs.setdefault("decimal_places", MONEY_DECIMAL_PLACES)
        super().__init__(*args, **kwargs)


class Balance(models.Model):
    """A user's current money; only balance.services changes it, under a row lock."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        primary_key=True,
        on_delete=models.PROTECT,
        related_name="balance",
    )
    amount = MoneyField(default=ZERO)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="balance_amount_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.amount}"


class Operation(models.Model):
    """One immutable ledger row: a movement of one user's money and the balance right after it."""

    class Type(models.TextChoices):
        DEPOSIT = "deposit"
        WITHDRAW = "withdraw"
        TRANSFER_IN = "transfer_in"
        TRANSFER_OUT = "transfer_out"

    # A sequence number taken while the owner's balance is locked, so per owner the id order
    # is the order in which balances changed.
    id = models.BigAutoField(primary_key=True)
    # No index of its own: the history indexes below lead with the owner.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="operations",
        db_index=False,
    )
    type = models.CharField(max_length=12, choices=Type.choices)
    amount = MoneyField()
    balance_after = MoneyField()
    counterparty = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    # Both sides of one transfer share this id.
    transfer_id = models.UUIDField(null=True, blank=True, editable=False, default=None)
    description = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            # Serves one owner's history newest first, and its keyset pages, without a sort.
            models.Index(
                "owner",
                models.F("created_at").desc(),
                models.F("id").desc(),
                name="operation_owner_history_idx",
            ),
            # The same for a `?type=` filter, however rare the type is in a long history.
            models.Index(
                "owner",
                "type",
                models.F("created_at").desc(),
                models.F("id").desc(),
                name="operation_owner_type_idx",
            ),
            models.Index(fields=["transfer_id"], name="operation_transfer_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="operation_amount_positive"),
            models.CheckConstraint(
                condition=Q(balance_after__gte=0),
                name="operation_balance_after_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(type__in=["deposit", "withdraw", "transfer_in", "transfer_out"]),
                name="operation_type_valid",
            ),
            models.CheckConstraint(
                condition=(
                    Q(
                        type__in=["deposit", "withdraw"],
                        counterparty__isnull=True,
                        transfer_id__isnull=True,
                    )
                    | Q(
                        type__in=["transfer_in", "transfer_out"],
                        counterparty__isnull=False,
                        transfer_id__isnull=False,
                    )
                ),
                name="operation_counterparty_matches_type",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.amount} ({self.owner_id})"


class IdempotencyKey(models.Model):
    """A client's Idempotency-Key and the first response given to it, kept for replays."""

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # sha256 of method, path and canonical JSON body: the same key with another request
    # is refused instead of replaying an answer to a different question.
    fingerprint = models.CharField(max_length=64)
    # Filled in the transaction that claimed the key, so a committed key always has one.
    response_status = models.PositiveSmallIntegerField(null=True)
    # The body as JSON text, not jsonb: jsonb reorders keys, and a replay must be the same
    # bytes as the first answer.
    response_body = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user"),
        ]
        indexes = [
            models.Index(fields=["created_at"], name="idempotency_key_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.key}"
