"""POST /api/auth/v1/login/ and /api/auth/v1/token/refresh/."""

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from authapp.serializers import (
    LoginInputSerializer,
    RefreshInputSerializer,
    TokenPairOutputSerializer,
)
from authapp.services import session_login, session_refresh
from lighTech.client import client_ip, user_agent
from lighTech.openapi import unauthorized_response
from lighTech.throttling import AuthIPThrottle, LoginFailureThrottle


class LoginView(APIView):
    """Exchange a username and password for an access and a refresh token."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (AuthIPThrottle, LoginFailureThrottle)

    @extend_schema(
        request=LoginInputSerializer,
        responses={200: TokenPairOutputSerializer, **unauthorized_response()},
        summary="Log in",
        description="Starts a session (see `sessions/`). A wrong password and an unknown or "
        "deactivated username answer the same 401 `no_active_account`. The access token "
        "lives a few minutes; the refresh token rotates on every refresh. Failed logins are "
        "limited per username (THROTTLE_LOGIN_USERNAME, default 5/min) and all login and "
        "registration attempts per IP (THROTTLE_AUTH_IP, default 20/min): over the limit, "
        "429 with `Retry-After`, even with the right password.",
        auth=[],
    )
    def post(self, request):
        serializer = LoginInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pair = session_login(
            **serializer.validated_data, user_agent=user_agent(request), ip=client_ip(request)
        )
        return Response(TokenPairOutputSerializer(pair).data)

    def finalize_response(self, request, response, *args, **kwargs):
        # Only failures count against the username, so its owner is never locked out by
        # logging in successfully.
        if response.status_code == 401:
            LoginFailureThrottle().record_failure(request, self)
        return super().finalize_response(request, response, *args, **kwargs)


class TokenRefreshRotateView(APIView):
    """Exchange a refresh token for a new pair; the old refresh token is blacklisted."""

    authentication_classes = ()
    permission_classes = (AllowAny,)

    @extend_schema(
        request=RefreshInputSerializer,
        responses={200: TokenPairOutputSerializer, **unauthorized_response()},
        summary="Refresh tokens",
        description="Rotation: the answer carries a new refresh token of the same session "
        "and the one sent is blacklisted. An invalid, expired, blacklisted or already-rotated "
        "token, a token of an ended session, or a deactivated user answers 401.",
        auth=[],
    )
    def post(self, request):
        serializer = RefreshInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pair = session_refresh(
            refresh=serializer.validated_data["refresh"],
            user_agent=user_agent(request),
            ip=client_ip(request),
        )
        return Response(TokenPairOutputSerializer(pair).data)
