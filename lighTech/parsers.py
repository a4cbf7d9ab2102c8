"""JSON parsing that keeps numbers exact and refuses what PostgreSQL could not store."""

import json
from decimal import Decimal

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _reason(exc: Exception) -> str:
    """What was wrong, without Python's internals (codec names, positions of surrogates)."""
    if isinstance(exc, UnicodeError):
        return "the text is not valid UTF-8."
    if isinstance(exc, ArithmeticError):
        return "a number is out of range."
    if isinstance(exc, RecursionError):
        return "the document is nested too deeply."
    return str(exc)


class StrictJSONParser(JSONParser):
    """Decodes decimals as Decimal, not float; refuses NaN, Infinity, surrogates, deep nesting."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", "utf-8")
        try:
            data = json.loads(
                stream.read().decode(encoding),
                parse_float=Decimal,
                parse_constant=_reject_constant,
            )
            # A lone surrogate ("\ud800") parses but cannot be stored as UTF-8.
            json.dumps(data, ensure_ascii=False, default=str).encode("utf-8")
        except (ValueError, ArithmeticError, RecursionError) as exc:
            # ArithmeticError: decimal.InvalidOperation for exponents like 1E+10**21.
            raise ParseError(f"JSON parse error - {_reason(exc)}") from None
        return data
