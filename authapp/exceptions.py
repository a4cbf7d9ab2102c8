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


class InvalidCredentials(ApplicationError):
    """Wrong password or unknown (or inactive) user: the same answer for all three."""

    status_code = 401
    code = "no_active_account"
    default_detail = "No active account found with the given credentials"


class RefreshRefused(ApplicationError):
    """The refresh token is invalid, expired, blacklisted, rotated, or its session ended."""

    status_code = 401
    code = "token_not_valid"
    default_detail = "Token is invalid or expired"


class InactiveAccount(ApplicationError):
    """The token belongs to a user who no longer exists or was deactivated."""

    status_code = 401
    code = "no_active_account"
    default_detail = "No active account found for the given token."


class SessionNotFound(ApplicationError):
    """No active session of the caller has this id."""

    status_code = 404
    code = "not_found"
    default_detail = "No active session of yours has this id."


class WrongPassword(ApplicationError):
    """The old password given to a password change is not the caller's password."""

    code = "password_incorrect"
    default_detail = "Your old password was entered incorrectly."
    attr = "old_password"
    field_error = True
