"""Session management under /api/auth/v1/: list, end one, end all, change password."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from authapp.selectors import session_list
from authapp.serializers import PasswordChangeInputSerializer, SessionOutputSerializer
from authapp.services import SESSION_CLAIM, password_change, session_end, session_end_all
from lighTech.openapi import PASSWORD_VALIDATOR_CODES
from lighTech.throttling import PasswordChangeFailureThrottle


def current_session(request) -> str | None:
    """The session id carried by the caller's access token."""
    return request.auth.get(SESSION_CLAIM) if request.auth is not None else None


class SessionListView(APIView):
    """The caller's active sessions."""

    @extend_schema(
        responses={200: SessionOutputSerializer(many=True)},
        summary="List my sessions",
        description="Every login starts a session: the refresh token issued then and the "
        "tokens rotated from it. Lists the sessions that can still be refreshed (not ended, "
        "not expired), newest first; `current` marks the one of this access token.",
    )
    def get(self, request):
        sessions = session_list(user=request.user)
        context = {"current_session": current_session(request)}
        return Response(SessionOutputSerializer(sessions, many=True, context=context).data)


class SessionDeleteView(APIView):
    """End one of the caller's sessions."""

    @extend_schema(
        responses={
            204: OpenApiResponse(description="Session ended."),
        },
        summary="End a session",
        description="Its refresh token can no longer be refreshed (401). Access tokens it "
        "already issued stay valid until they expire (a few minutes). An unknown id, an "
        "ended session or another user's session answers 404.",
    )
    def delete(self, request, session_id):
        session_end(user=request.user, session_id=session_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllView(APIView):
    """End every session of the caller."""

    @extend_schema(
        request=None,
        responses={
            204: OpenApiResponse(description="Every session ended."),
        },
        summary="Log out everywhere",
        description="Ends every session of the caller, this one included: no refresh token "
        "of the caller can be refreshed any more. Access tokens stay valid until they expire.",
    )
    def post(self, request):
        session_end_all(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_validation_errors(PASSWORD_VALIDATOR_CODES, field_name="new_password")
@extend_validation_errors(["password_incorrect"], field_name="old_password")
class PasswordChangeView(APIView):
    """Change the caller's password and end every other session."""

    throttle_classes = (PasswordChangeFailureThrottle,)

    @extend_schema(
        request=PasswordChangeInputSerializer,
        responses={
            204: OpenApiResponse(description="Password changed."),
        },
        summary="Change my password",
        description="A wrong `old_password` answers 400 `password_incorrect`; a "
        "`new_password` refused by the password validators answers 400 with their codes. "
        "On success every other session ends; the current one goes on. A wrong "
        "`old_password` counts as a failed login of the caller (THROTTLE_LOGIN_USERNAME): "
        "over the limit, 429 with `Retry-After`.",
    )
    def post(self, request):
        serializer = PasswordChangeInputSerializer(
            data=request.data, context={"user": request.user}
        )
        serializer.is_valid(raise_exception=True)
        password_change(
            user=request.user,
            **serializer.validated_data,
            current_session=current_session(request),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    def finalize_response(self, request, response, *args, **kwargs):
        errors = response.data.get("errors", []) if isinstance(response.data, dict) else []
        if any(error.get("code") == "password_incorrect" for error in errors):
            PasswordChangeFailureThrottle().record_failure(request, self)
        return super().finalize_response(request, response, *args, **kwargs)
