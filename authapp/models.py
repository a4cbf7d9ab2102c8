"""The user model: Django's user with usernames unique regardless of letter case."""

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower


class CaseInsensitiveUserManager(UserManager):
    """Looks users up by username ignoring case, so `Alice` logs in as `alice`."""

    def get_by_natural_key(self, username):
        return self.get(**{f"{self.model.USERNAME_FIELD}__iexact": username})


class User(AbstractUser):
    """An account holder; `Alice` and `alice` cannot both exist."""

    objects = CaseInsensitiveUserManager()

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        constraints = [
            models.UniqueConstraint(Lower("username"), name="authapp_user_username_ci_unique"),
        ]
