"""POST /api/auth/v1/login/ and /api/auth/v1/token/refresh/ (simplejwt, documented)."""

from drf_spectacular.utils import extend_schema
from rest_framework_simplejwt.serializers import (
    TokenObtainPairSerializer,
    TokenRefreshSerializer,
)
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from authapp.serializers import TokenPairOutputSerializer


class LoginView(TokenObtainPairView):
    """Exchange a username and password for an access and a refresh token."""

    @extend_schema(
        request=TokenObtainPairSerializer,
        responses={200: TokenPairOutputSerializer},
        summary="Log in",
        description="A wrong password and an unknown username answer the same 401. "
        "The access token lives a few minutes; the refresh token rotates on every refresh.",
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class TokenRefreshRotateView(TokenRefreshView):
    """Exchange a refresh token for a new pair; the old refresh token is blacklisted."""

    @extend_schema(
        request=TokenRefreshSerializer,
        responses={200: TokenPairOutputSerializer},
        summary="Refresh tokens",
        description="Rotation: the answer carries a new refresh token and the one sent is "
        "blacklisted. An invalid, expired, blacklisted or already-rotated token, or an "
        "inactive user, answers 401.",
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)
