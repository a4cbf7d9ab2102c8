"""GET /api/health/: is the database answering?"""

from django.db import DatabaseError, connection
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from lighTech.exception_handler import ServiceUnavailable


class HealthView(APIView):
    """200 when the database answers, 503 otherwise."""

    authentication_classes = ()
    permission_classes = (AllowAny,)

    @extend_schema(
        responses={
            200: inline_serializer("Health", {"status": serializers.CharField()}),
            503: OpenApiResponse(description="The database does not answer."),
        },
        summary="Health check",
    )
    def get(self, request):
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except DatabaseError:
            raise ServiceUnavailable() from None
        return Response({"status": "ok"})
