"""Bearer authentication: simplejwt's, with less CPU per request (docs/performance.md)."""

from functools import cache, lru_cache

from django.core.exceptions import ValidationError
from django.db import connection
from django.utils.translation import gettext_lazy as _
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.utils import aware_utcnow, get_md5_hash_password

from authapp.models import User
from authapp.tokens import DATE_OUT_OF_RANGE


@cache
def _user_sql() -> tuple[str, list[str]]:
    """SELECT every column of the user whose USER_ID_FIELD is %s, and the columns' names."""
    quote = connection.ops.quote_name
    fields = User._meta.concrete_fields
    columns = ", ".join(quote(field.column) for field in fields)
    key = quote(User._meta.get_field(api_settings.USER_ID_FIELD).column)
    sql = f"SELECT {columns} FROM {quote(User._meta.db_table)} WHERE {key} = %s"  # noqa: S608
    return sql, [field.attname for field in fields]


# Verified tokens kept per process: about 2 KB each, so at most ~8 MB.
VERIFIED_TOKENS_CACHED = 4096


@lru_cache(maxsize=VERIFIED_TOKENS_CACHED)
def _verified(raw_token: bytes):
    """simplejwt's full verification (signature, type, claims) of one exact token string."""
    try:
        return authentication.JWTAuthentication().get_validated_token(raw_token)
    except DATE_OUT_OF_RANGE:
        # simplejwt does not catch these (authapp/tokens.py); an exception is never cached.
        raise InvalidToken(_("Token has a date out of range")) from None


class JWTAuthentication(authentication.JWTAuthentication):
    """Every authenticated request looks its user up by primary key, so deactivation is instant.

    A token string already verified by this process is not decoded again (only its expiry is
    checked). The lookup is one indexed query like simplejwt's, but its SQL is built once:
    building an ORM query for every request cost as much CPU as the rest of a GET.
    The checks are simplejwt's own: unknown user, inactive user, and (when enabled) a token
    minted before the last password change all answer 401.
    """

    def __init__(self, *args, **kwargs):
        # DRF builds an authenticator per request; simplejwt's __init__ only sets user_model,
        # with a get_user_model() call (an app-registry lookup) each time. Ours is fixed.
        self.user_model = User

    def get_validated_token(self, raw_token):
        # A client sends the same access token on every request until it expires. Its
        # signature and claims were verified the first time this process saw that exact
        # string; afterwards only the expiry can change, and it is checked on every request.
        # Decoding and verifying took about 10% of a request's CPU (docs/performance.md).
        token = _verified(bytes(raw_token))
        try:
            token.check_exp(current_time=aware_utcnow())
        except TokenError:
            # Expired since it was cached: simplejwt's own path raises its usual 401.
            return super().get_validated_token(raw_token)
        return token

    def get_user(self, validated_token):
        try:
            user_id = User._meta.get_field(api_settings.USER_ID_FIELD).to_python(
                validated_token[api_settings.USER_ID_CLAIM]
            )
        except (KeyError, ValidationError) as exc:
            raise InvalidToken(_("Token contained no recognizable user identification")) from exc
        sql, fields = _user_sql()
        with connection.cursor() as cursor:
            cursor.execute(sql, [user_id])
            row = cursor.fetchone()
        if row is None:
            raise AuthenticationFailed(_("User not found"), code="user_not_found")
        user = User.from_db(connection.alias, fields, row)
        if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed(_("User is inactive"), code="user_inactive")
        if api_settings.CHECK_REVOKE_TOKEN and validated_token.get(
            api_settings.REVOKE_TOKEN_CLAIM
        ) != get_md5_hash_password(user.password):
            raise AuthenticationFailed(
                _("The user's password has been changed."), code="password_changed"
            )
        return user
