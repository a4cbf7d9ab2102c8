"""Account writes: registration and logout."""

from django.db import IntegrityError, transaction
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import RefreshToken

from authapp.exceptions import InvalidRefreshToken, UsernameTaken
from authapp.models import User
from balance.services import balance_open


def user_register(*, username: str, password: str, email: str = "") -> User:
    """Create the user and the user's zero balance in one transaction."""
    if User.objects.filter(username__iexact=username).exists():
        raise UsernameTaken()
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, password=password, email=email)
            balance_open(user=user)
    except IntegrityError:
        # Lost a race with a concurrent registration of the same name.
        raise UsernameTaken() from None
    return user


def session_logout(*, user: User, refresh: str) -> None:
    """Blacklist the caller's refresh token so it can never be refreshed again."""
    try:
        token = RefreshToken(refresh)
    except TokenError:
        raise InvalidRefreshToken() from None
    if str(token.get(jwt_settings.USER_ID_CLAIM)) != str(user.pk):
        raise InvalidRefreshToken()
    token.blacklist()
