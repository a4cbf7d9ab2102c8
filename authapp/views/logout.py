"""POST /api/auth/v1/logout/."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from authapp.serializers import RefreshInputSerializer
from authapp.services import session_logout


@extend_validation_errors(["token_not_valid"], field_name="refresh")
class LogoutView(APIView):
    """End the session of the given refresh token."""

    @extend_schema(
        request=RefreshInputSerializer,
        responses={204: OpenApiResponse(description="Logged out.")},
        summary="Log out",
        description="Blacklists the caller's refresh token: it can never be refreshed again. "
        "The access token stays valid until it expires (a few minutes). A token that is "
        "invalid, not a refresh token, already blacklisted or another user's answers 400. "
        "Ends the token's session too (see `sessions/`).",
    )
    def post(self, request):
        serializer = RefreshInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        session_logout(user=request.user, refresh=serializer.validated_data["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)
