"""Request and response shapes of the accounts API."""

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from authapp.models import User
from lighTech.fields import StrictCharField


class RegisterInputSerializer(serializers.Serializer):
    """Registration input; the password must satisfy Django's validators."""

    username = StrictCharField(max_length=150, validators=[User.username_validator])
    password = StrictCharField(max_length=128, write_only=True, trim_whitespace=False)
    email = serializers.EmailField(required=False, allow_blank=True, default="")

    def validate(self, attrs):
        candidate = User(username=attrs["username"], email=attrs.get("email", ""))
        try:
            password_validation.validate_password(attrs["password"], user=candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(
                {
                    "password": [
                        serializers.ErrorDetail(m.message % (m.params or {}), code=m.code)
                        for m in exc.error_list
                    ]
                }
            ) from None
        return attrs


class UserOutputSerializer(serializers.Serializer):
    """The public fields of a freshly registered user."""

    id = serializers.IntegerField()
    username = serializers.CharField()
    # Plain text, not `format: email`: an account registered without one has "".
    email = serializers.CharField(help_text="The e-mail address, or an empty string.")


class MeOutputSerializer(UserOutputSerializer):
    """The caller's own account."""

    date_joined = serializers.DateTimeField()


class RefreshInputSerializer(serializers.Serializer):
    """A refresh token in the body."""

    refresh = StrictCharField()


class TokenPairOutputSerializer(serializers.Serializer):
    """A short-lived access token and a rotating refresh token."""

    access = serializers.CharField()
    refresh = serializers.CharField()


class LoginInputSerializer(serializers.Serializer):
    """Credentials; the password is taken exactly as typed, spaces included."""

    username = StrictCharField(max_length=150)
    password = StrictCharField(max_length=128, write_only=True, trim_whitespace=False)


class SessionOutputSerializer(serializers.Serializer):
    """One login session of the caller."""

    id = serializers.UUIDField()
    created_at = serializers.DateTimeField()
    last_refreshed_at = serializers.DateTimeField(
        allow_null=True, help_text="When its refresh token was last rotated; null if never."
    )
    expires_at = serializers.DateTimeField(
        help_text="When its current refresh token expires; each refresh pushes it forward."
    )
    user_agent = serializers.CharField(help_text="The User-Agent it was opened with.")
    ip = serializers.IPAddressField(allow_null=True, help_text="The IP it was opened from.")
    current = serializers.SerializerMethodField(
        help_text="True for the session of the access token making this request."
    )

    def get_current(self, session) -> bool:
        return str(session.pk) == str(self.context.get("current_session"))


class PasswordChangeInputSerializer(serializers.Serializer):
    """The current password and the new one; the new one must satisfy Django's validators."""

    old_password = StrictCharField(max_length=128, write_only=True, trim_whitespace=False)
    new_password = StrictCharField(max_length=128, write_only=True, trim_whitespace=False)

    def validate_new_password(self, value):
        try:
            password_validation.validate_password(value, user=self.context["user"])
        except DjangoValidationError as exc:
            raise serializers.ValidationError(
                [
                    serializers.ErrorDetail(m.message % (m.params or {}), code=m.code)
                    for m in exc.error_list
                ]
            ) from None
        return value
