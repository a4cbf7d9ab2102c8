"""POST /api/auth/v1/register/."""

from drf_spectacular.utils import extend_schema
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from authapp.serializers import RegisterInputSerializer, UserOutputSerializer
from authapp.services import user_register
from lighTech.openapi import PASSWORD_VALIDATOR_CODES
from lighTech.throttling import AuthIPThrottle


@extend_validation_errors(PASSWORD_VALIDATOR_CODES, field_name="password")
@extend_validation_errors(["unique"], field_name="username")
class RegisterView(APIView):
    """Create an account with a zero balance."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (AuthIPThrottle,)

    @extend_schema(
        request=RegisterInputSerializer,
        responses={201: UserOutputSerializer},
        summary="Register a user",
        description="Usernames are unique regardless of letter case; the password must pass "
        "Django's password validators. The user's balance starts at 0.00. Registrations and "
        "logins are limited per IP (THROTTLE_AUTH_IP, default 20/min): 429 with `Retry-After`.",
    )
    def post(self, request):
        serializer = RegisterInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = user_register(**serializer.validated_data)
        return Response(UserOutputSerializer(user).data, status=status.HTTP_201_CREATED)
