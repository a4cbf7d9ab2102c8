"""GET /api/auth/v1/me/."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from authapp.serializers import MeOutputSerializer


class MeView(APIView):
    """The caller's account."""

    @extend_schema(responses={200: MeOutputSerializer}, summary="Who am I")
    def get(self, request):
        return Response(MeOutputSerializer(request.user).data)
