"""Money constants and the one parser of amounts, shared by the model and the API."""

import re
from decimal import Decimal, InvalidOperation

MONEY_MAX_DIGITS = 18
MONEY_DECIMAL_PLACES = 2
MONEY_QUANTUM = Decimal(1).scaleb(-MONEY_DECIMAL_PLACES)
# The largest value numeric(18, 2) holds: 9999999999999999.99.
MONEY_MAX = Decimal(10) ** (MONEY_MAX_DIGITS - MONEY_DECIMAL_PLACES) - MONEY_QUANTUM
# SQLite keeps decimals as binary floats: 13 integer digits and 2 places round-trip exactly.
SQLITE_MONEY_MAX = Decimal(10) ** 13 - MONEY_QUANTUM
ZERO = Decimal("0.00")

# ASCII digits only: Python's \d would also take "٣" (Arabic-Indic three) as a digit.
_PLAIN_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
# What surrounds a string amount and is ignored: ASCII whitespace only (str.strip() would
# also drop control characters like \x1c), so the OpenAPI pattern below can say it exactly.
_BLANKS = " \t\n\r"
# The OpenAPI pattern of a string amount: every string the parser accepts matches it.
AMOUNT_PATTERN = r"^[ \t\n\r]*\+?([0-9]+(\.[0-9]{0,2})?|\.[0-9]{1,2})[ \t\n\r]*$"


class AmountError(ValueError):
    """An amount was refused; `code` is the stable machine-readable reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def parse_amount(value: object) -> Decimal:
    """A JSON string or number as a positive Decimal with at most two places, or AmountError."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise AmountError("invalid", "A valid number is required (a string or a JSON number).")
    if isinstance(value, str):
        text = value.strip(_BLANKS)
        if not _PLAIN_DECIMAL.fullmatch(text):
            raise AmountError("invalid", 'A valid number is required, like "10.50".')
        value = text
    try:
        amount = Decimal(value)
    except (InvalidOperation, ValueError):
        raise AmountError("invalid", "A valid number is required.") from None
    if not amount.is_finite():
        raise AmountError("invalid", "A valid number is required.")
    if amount.is_signed() or amount == 0:
        raise AmountError("min_value", "Amount must be greater than 0.00.")
    if amount.as_tuple().exponent < -MONEY_DECIMAL_PLACES:
        raise AmountError(
            "max_decimal_places",
            f"Ensure that there are no more than {MONEY_DECIMAL_PLACES} decimal places.",
        )
    if amount > MONEY_MAX:
        raise AmountError("max_value", f"Ensure this value is less than or equal to {MONEY_MAX}.")
    return amount.quantize(MONEY_QUANTUM)
