"""POST deposit/, withdraw/ and transfer/ under /api/balance/v1/."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from balance import services
from balance.idempotency import (
    HEADER,
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
from lighTech.openapi import business_errors
from lighTech.throttling import MoneyUserThrottle

# The codes AmountField raises beyond the ones drf-standardized-errors infers.
amount_errors = extend_validation_errors(
    ["invalid", "min_value", "max_value", "max_decimal_places"], field_name="amount"
)

# A malformed Idempotency-Key header is a validation error named after the header.
key_errors = extend_validation_errors(["invalid"], field_name=HEADER)

_AMOUNT_RULES = (
    '`amount` is a positive decimal with at most two places, as a string (`"10.50"`) or a '
    "JSON number; zero, negatives, more places, NaN/Infinity and non-numbers answer 400 and "
    "change nothing."
)


@amount_errors
@key_errors
class DepositView(APIView):
    """Add money to the caller's balance."""

    throttle_classes = (MoneyUserThrottle,)

    @extend_schema(
        request=DepositInputSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={
            201: OperationOutputSerializer,
            409: IdempotencyConflictResponseSerializer,
        },
        summary="Deposit",
        extensions=business_errors(**{"400": ["balance_limit_exceeded"]}),
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


@amount_errors
@key_errors
class WithdrawView(APIView):
    """Take money out of the caller's balance."""

    throttle_classes = (MoneyUserThrottle,)

    @extend_schema(
        request=WithdrawInputSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={
            201: OperationOutputSerializer,
            409: IdempotencyConflictResponseSerializer,
        },
        summary="Withdraw",
        extensions=business_errors(**{"400": ["insufficient_funds"]}),
        description=_AMOUNT_RULES + " More than the balance answers 400 `insufficient_funds`.",
    )
    @idempotent
    def post(self, request):
        serializer = WithdrawInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        operation = services.withdraw(user=request.user, **serializer.validated_data)
        return Response(OperationOutputSerializer(operation).data, status=status.HTTP_201_CREATED)


@amount_errors
@key_errors
class TransferView(APIView):
    """Send money to another user."""

    throttle_classes = (MoneyUserThrottle,)

    @extend_schema(
        request=TransferInputSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={
            201: OperationOutputSerializer,
            409: IdempotencyConflictResponseSerializer,
        },
        summary="Transfer to another user",
        extensions=business_errors(
            **{
                "400": ["self_transfer", "insufficient_funds", "balance_limit_exceeded"],
                "404": ["recipient_not_found"],
            }
        ),
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
