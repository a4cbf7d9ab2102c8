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
from lighTech.db import PreparedStatement

User = get_user_model()
T = TypeVar("T")

_BALANCE = Balance._meta.db_table
_OPERATION = Operation._meta.db_table

# On PostgreSQL a money request is one hand-written SQL statement, prepared once per
# connection (lighTech.db) and run outside any explicit transaction: PostgreSQL runs a single
# statement atomically (all of it or none of it), so atomic() would only add BEGIN and COMMIT
# round trips. Round trips, planning and the ORM's work around them were most of a request's
# cost (docs/performance.md). Called inside a caller's transaction (an Idempotency-Key's),
# the statement simply joins it. The guarantees are those of the locked read-then-write that
# SQLite still uses below:
# - The UPDATE checks the new balance against the column's range and changes it in one step,
#   under the row lock it takes; after waiting for a lock PostgreSQL re-checks the condition
#   on the latest row version, so two requests can never both spend the same money.
# - Zero rows updated means the check failed or the user has no balance row yet; which one
#   is told by the same statement (its snapshot sees the row or not), never by a later
#   query: a row another request created meanwhile would turn "no row yet" into a false
#   "over the limit".
# - The ledger INSERT reads the UPDATE's result, so the operation ids (nextval) and created_at
#   (clock_timestamp(): the database's clock, read once the row is locked) are taken while the
#   owner's row is locked: per owner, id order is the order of the balance changes and
#   created_at never goes backwards along it.
_CHANGE_AND_RECORD = PreparedStatement(
    "balance_change_and_record",
    f"""
    WITH changed AS (
        UPDATE {_BALANCE} SET amount = amount + %(delta)s
        WHERE user_id = %(user)s AND amount + %(delta)s BETWEEN 0 AND %(max)s
        RETURNING amount, clock_timestamp() AS at
    ),
    recorded AS (
        INSERT INTO {_OPERATION} (owner_id, type, amount, balance_after, description,
                                  created_at)
        SELECT %(user)s, %(type)s, %(amount)s, changed.amount, %(description)s, changed.at
        FROM changed
        RETURNING id, balance_after, created_at
    )
    SELECT EXISTS (SELECT FROM {_BALANCE} WHERE user_id = %(user)s),
           recorded.id, recorded.balance_after, recorded.created_at
    FROM (SELECT) AS one LEFT JOIN recorded ON true
    """,  # noqa: S608 - table names come from the models, values are parameters
    types={
        "delta": "numeric",
        "user": "bigint",
        "max": "numeric",
        "type": "text",
        "amount": "numeric",
        "description": "text",
    },
)

# A transfer in one statement: find the recipient as the unique index compares names (the
# parameter is NFKC-normalized like stored names, lower() on both sides), lock both balances
# in primary-key order (LockRows over the pk index scan), so A->B and B->A queue on the same
# first row instead of deadlocking, and only then check and move both. Nothing is locked when
# the recipient is unknown or is the sender.
# - The checked amounts are the locked rows' latest versions (READ COMMITTED re-reads a row
#   changed since the statement began), and the new amounts are computed from them, not from
#   the UPDATE's own scan: that scan reads the versions the statement's snapshot sees, and
#   PostgreSQL checks constraints on a row computed from such a version before it moves on to
#   the newer, locked one (a sender credited since the statement began would fail
#   balance >= 0 on a stale amount).
# - Both legs or neither: if the UPDATE ever changed one row only, balance_after would be
#   NULL and its NOT NULL constraint would abort the whole statement.
# The last SELECT always returns one row: who the recipient is, both locked amounts (NULL for
# a missing balance row) and, when the money moved, the sender's ledger row.
_TRANSFER = PreparedStatement(
    "balance_transfer",
    f"""
    WITH recipient AS MATERIALIZED (
        SELECT id, username FROM {User._meta.db_table}
        WHERE lower(username) = lower(%(recipient)s) AND is_active
    ),
    locked AS MATERIALIZED (
        SELECT user_id, amount FROM {_BALANCE}
        WHERE user_id IN (%(sender)s, (SELECT id FROM recipient))
          AND EXISTS (SELECT FROM recipient WHERE id <> %(sender)s)
        ORDER BY user_id
        FOR UPDATE
    ),
    verdict AS MATERIALIZED (
        SELECT recipient.id AS recipient_id, recipient.username AS recipient_username,
               (SELECT amount FROM locked WHERE user_id = %(sender)s) AS sender_amount,
               (SELECT amount FROM locked WHERE user_id = recipient.id) AS recipient_amount
        FROM (SELECT) AS one LEFT JOIN recipient ON true
    ),
    moved AS (
        UPDATE {_BALANCE} AS balance
        SET amount = locked.amount
                     + CASE WHEN locked.user_id = %(sender)s THEN -%(amount)s ELSE %(amount)s END
        FROM locked, verdict
        WHERE balance.user_id = locked.user_id
          AND verdict.recipient_id <> %(sender)s
          AND verdict.sender_amount >= %(amount)s
          AND verdict.recipient_amount <= %(max)s - %(amount)s
        RETURNING balance.user_id, balance.amount, clock_timestamp() AS at
    ),
    recorded AS (
        INSERT INTO {_OPERATION} (owner_id, type, amount, balance_after, counterparty_id,
                                  transfer_id, description, created_at)
        SELECT moved.user_id,
               CASE WHEN moved.user_id = %(sender)s THEN %(out)s ELSE %(in)s END,
               %(amount)s,
               CASE WHEN count(*) OVER () = 2 THEN moved.amount END,
               CASE WHEN moved.user_id = %(sender)s THEN verdict.recipient_id
                    ELSE %(sender)s END,
               %(transfer_id)s, %(description)s, max(moved.at) OVER ()
        FROM moved CROSS JOIN verdict
        ORDER BY moved.user_id <> %(sender)s
        RETURNING id, owner_id, balance_after, created_at
    )
    SELECT verdict.recipient_id, verdict.recipient_username,
           verdict.sender_amount, verdict.recipient_amount,
           recorded.id, recorded.balance_after, recorded.created_at
    FROM verdict LEFT JOIN recorded ON recorded.owner_id = %(sender)s
    """,  # noqa: S608 - table names come from the models, values are parameters
    types={
        "recipient": "text",
        "sender": "bigint",
        "amount": "numeric",
        "max": "numeric",
        "out": "text",
        "in": "text",
        "transfer_id": "uuid",
        "description": "text",
    },
)


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


# --- PostgreSQL: one statement per money request -----------------------------------------


def _operation(**fields) -> Operation:
    """The Operation a statement just stored, built from its values and RETURNING columns."""
    operation = Operation(**fields)
    operation._state.adding = False
    operation._state.db = connection.alias
    return operation


def _opening_missing_balance(attempt: Callable[[], T]) -> T:
    """Run the attempt; if it credited a user without a balance row, open one and retry.

    The attempt changed nothing, and the row is created with no balance locked, so creating
    it never waits on a lock that a concurrent transfer holds.
    """
    try:
        return attempt()
    except _BalanceMissing as missing:
        # A user created outside registration (createsuperuser, the admin) gets a balance
        # on first use.
        Balance.objects.bulk_create([Balance(user_id=missing.user_id)], ignore_conflicts=True)
        return attempt()


def _move_one(*, user, delta: Decimal, kind: str, description: str) -> Operation:
    """One balance change and its ledger row: one statement, atomic by itself."""

    def attempt() -> Operation:
        with connection.cursor() as cursor:
            _CHANGE_AND_RECORD.execute(
                cursor,
                {
                    "delta": delta,
                    "user": user.pk,
                    "max": MONEY_MAX,
                    "type": kind,
                    "amount": abs(delta),
                    "description": description,
                },
            )
            held, pk, balance_after, created_at = cursor.fetchone()
        if pk is None:
            if delta < 0:
                # A missing balance is a zero balance: there is nothing to take.
                raise InsufficientFunds()
            if held:
                raise BalanceLimitExceeded()
            raise _BalanceMissing(user.pk)
        return _operation(
            id=pk,
            owner_id=user.pk,
            type=kind,
            amount=abs(delta),
            balance_after=balance_after,
            description=description,
            created_at=created_at,
        )

    return _opening_missing_balance(attempt)


def _transfer_one_statement(
    *, sender, recipient_name: str, amount: Decimal, description: str
) -> Operation:
    """Both balances and both ledger rows of a transfer: one statement, atomic by itself."""
    transfer_id = uuid.uuid4()

    def attempt() -> Operation:
        with connection.cursor() as cursor:
            _TRANSFER.execute(
                cursor,
                {
                    "recipient": recipient_name,
                    "sender": sender.pk,
                    "amount": amount,
                    "max": MONEY_MAX,
                    "out": Operation.Type.TRANSFER_OUT,
                    "in": Operation.Type.TRANSFER_IN,
                    "transfer_id": str(transfer_id),
                    "description": description,
                },
            )
            (
                recipient_id,
                recipient_username,
                sender_amount,
                recipient_amount,
                pk,
                balance_after,
                created_at,
            ) = cursor.fetchone()
        # The refusals in the order the locked path checks them.
        if recipient_id is None:
            raise RecipientNotFound()
        if recipient_id == sender.pk:
            raise SelfTransfer()
        if pk is None:
            if sender_amount is None or sender_amount < amount:
                raise InsufficientFunds()
            if recipient_amount is None:
                raise _BalanceMissing(recipient_id)
            raise BalanceLimitExceeded()
        outgoing = _operation(
            id=pk,
            owner_id=sender.pk,
            type=Operation.Type.TRANSFER_OUT,
            amount=amount,
            balance_after=balance_after,
            counterparty_id=recipient_id,
            transfer_id=transfer_id,
            description=description,
            created_at=created_at,
        )
        outgoing.counterparty = User.from_db(
            connection.alias, ["id", "username"], (recipient_id, recipient_username)
        )
        return outgoing

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
    name = User.normalize_username(recipient_username.strip())
    if _fast():
        return _transfer_one_statement(
            sender=sender, recipient_name=name, amount=amount, description=description
        )
    recipient = User.objects.username_match(name).filter(is_active=True).only("username").first()
    if recipient is None:
        raise RecipientNotFound()
    if recipient.pk == sender.pk:
        raise SelfTransfer()
    outgoing = _move_between_locked(
        sender=sender, recipient=recipient, amount=amount, description=description
    )
    outgoing.counterparty = recipient
    return outgoing
