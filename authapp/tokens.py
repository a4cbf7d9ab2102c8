"""Reading a JWT the server signed: every malformed claim is a TokenError, never a crash."""

from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import Token

# What simplejwt lets escape for a date claim outside the calendar (`exp: 1e20`).
DATE_OUT_OF_RANGE = (OverflowError, OSError, ValueError)


def token_read(token_class: type[Token], raw) -> Token:
    """simplejwt's `token_class(raw)`, with its gaps closed.

    simplejwt lets a date claim outside the calendar (`exp: 1e20`) raise OverflowError, its
    blacklist check a KeyError for a refresh token without `jti`, and a token without the
    user id pass verification only to fail later.
    Only a token signed with the server's key can get that far, but it must still answer
    401/400, not 500.
    """
    try:
        token = token_class(raw)
    except KeyError as missing:
        raise TokenError(f"Token has no {missing} claim") from None
    except DATE_OUT_OF_RANGE:
        raise TokenError("Token has a date out of range") from None
    for claim in (jwt_settings.JTI_CLAIM, jwt_settings.USER_ID_CLAIM):
        if claim not in token.payload:
            raise TokenError(f"Token has no '{claim}' claim")
    return token
