"""Serializer fields shared by the apps."""

from datetime import UTC

from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A CharField that takes only JSON strings: DRF's would turn `0` or `1.5` into text."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class UTCDateTimeField(serializers.DateTimeField):
    """Output only: DRF's DateTimeField text for an aware datetime, for the API's zone, UTC.

    DRF's looks up the output format setting and the current time zone (a thread-local) for
    every value; a history page paid that for each of its rows (docs/performance.md). The
    text is the same as DRF's with TIME_ZONE = "UTC": ISO 8601, `Z` for +00:00
    (lighTech/tests/test_fields.py compares the two).
    """

    def to_representation(self, value):
        if not value:
            return None
        text = value.astimezone(UTC).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
