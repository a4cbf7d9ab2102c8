"""Request and response shapes of the balance API."""

from datetime import date, datetime, time

from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from balance.models import Operation
from balance.money import (
    AMOUNT_PATTERN,
    MONEY_DECIMAL_PLACES,
    MONEY_MAX,
    MONEY_MAX_DIGITS,
    AmountError,
    parse_amount,
)
from balance.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Cursor, to_utc
from lighTech.fields import StrictCharField, UTCDateTimeField


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "pattern": AMOUNT_PATTERN, "example": "10.50"},
            {"type": "number", "minimum": 0.01, "maximum": float(MONEY_MAX)},
        ],
        "description": "A positive amount with at most two decimal places, as a string "
        "(preferred) or a JSON number. Zero and amounts above the maximum match the pattern "
        "but answer 400.",
    }
)
class AmountField(serializers.Field):
    """A positive amount; refuses zero, negatives, over two places, NaN, Infinity, non-numbers."""

    # The codes parse_amount raises, declared so the schema lists them for `amount`.
    default_error_messages = {
        "invalid": "A valid number is required.",
        "min_value": "Amount must be greater than 0.00.",
        "max_decimal_places": "Ensure that there are no more than 2 decimal places.",
        "max_value": "Ensure this value is less than or equal to the maximum.",
    }

    def to_internal_value(self, data):
        try:
            return parse_amount(data)
        except AmountError as exc:
            raise serializers.ValidationError(exc.message, code=exc.code) from None

    def to_representation(self, value):
        return f"{value:.{MONEY_DECIMAL_PLACES}f}"


class MoneyOutputField(serializers.DecimalField):
    """An amount in a response: a string with exactly two decimal places."""

    def __init__(self, **kwargs):
        super().__init__(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, **kwargs)


class SharedFieldsSerializer(serializers.Serializer):
    """A serializer whose fields are built and bound once per class, not once per instance.

    DRF deep-copies every declared field for each serializer instance; for one money request
    those copies cost more CPU than validating the input and rendering the answer together
    (docs/performance.md). The fields of these serializers keep no per-request state and read
    no context (validation errors travel in exceptions), so one bound set per class serves
    every request and thread; validation and rendering are DRF's, field by field.
    """

    _shared: dict[type, dict[str, serializers.Field]] = {}  # one set per subclass

    @property
    def fields(self):
        fields = SharedFieldsSerializer._shared.get(type(self))
        if fields is None:
            # DRF's own construction (deep copies, bound), done once on one prototype.
            fields = serializers.Serializer.fields.func(type(self)())
            SharedFieldsSerializer._shared[type(self)] = fields
        return fields


class DepositInputSerializer(SharedFieldsSerializer):
    """Deposit or withdrawal input."""

    amount = AmountField()
    description = StrictCharField(max_length=255, required=False, allow_blank=True, default="")


class WithdrawInputSerializer(DepositInputSerializer):
    """Withdrawal input."""


class TransferInputSerializer(DepositInputSerializer):
    """Transfer input: the recipient's username (any letter case, spaces ignored)."""

    recipient = StrictCharField(max_length=150)


class BalanceOutputSerializer(SharedFieldsSerializer):
    """The caller's balance."""

    balance = MoneyOutputField()


class OperationOutputSerializer(SharedFieldsSerializer):
    """One ledger row as the owner sees it."""

    id = serializers.CharField()
    type = serializers.ChoiceField(choices=Operation.Type.choices)
    amount = MoneyOutputField()
    balance_after = MoneyOutputField()
    counterparty = serializers.CharField(source="counterparty.username", allow_null=True)
    description = serializers.CharField()
    created_at = UTCDateTimeField()

    def to_representation(self, operation):
        """DRF's Serializer.to_representation for this one shape, written out.

        DRF's generic walk looks every field's source up through its own path (a Mapping
        check and a callable check per step) and cost about a tenth of a transfer's
        instructions (docs/performance.md). The values are the same attributes, each rendered
        by its declared field, and None stays None without one, as DRF does; a deposit's
        missing counterparty is None (DRF: allow_null). SharedFieldsSerializerTests compares
        this with DRF's own rendering of the same fields.
        """
        fields = self.fields
        counterparty = operation.counterparty
        values = (
            ("id", operation.id),
            ("type", operation.type),
            ("amount", operation.amount),
            ("balance_after", operation.balance_after),
            ("counterparty", None if counterparty is None else counterparty.username),
            ("description", operation.description),
            ("created_at", operation.created_at),
        )
        return {
            name: None if value is None else fields[name].to_representation(value)
            for name, value in values
        }


class OperationPageSerializer(serializers.Serializer):
    """A page of the history with links to its neighbours."""

    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = OperationOutputSerializer(many=True)


@extend_schema_field(OpenApiTypes.DATETIME)
class MomentField(serializers.Field):
    """An ISO 8601 datetime, or a date meaning its midnight UTC; naive datetimes are UTC."""

    default_error_messages = {"invalid": "Use an ISO 8601 date or datetime."}

    def to_internal_value(self, data):
        text = str(data).strip()
        if not (text.isascii() and text.isprintable()):
            # The parsers take other scripts' digits and ignore a trailing NUL.
            self.fail("invalid")
        try:
            moment = parse_datetime(text)
            if moment is None:
                day = parse_date(text)
                if day is None:
                    self.fail("invalid")
                moment = datetime.combine(day, time.min)
            return to_utc(moment)
        except ValueError:
            self.fail("invalid")

    def to_representation(self, value: date):
        return value.isoformat()


class PageSizeField(serializers.IntegerField):
    """A whole number written in ASCII digits: DRF's IntegerField also takes "5.0", "+5" and
    other scripts' digits ("\uff15")."""

    def to_internal_value(self, data):
        text = data.strip() if isinstance(data, str) else ""
        if not (text.isascii() and text.isdigit()):
            self.fail("invalid")
        return super().to_internal_value(text)


class OperationFilterSerializer(serializers.Serializer):
    """Query parameters of the history; anything else is ignored."""

    type = serializers.ChoiceField(choices=Operation.Type.choices, required=False)
    created_after = MomentField(required=False, help_text="Operations at or after this moment.")
    created_before = MomentField(
        required=False, help_text="Operations strictly before this moment."
    )
    page_size = PageSizeField(
        required=False,
        min_value=1,
        default=DEFAULT_PAGE_SIZE,
        help_text=f"Default {DEFAULT_PAGE_SIZE}; larger values are capped at {MAX_PAGE_SIZE}.",
    )
    cursor = serializers.CharField(
        required=False, help_text="The cursor from `next` or `previous`."
    )

    def validate_page_size(self, value: int) -> int:
        return min(value, MAX_PAGE_SIZE)

    def validate_cursor(self, value: str) -> Cursor:
        try:
            return Cursor.decode(value)
        except ValueError:
            raise serializers.ValidationError("Invalid cursor.", code="invalid") from None
