"""Keyset (cursor) pagination on (created_at, id): every page costs the same, however deep."""

import base64
import binascii
import json
from datetime import UTC, datetime

from django.db.models import Q, QuerySet
from rest_framework.request import Request
from rest_framework.utils.urls import replace_query_param

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


def to_utc(moment: datetime) -> datetime:
    """The same instant in UTC (naive means UTC); ValueError if it falls outside years 1-9999.

    PostgreSQL refuses UTC offsets beyond +-15:59 that Python accepts (+20:02), so every moment
    is sent to the database in UTC.
    """
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range") from None


class Cursor:
    """A position between two rows: the (created_at, id) of the last row seen and a direction."""

    def __init__(self, created_at: datetime, pk: int, *, reverse: bool) -> None:
        self.created_at = created_at
        self.pk = pk
        self.reverse = reverse

    def encode(self) -> str:
        raw = json.dumps([self.created_at.isoformat(), self.pk, int(self.reverse)])
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> "Cursor":
        try:
            padded = text + "=" * (-len(text) % 4)
            created_at, pk, reverse = json.loads(base64.urlsafe_b64decode(padded.encode()))
            moment = datetime.fromisoformat(created_at)
            if moment.tzinfo is None or not isinstance(pk, int) or reverse not in (0, 1):
                raise ValueError("bad cursor")
            moment = to_utc(moment)
            if isinstance(pk, bool):
                raise ValueError("bad cursor")
            if not -(2**63) <= pk < 2**63:
                raise ValueError("bad cursor")
        except (TypeError, binascii.Error, UnicodeError, RecursionError) as exc:
            raise ValueError("Invalid cursor.") from exc
        return cls(moment, pk, reverse=bool(reverse))


def keyset_page(
    queryset: QuerySet, *, cursor: Cursor | None, page_size: int
) -> tuple[list, Cursor | None, Cursor | None]:
    """One page of a queryset ordered by (-created_at, -id), with the cursors around it."""
    if cursor is None:
        rows = list(queryset[: page_size + 1])
        has_more, has_before = len(rows) > page_size, False
        rows = rows[:page_size]
    elif not cursor.reverse:
        # `created_at <= x` bounds the index range; the OR only breaks ties.
        older = queryset.filter(
            Q(created_at__lt=cursor.created_at) | Q(created_at=cursor.created_at, id__lt=cursor.pk),
            created_at__lte=cursor.created_at,
        )
        rows = list(older[: page_size + 1])
        has_more, has_before = len(rows) > page_size, True
        rows = rows[:page_size]
    else:
        newer = queryset.filter(
            Q(created_at__gt=cursor.created_at) | Q(created_at=cursor.created_at, id__gt=cursor.pk),
            created_at__gte=cursor.created_at,
        ).order_by("created_at", "id")
        rows = list(newer[: page_size + 1])
        has_before, has_more = len(rows) > page_size, True
        rows = list(reversed(rows[:page_size]))
    next_cursor = previous_cursor = None
    if rows and has_more:
        last = rows[-1]
        next_cursor = Cursor(last.created_at, last.pk, reverse=False)
    if rows and has_before:
        first = rows[0]
        previous_cursor = Cursor(first.created_at, first.pk, reverse=True)
    return rows, next_cursor, previous_cursor


def page_link(request: Request, cursor: Cursor | None) -> str | None:
    """The absolute URL of the page at this cursor, keeping the request's other parameters."""
    if cursor is None:
        return None
    url = request.build_absolute_uri()
    return replace_query_param(url, "cursor", cursor.encode())
