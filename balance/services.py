"""Money writes: open a balance, deposit, withdraw, transfer. Each one is atomic and locked."""

import uuid
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from balance.exceptions import (
    BalanceLimitExceeded,
    InsufficientFunds,
    RecipientNotFound,
    SelfTransfer,
)
from balance.models import Balance, Operation
from balance.money import MONEY_MAX, SQLITE_MONEY_MAX

User = get_user_model()


def balance_open(*, user) -> Balance:
    """Create the user's zero balance (called by registration, in its transaction)."""
    return Balance.objects.create(user=user)


def _lock_balances(*user_ids: int) -> dict[int, Balance]:
    """Lock the balances of these users, in primary-key order, creating any that is missing.

    One statement locks every row in ascending key order, so two transfers between the same
    pair in opposite directions queue on the same first row instead of deadlocking.
    """
    wanted = sorted(set(user_ids))

    def locked() -> dict[int, Balance]:
        rows = Balance.objects.select_for_update().filter(pk__in=wanted).order_by("pk")
        return {row.pk: row for row in rows}

    balances = locked()
    if len(balances) < len(wanted):
        # A user created outside registration (createsuperuser, the admin) gets a balance
        # on first use.
        missing = [Balance(user_id=pk) for pk in wanted if pk not in balances]
        Balance.objects.bulk_create(missing, ignore_conflicts=True)
        balances = locked()
    return balances


def _balance_limit() -> Decimal:
    # SQLite (the embedded first-run database) stores decimals as binary floats, exact only
    # up to 15 significant digits; PostgreSQL's numeric(18, 2) holds the full range.
    return MONEY_MAX if connection.vendor == "postgresql" else SQLITE_MONEY_MAX


def _credit_check(balance: Balance, amount: Decimal) -> None:
    if balance.amount + amount > _balance_limit():
        raise BalanceLimitExceeded()


def deposit(*, user, amount: Decimal, description: str = "") -> Operation:
    """Add money to the user's balance and record it in the ledger."""
    with transaction.atomic():
        balance = _lock_balances(user.pk)[user.pk]
        _credit_check(balance, amount)
        balance.amount += amount
        balance.save(update_fields=["amount"])
        return Operation.objects.create(
            owner_id=user.pk,
            type=Operation.Type.DEPOSIT,
            amount=amount,
            balance_after=balance.amount,
            description=description,
            created_at=timezone.now(),
        )


def withdraw(*, user, amount: Decimal, description: str = "") -> Operation:
    """Take money from the user's balance, never below zero, and record it in the ledger."""
    with transaction.atomic():
        balance = _lock_balances(user.pk)[user.pk]
        if balance.amount < amount:
            raise InsufficientFunds()
        balance.amount -= amount
        balance.save(update_fields=["amount"])
        return Operation.objects.create(
            owner_id=user.pk,
            type=Operation.Type.WITHDRAW,
            amount=amount,
            balance_after=balance.amount,
            description=description,
            created_at=timezone.now(),
        )


def transfer(
    *, sender, recipient_username: str, amount: Decimal, description: str = ""
) -> Operation:
    """Move money from the sender to an active user; returns the sender's ledger row."""
    username = recipient_username.strip()
    if username.casefold() == sender.get_username().casefold():
        raise SelfTransfer()
    recipient = (
        User.objects.filter(username__iexact=username, is_active=True)
        .only("pk", "username")
        .first()
    )
    if recipient is None:
        raise RecipientNotFound()
    if recipient.pk == sender.pk:
        raise SelfTransfer()

    with transaction.atomic():
        balances = _lock_balances(sender.pk, recipient.pk)
        source, target = balances[sender.pk], balances[recipient.pk]
        if source.amount < amount:
            raise InsufficientFunds()
        _credit_check(target, amount)
        source.amount -= amount
        target.amount += amount
        Balance.objects.bulk_update([source, target], ["amount"])
        now = timezone.now()
        transfer_id = uuid.uuid4()
        outgoing, _incoming = Operation.objects.bulk_create(
            [
                Operation(
                    owner_id=sender.pk,
                    type=Operation.Type.TRANSFER_OUT,
                    amount=amount,
                    balance_after=source.amount,
                    counterparty_id=recipient.pk,
                    transfer_id=transfer_id,
                    description=description,
                    created_at=now,
                ),
                Operation(
                    owner_id=recipient.pk,
                    type=Operation.Type.TRANSFER_IN,
                    amount=amount,
                    balance_after=target.amount,
                    counterparty_id=sender.pk,
                    transfer_id=transfer_id,
                    description=description,
                    created_at=now,
                ),
            ]
        )
    outgoing.counterparty = recipient
    return outgoing
