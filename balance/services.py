"""Money writes: open a balance, deposit, withdraw, transfer. Each one is atomic and locked."""

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

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
T = TypeVar("T")

_BALANCE = Balance._meta.db_table
_OPERATION = Operation._meta.db_table

# On PostgreSQL a money request runs as hand-written SQL: its round trips and the ORM's work
# around them were most of its cost (docs/performance.md). The guarantees are those of the
# locked read-then-write that SQLite still uses below:
# - The UPDATE checks the new balance against the column's range and changes it in one step,
#   under the row lock it takes; after waiting for a lock PostgreSQL re-checks the condition
#   on the latest row version, so two requests can never both spend the same money.
# - Zero rows updated means the check failed or the user has no balance row yet.
_UPDATE = f"""
    UPDATE {_BALANCE} SET amount = amount + %(delta)s
    WHERE user_id = %(user)s AND amount + %(delta)s BETWEEN 0 AND %(max)s
"""  # noqa: S608 - table names come from the models, values are parameters
_CHANGE = _UPDATE + " RETURNING amount"
# The last balance change and the ledger rows in one statement. The INSERT reads the UPDATE's
# result, so the operation ids (nextval) and created_at (clock_timestamp(): the database's
# clock, read once the row is locked) are taken while the owner's row is locked: per owner, id
# order is the order of the balance changes and created_at never goes backwards along it.
# An entry whose balance_after is NULL takes the balance this statement produced.
_CHANGE_AND_RECORD = f"""
    WITH changed AS ({_UPDATE} RETURNING amount, clock_timestamp() AS at)
    INSERT INTO {_OPERATION} (owner_id, type, amount, balance_after, counterparty_id,
                              transfer_id, description, created_at)
    SELECT entry.owner_id, entry.type, %(amount)s,
           coalesce(entry.balance_after, changed.amount), entry.counterparty_id,
           %(transfer_id)s::uuid, %(description)s, changed.at
    FROM changed,
         unnest(%(owners)s::bigint[], %(types)s::varchar[], %(counterparties)s::bigint[],
                %(afters)s::numeric[])
           WITH ORDINALITY AS entry(owner_id, type, counterparty_id, balance_after, n)
    ORDER BY entry.n
    RETURNING id, balance_after, created_at
"""  # noqa: S608 - table names come from the models, values are parameters

_ACTIVE_USER = f"""
    SELECT id, username FROM {User._meta.db_table}
    WHERE lower(username) = lower(%s) AND is_active
"""  # noqa: S608 - the table name comes from the model, the value is a parameter

# (owner, type, counterparty, balance_after or None) of one ledger row to write.
Entry = tuple[int, str, int | None, Decimal | None]


class _BalanceMissing(Exception):
    """A credited user has no balance row yet (created outside registration)."""

    def __init__(self, user_id: int) -> None:
        super().__init__(user_id)
        self.user_id = user_id


def balance_open(*, user) -> Balance:
    """Create the user's zero balance (called by registration, in its transaction)."""
    return Balance.objects.create(user=user)


def _fast() -> bool:
    return connection.vendor == "postgresql"


def _balance_limit() -> Decimal:
    # SQLite (the embedded first-run database) stores decimals as binary floats, exact only
    # up to 15 significant digits; PostgreSQL's numeric(18, 2) holds the full range.
    return MONEY_MAX if connection.vendor == "postgresql" else SQLITE_MONEY_MAX


# --- PostgreSQL: one UPDATE ... RETURNING per balance, the ledger rows in the last one -------


def _change(cursor, *, user_id: int, delta: Decimal) -> Decimal | None:
    """Move one balance by delta under its row lock; None if refused or missing."""
    cursor.execute(_CHANGE, {"delta": delta, "user": user_id, "max": MONEY_MAX})
    row = cursor.fetchone()
    return None if row is None else row[0]


def _change_and_record(
    cursor,
    *,
    user_id: int,
    delta: Decimal,
    amount: Decimal,
    entries: list[Entry],
    description: str,
    transfer_id: uuid.UUID | None = None,
) -> list[Operation] | None:
    """Move one balance and write the ledger rows; None (nothing written) if refused."""
    owners, types, counterparties, afters = (list(column) for column in zip(*entries, strict=True))
    cursor.execute(
        _CHANGE_AND_RECORD,
        {
            "delta": delta,
            "user": user_id,
            "max": MONEY_MAX,
            "amount": amount,
            "transfer_id": None if transfer_id is None else str(transfer_id),
            "description": description,
            "owners": owners,
            "types": types,
            "counterparties": counterparties,
            "afters": afters,
        },
    )
    rows = cursor.fetchall()
    if not rows:
        return None
    operations = []
    for (pk, balance_after, created_at), (owner_id, kind, counterparty_id, _) in zip(
        rows, entries, strict=True
    ):
        operation = Operation(
            id=pk,
            owner_id=owner_id,
            type=kind,
            amount=amount,
            balance_after=balance_after,
            counterparty_id=counterparty_id,
            transfer_id=transfer_id,
            description=description,
            created_at=created_at,
        )
        operation._state.adding = False
        operation._state.db = connection.alias
        operations.append(operation)
    return operations


def _refusal(*, user_id: int, delta: Decimal) -> Exception:
    """Why an UPDATE changed no row: not enough money, over the limit, or no balance yet."""
    if delta < 0:
        # A missing balance is a zero balance: there is nothing to take.
        return InsufficientFunds()
    if Balance.objects.filter(pk=user_id).exists():
        return BalanceLimitExceeded()
    return _BalanceMissing(user_id)


def _holds_at_least(user_id: int, amount: Decimal) -> bool:
    """Whether the user's committed balance covers amount (no lock: it only picks an error)."""
    held = Balance.objects.filter(pk=user_id).values_list("amount", flat=True).first()
    return held is not None and held >= amount


def _opening_missing_balance(attempt: Callable[[], T]) -> T:
    """Run the attempt; if it credited a user without a balance row, open one and retry.

    The row is created after the attempt rolled back, with no balance locked, so creating it
    never waits on a lock that a concurrent transfer holds.
    """
    try:
        return attempt()
    except _BalanceMissing as missing:
        # A user created outside registration (createsuperuser, the admin) gets a balance
        # on first use.
        Balance.objects.bulk_create([Balance(user_id=missing.user_id)], ignore_conflicts=True)
        return attempt()


def _move_one(*, user, delta: Decimal, kind: str, description: str) -> Operation:
    """One balance change and its ledger row: one statement, in one transaction."""

    def attempt() -> Operation:
        with transaction.atomic(), connection.cursor() as cursor:
            operations = _change_and_record(
                cursor,
                user_id=user.pk,
                delta=delta,
                amount=abs(delta),
                entries=[(user.pk, kind, None, None)],
                description=description,
            )
            if operations is None:
                raise _refusal(user_id=user.pk, delta=delta)
            return operations[0]

    return _opening_missing_balance(attempt)


def _move_between(*, sender, recipient, amount: Decimal, description: str) -> Operation:
    """Both balances and both ledger rows of a transfer: two statements, one transaction."""
    deltas = {sender.pk: -amount, recipient.pk: amount}
    # The rows are locked in primary-key order, so A->B and B->A queue on the same first row
    # instead of deadlocking.
    first, second = sorted(deltas)
    transfer_id = uuid.uuid4()

    def attempt() -> Operation:
        with transaction.atomic(), connection.cursor() as cursor:
            first_after = _change(cursor, user_id=first, delta=deltas[first])
            if first_after is None:
                if first == recipient.pk and not _holds_at_least(sender.pk, amount):
                    # The recipient's credit was refused before the sender was debited;
                    # missing funds are the answer, as when the sender's row comes first.
                    raise InsufficientFunds()
                raise _refusal(user_id=first, delta=deltas[first])
            after = {first: first_after, second: None}
            operations = _change_and_record(
                cursor,
                user_id=second,
                delta=deltas[second],
                amount=amount,
                entries=[
                    (sender.pk, Operation.Type.TRANSFER_OUT, recipient.pk, after[sender.pk]),
                    (recipient.pk, Operation.Type.TRANSFER_IN, sender.pk, after[recipient.pk]),
                ],
                description=description,
                transfer_id=transfer_id,
            )
            if operations is None:
                raise _refusal(user_id=second, delta=deltas[second])
            return operations[0]

    return _opening_missing_balance(attempt)


# --- SQLite: a locked read-then-write through the ORM -----------------------------------------


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


def _credit_check(balance: Balance, amount: Decimal) -> None:
    if balance.amount + amount > _balance_limit():
        raise BalanceLimitExceeded()


def _move_one_locked(*, user, delta: Decimal, kind: str, description: str) -> Operation:
    with transaction.atomic():
        balance = _lock_balances(user.pk)[user.pk]
        if balance.amount + delta < 0:
            raise InsufficientFunds()
        _credit_check(balance, delta)
        balance.amount += delta
        balance.save(update_fields=["amount"])
        return Operation.objects.create(
            owner_id=user.pk,
            type=kind,
            amount=abs(delta),
            balance_after=balance.amount,
            description=description,
            created_at=timezone.now(),
        )


def _move_between_locked(*, sender, recipient, amount: Decimal, description: str) -> Operation:
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
    return outgoing


def _active_user(username: str):
    """The active user with this username, or None; only pk and username are loaded."""
    # Compared as the unique index compares usernames (NFKC as registration stores them,
    # then lower() on both sides, like User.objects.username_match), so this is an index
    # probe rather than a scan of every user; the SQL is written out because building
    # the equivalent ORM query cost more CPU than running it.
    with connection.cursor() as cursor:
        cursor.execute(_ACTIVE_USER, [User.normalize_username(username)])
        row = cursor.fetchone()
    return None if row is None else User.from_db(connection.alias, ["id", "username"], row)


# --- the services -----------------------------------------------------------------------------


def deposit(*, user, amount: Decimal, description: str = "") -> Operation:
    """Add money to the user's balance and record it in the ledger."""
    move = _move_one if _fast() else _move_one_locked
    return move(user=user, delta=amount, kind=Operation.Type.DEPOSIT, description=description)


def withdraw(*, user, amount: Decimal, description: str = "") -> Operation:
    """Take money from the user's balance, never below zero, and record it in the ledger."""
    move = _move_one if _fast() else _move_one_locked
    return move(user=user, delta=-amount, kind=Operation.Type.WITHDRAW, description=description)


def transfer(
    *, sender, recipient_username: str, amount: Decimal, description: str = ""
) -> Operation:
    """Move money from the sender to an active user; returns the sender's ledger row."""
    # Who the recipient is, and so whether it is the sender, is decided by the same lookup
    # the unique index makes: "ss" and "ß" are two users even though casefold() equates them.
    recipient = _active_user(recipient_username.strip())
    if recipient is None:
        raise RecipientNotFound()
    if recipient.pk == sender.pk:
        raise SelfTransfer()
    move = _move_between if _fast() else _move_between_locked
    outgoing = move(sender=sender, recipient=recipient, amount=amount, description=description)
    outgoing.counterparty = recipient
    return outgoing
