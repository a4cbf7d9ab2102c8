"""POST deposit/, withdraw/ and transfer/ under /api/balance/v1/."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from balance import services
from balance.idempotency import (
    IDEMPOTENCY_KEY_PARAMETER,
    IdempotencyConflictResponseSerializer,
    idempotent,
)
from balance.serializers import (
    DepositInputSerializer,
    OperationOutputSerializer,
    TransferInputSerializer,
    WithdrawInputSerializer,
)

_AMOUNT_RULES = (
    '`amount` is a positive decimal with at most two places, as a string (`"10.50"`) or a '
    "JSON number; zero, negatives, more places, NaN/Infinity and non-numbers answer 400 and "
    "change nothing."
)


class DepositView(APIView):
    """Add money to the caller's balance."""

    @extend_schema(
        request=DepositInputSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={
            201: OperationOutputSerializer,
            409: IdempotencyConflictResponseSerializer,
        },
        summary="Deposit",
        description=_AMOUNT_RULES,
        examples=[
            OpenApiExample(
                "Deposit",
                value={"amount": "100.00", "description": "salary"},
                request_only=True,
            )
        ],
    )
    @idempotent
    def post(self, request):
        serializer = DepositInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        operation = services.deposit(user=request.user, **serializer.validated_data)
        return Response(OperationOutputSerializer(operation).data, status=status.HTTP_201_CREATED)


class WithdrawView(APIView):
    """Take money out of the caller's balance."""

    @extend_schema(
        request=WithdrawInputSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={
            201: OperationOutputSerializer,
            409: IdempotencyConflictResponseSerializer,
        },
        summary="Withdraw",
        description=_AMOUNT_RULES + " More than the balance answers 400 `insufficient_funds`.",
    )
    @idempotent
    def post(self, request):
        serializer = WithdrawInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        operation = services.withdraw(user=request.user, **serializer.validated_data)
        return Response(OperationOutputSerializer(operation).data, status=status.HTTP_201_CREATED)


class TransferView(APIView):
    """Send money to another user."""

    @extend_schema(
        request=TransferInputSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={
            201: OperationOutputSerializer,
            409: IdempotencyConflictResponseSerializer,
        },
        summary="Transfer to another user",
        description=_AMOUNT_RULES + " The recipient is a username matched case-insensitively, "
        "surrounding spaces ignored. Answers 400 `self_transfer` or `insufficient_funds`, "
        "404 `recipient_not_found`. Returns the sender's `transfer_out` operation; the "
        "recipient gets a matching `transfer_in`.",
    )
    @idempotent
    def post(self, request):
        serializer = TransferInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        operation = services.transfer(
            sender=request.user,
            recipient_username=data["recipient"],
            amount=data["amount"],
            description=data["description"],
        )
        return Response(OperationOutputSerializer(operation).data, status=status.HTTP_201_CREATED)
