"""Idempotency-Key: run a money request at most once per user and key, replay its first answer."""

import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.exceptions import APIException
from rest_framework.response import Response

from balance.models import IdempotencyKey
from lighTech.errors import ApplicationError

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
# API.md promises at least 24 hours; purge_idempotency_keys deletes what is older.
RETENTION = timedelta(hours=24)


class InvalidIdempotencyKey(ApplicationError):
    """The Idempotency-Key header is empty, too long or holds control characters."""

    code = "invalid"
    default_detail = f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable characters."
    attr = HEADER
    field_error = True


class IdempotencyKeyReused(ApplicationError):
    """The key was already used for a request with another method, path or body."""

    status_code = 409
    code = "idempotency_key_reused"
    default_detail = (
        "This Idempotency-Key was already used with a different request; "
        "use a new key for a new request."
    )


class IdempotencyKeyInUse(ApplicationError):
    """The key's first request has not finished, so there is no answer to replay yet."""

    status_code = 409
    code = "idempotency_key_in_use"
    default_detail = "A request with this Idempotency-Key is still being processed; retry later."


@dataclass(frozen=True)
class StoredResponse:
    """A response as it is kept for replays: status and body."""

    status: int
    body: object
    replayed: bool = False


def idempotency_key_parse(value: str) -> str:
    """Return the header value as the key, or refuse it with a 400."""
    if not value or len(value) > MAX_KEY_LENGTH or not value.isprintable():
        raise InvalidIdempotencyKey()
    return value


def _canonical(value: object) -> object:
    # A JSON number and a string stay different requests: 10.5 and "10.5" are not the
    # same body, even though both deposit the same amount.
    if isinstance(value, Decimal):
        return {"$number": str(value)}
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def request_fingerprint(*, method: str, path: str, body: object) -> str:
    """sha256 of the method, the path and the body as canonical JSON (sorted keys)."""
    text = json.dumps(
        [method.upper(), path, _canonical(body)],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _key_claim(*, user_id: int, key: str, fingerprint: str) -> int | None:
    """Insert the key and return its id, or None when the user already has that key.

    A concurrent INSERT of the same key waits on the unique index until the first
    transaction ends: after a commit it finds the row (and replays it), after a rollback
    it claims the key itself. So one key executes at most once.
    """
    table = connection.ops.quote_name(IdempotencyKey._meta.db_table)
    with connection.cursor() as cursor:
        # Raw SQL for ON CONFLICT DO NOTHING RETURNING: one statement, no savepoint, and no
        # IntegrityError to catch. Identifiers are ours; values are bound.
        cursor.execute(
            f"INSERT INTO {table} "  # noqa: S608
            '(user_id, "key", fingerprint, response_status, response_body, created_at) '
            "VALUES (%s, %s, %s, NULL, '', %s) "
            'ON CONFLICT (user_id, "key") DO NOTHING RETURNING id',
            [user_id, key, fingerprint, timezone.now()],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _key_replay(*, user_id: int, key: str, fingerprint: str) -> StoredResponse:
    record = (
        IdempotencyKey.objects.filter(user_id=user_id, key=key)
        .only("fingerprint", "response_status", "response_body")
        .first()
    )
    if record is None or record.response_status is None:
        # Purged between our INSERT and this read, or (never in practice) claimed without
        # an answer: the client may simply retry.
        raise IdempotencyKeyInUse()
    if record.fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    return StoredResponse(
        status=record.response_status,
        body=json.loads(record.response_body),
        replayed=True,
    )


def idempotent_execute(
    *, user, key: str, fingerprint: str, execute: Callable[[], StoredResponse]
) -> StoredResponse:
    """Run `execute` once for this user and key, in the key's transaction; replay it later.

    The key and the money movement commit together, so a crash leaves either both or
    neither. A refused request (4xx) is rolled back to a savepoint and only its answer is
    kept. A database error propagates and takes the key with it, so a retry executes.
    """
    with transaction.atomic():
        key_id = _key_claim(user_id=user.pk, key=key, fingerprint=fingerprint)
        if key_id is None:
            return _key_replay(user_id=user.pk, key=key, fingerprint=fingerprint)
        with transaction.atomic():
            response = execute()
            if response.status >= 300:
                # Whatever a refused request did before failing is undone; its key stays.
                transaction.set_rollback(True)
        IdempotencyKey.objects.filter(pk=key_id).update(
            response_status=response.status,
            response_body=json.dumps(response.body, ensure_ascii=False),
        )
    return response


def idempotency_keys_purge(*, older_than: timedelta = RETENTION) -> int:
    """Delete keys created before now - older_than; returns how many were deleted."""
    cutoff = timezone.now() - older_than
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def idempotent(handler):
    """Make a POST handler honour the Idempotency-Key header; without it nothing changes."""

    @functools.wraps(handler)
    def wrapper(view, request, *args, **kwargs):
        header = request.headers.get(HEADER)
        if header is None:
            return handler(view, request, *args, **kwargs)
        key = idempotency_key_parse(header)
        fingerprint = request_fingerprint(
            method=request.method, path=request.path, body=request.data
        )

        def execute() -> StoredResponse:
            # A 4xx is an answer to keep and replay, so it is rendered here, inside the
            # key's transaction; anything else (a database outage) aborts the transaction.
            try:
                response = handler(view, request, *args, **kwargs)
            except (ApplicationError, APIException) as exc:
                response = view.handle_exception(exc)
                if response.status_code >= 500:
                    raise
            return StoredResponse(status=response.status_code, body=response.data)

        result = idempotent_execute(
            user=request.user, key=key, fingerprint=fingerprint, execute=execute
        )
        response = Response(result.body, status=result.status)
        if result.replayed:
            response[REPLAYED_HEADER] = "true"
        return response

    return wrapper


IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    name=HEADER,
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        f"Optional, 1 to {MAX_KEY_LENGTH} printable characters, scoped to the caller and "
        "kept at least 24 hours. The first request with a key executes; a later request "
        "with the same key and the same body (method, path and JSON body) moves no money "
        "and gets the first response again - same status and body, 4xx included - with "
        f"the header `{REPLAYED_HEADER}: true`. The same key with a different body answers "
        "409 `idempotency_key_reused`. Concurrent requests with one key execute once: the "
        "later ones wait for the first to finish and replay its response. A request whose "
        "body is not valid JSON, or that fails with a 5xx, keeps no key and can be retried."
    ),
)


class IdempotencyErrorSerializer(serializers.Serializer):
    """One error of a 409 answer."""

    code = serializers.ChoiceField(choices=[IdempotencyKeyReused.code, IdempotencyKeyInUse.code])
    detail = serializers.CharField()
    attr = serializers.CharField(allow_null=True)


class IdempotencyConflictResponseSerializer(serializers.Serializer):
    """409: the Idempotency-Key was used for another request (or is still running)."""

    type = serializers.ChoiceField(choices=["client_error"])
    errors = IdempotencyErrorSerializer(many=True)
