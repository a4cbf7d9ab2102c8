"""Domain errors of the accounts app."""

from lighTech.errors import ApplicationError


class UsernameTaken(ApplicationError):
    """Another account already uses this username in some letter case."""

    code = "unique"
    default_detail = "A user with that username already exists."
    attr = "username"
    field_error = True


class InvalidRefreshToken(ApplicationError):
    """The refresh token is malformed, expired, blacklisted, of another type or another user's."""

    code = "token_not_valid"
    default_detail = "Token is invalid or expired."
    attr = "refresh"
    field_error = True
