"""Request and response shapes of the accounts API."""

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from authapp.models import User


class RegisterInputSerializer(serializers.Serializer):
    """Registration input; the password must satisfy Django's validators."""

    username = serializers.CharField(max_length=150, validators=[User.username_validator])
    password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)
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
    email = serializers.EmailField()


class MeOutputSerializer(UserOutputSerializer):
    """The caller's own account."""

    date_joined = serializers.DateTimeField()


class RefreshInputSerializer(serializers.Serializer):
    """A refresh token in the body."""

    refresh = serializers.CharField()


class TokenPairOutputSerializer(serializers.Serializer):
    """A short-lived access token and a rotating refresh token."""

    access = serializers.CharField()
    refresh = serializers.CharField()
