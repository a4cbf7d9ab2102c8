"""ledger_verify: reads the whole ledger in one snapshot and reports every broken invariant."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import groupby
from operator import itemgetter

from django.db import connection, transaction
from django.db.models import Q

from balance.models import Balance, Operation
from balance.money import ZERO

DEPOSIT, WITHDRAW = Operation.Type.DEPOSIT, Operation.Type.WITHDRAW
TRANSFER_IN, TRANSFER_OUT = Operation.Type.TRANSFER_IN, Operation.Type.TRANSFER_OUT
CREDITS = {DEPOSIT, TRANSFER_IN}
DEBITS = {WITHDRAW, TRANSFER_OUT}


@dataclass(frozen=True)
class Discrepancy:
    """One broken invariant: a stable code, the user or transfer concerned, and why."""

    code: str
    detail: str

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"


@dataclass
class LedgerSummary:
    """What was read and how many discrepancies were found."""

    operations: int = 0
    balances: int = 0
    transfers_checked: bool = False
    deposits: Decimal = ZERO
    withdrawals: Decimal = ZERO
    balances_total: Decimal = ZERO
    discrepancies: int = 0
    codes: dict[str, int] = field(default_factory=dict)


def _chain_check(owner_id: int, rows: Iterator[tuple], summary: LedgerSummary, report) -> Decimal:
    """Walk one owner's operations in id order; return the last balance_after."""
    running = ZERO
    for op_id, op_type, amount, balance_after in rows:
        summary.operations += 1
        if amount <= 0:
            report(
                "amount_not_positive", f"operation {op_id} (user {owner_id}) has amount {amount}"
            )
        if balance_after < 0:
            report(
                "negative_balance",
                f"operation {op_id} (user {owner_id}) leaves balance_after {balance_after}",
            )
        if op_type in CREDITS:
            expected = running + amount
        elif op_type in DEBITS:
            expected = running - amount
        else:
            report("unknown_type", f"operation {op_id} (user {owner_id}) has type {op_type!r}")
            expected = balance_after
        if op_type == DEPOSIT:
            summary.deposits += amount
        elif op_type == WITHDRAW:
            summary.withdrawals += amount
        if balance_after != expected:
            report(
                "chain_broken",
                f"operation {op_id} (user {owner_id}, {op_type} {amount}) has balance_after "
                f"{balance_after}, expected {expected} (previous balance {running})",
            )
        # Continue from what is stored: a bad row is reported with at most its successor,
        # not on every later row.
        running = balance_after
    return running


def _chains_and_balances(summary: LedgerSummary, report, chunk_size: int) -> None:
    """Merge the operations (by owner, id) with the balances (by user): one pass over each."""
    operations = (
        Operation.objects.order_by("owner_id", "id")
        .values_list("owner_id", "id", "type", "amount", "balance_after")
        .iterator(chunk_size=chunk_size)
    )
    balances = (
        Balance.objects.order_by("user_id")
        .values_list("user_id", "amount")
        .iterator(chunk_size=chunk_size)
    )

    def balance_seen(user_id: int, amount: Decimal, last: Decimal) -> None:
        summary.balances += 1
        summary.balances_total += amount
        if amount < 0:
            report("negative_balance", f"user {user_id} has balance {amount}")
        if amount != last:
            report(
                "balance_mismatch",
                f"user {user_id} has balance {amount}, but the ledger ends at {last}",
            )

    next_balance = next(balances, None)
    for owner_id, rows in groupby(operations, key=itemgetter(0)):
        last = _chain_check(owner_id, (row[1:] for row in rows), summary, report)
        # Balances of users without operations come first and must be zero.
        while next_balance is not None and next_balance[0] < owner_id:
            balance_seen(*next_balance, last=ZERO)
            next_balance = next(balances, None)
        if next_balance is not None and next_balance[0] == owner_id:
            balance_seen(*next_balance, last=last)
            next_balance = next(balances, None)
        else:
            report("balance_missing", f"user {owner_id} has operations but no balance row")
    while next_balance is not None:
        balance_seen(*next_balance, last=ZERO)
        next_balance = next(balances, None)


def _unmatched_transfers() -> Iterator[tuple]:
    """Transfer ids whose rows are not exactly one out and one in, same amount, users swapped.

    PostgreSQL groups by transfer_id itself, so only broken transfers leave the database.
    Raw SQL for IS NOT DISTINCT FROM: a NULL counterparty must count as a mismatch.
    """
    table = connection.ops.quote_name(Operation._meta.db_table)
    query = f"""
        SELECT transfer_id, count(*), count(*) FILTER (WHERE type = %(out)s),
               count(*) FILTER (WHERE type = %(in)s), min(amount), max(amount),
               max(owner_id) FILTER (WHERE type = %(out)s),
               max(owner_id) FILTER (WHERE type = %(in)s)
        FROM {table}
        WHERE transfer_id IS NOT NULL
        GROUP BY transfer_id
        HAVING NOT (
            count(*) = 2
            AND count(*) FILTER (WHERE type = %(out)s) = 1
            AND count(*) FILTER (WHERE type = %(in)s) = 1
            AND min(amount) = max(amount)
            AND max(owner_id) FILTER (WHERE type = %(out)s)
                IS NOT DISTINCT FROM max(counterparty_id) FILTER (WHERE type = %(in)s)
            AND max(owner_id) FILTER (WHERE type = %(in)s)
                IS NOT DISTINCT FROM max(counterparty_id) FILTER (WHERE type = %(out)s)
        )
        ORDER BY transfer_id
    """  # noqa: S608 - the table name is ours, values are bound
    with connection.chunked_cursor() as cursor:
        cursor.execute(query, {"out": TRANSFER_OUT.value, "in": TRANSFER_IN.value})
        while rows := cursor.fetchmany(1000):
            yield from rows


def _transfers(summary: LedgerSummary, report) -> None:
    for transfer_id, rows, outs, ins, low, high, out_owner, in_owner in _unmatched_transfers():
        report(
            "transfer_unmatched",
            f"transfer {transfer_id}: {outs} transfer_out and {ins} transfer_in in {rows} "
            f"rows, amounts {low}..{high}, sender {out_owner}, recipient {in_owner} "
            "(expected one out and one in, same amount, the two users swapped)",
        )
    orphans = (
        Operation.objects.filter(
            Q(type__in=[TRANSFER_IN, TRANSFER_OUT], transfer_id__isnull=True)
            | Q(type__in=[DEPOSIT, WITHDRAW], transfer_id__isnull=False)
        )
        .order_by("id")
        .values_list("id", "type", "transfer_id")
    )
    for op_id, op_type, transfer_id in orphans.iterator(chunk_size=1000):
        report(
            "transfer_unmatched",
            f"operation {op_id} is a {op_type} with transfer id {transfer_id}",
        )
    summary.transfers_checked = True


def _verify(report: Callable[[str, str], None], chunk_size: int) -> LedgerSummary:
    summary = LedgerSummary()

    def count(code: str, detail: str) -> None:
        summary.discrepancies += 1
        summary.codes[code] = summary.codes.get(code, 0) + 1
        report(code, detail)

    _chains_and_balances(summary, count, chunk_size)
    _transfers(summary, count)
    expected_total = summary.deposits - summary.withdrawals
    if summary.balances_total != expected_total:
        count(
            "total_mismatch",
            f"balances add up to {summary.balances_total}, deposits minus withdrawals "
            f"is {expected_total}",
        )
    return summary


def ledger_verify(
    *, report: Callable[[Discrepancy], None], chunk_size: int = 10_000
) -> LedgerSummary:
    """Check every ledger invariant, calling `report` for each discrepancy found.

    Reads in one REPEATABLE READ snapshot, so it can run against a live database without
    seeing half of a concurrent transfer; operations and balances are streamed through
    server-side cursors, so memory stays flat however long the ledger is.
    """

    def emit(code: str, detail: str) -> None:
        report(Discrepancy(code=code, detail=detail))

    if connection.in_atomic_block:
        # Inside a caller's transaction (a test), read what the caller sees.
        return _verify(emit, chunk_size)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return _verify(emit, chunk_size)
