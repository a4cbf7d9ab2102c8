"""Shared serializer fields: the fast ones give exactly what DRF's own would."""

from datetime import UTC, datetime, timedelta, timezone

from django.test import SimpleTestCase
from rest_framework import serializers

from lighTech.fields import UTCDateTimeField


class UTCDateTimeFieldTests(SimpleTestCase):
    def test_same_text_as_drf_datetime_field(self):
        drf, ours = serializers.DateTimeField(), UTCDateTimeField()
        values = [
            datetime(2026, 12, 4, 6, 17, 18, 123456, tzinfo=UTC),
            datetime(2026, 12, 4, 6, 17, 18, tzinfo=UTC),  # no microseconds
            datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=5, minutes=30))),
            datetime(1999, 12, 31, 23, 59, 59, 1, tzinfo=timezone(timedelta(hours=-8))),
        ]
        for value in values:
            with self.subTest(value=value):
                self.assertEqual(ours.to_representation(value), drf.to_representation(value))
                self.assertTrue(ours.to_representation(value).endswith("Z"))
        self.assertIsNone(ours.to_representation(None))
