"""The user model (usernames unique regardless of letter case) and login sessions."""

import uuid

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Value
from django.db.models.functions import Lower
from django.utils import timezone


class CaseInsensitiveUserManager(UserManager):
    """Looks users up by username ignoring case, so `Alice` logs in as `alice`."""

    def username_match(self, username: str) -> models.QuerySet:
        """Users whose username is this one as the unique index compares names.

        NFKC-normalized as registration stores names, then lower() on both sides in SQL:
        the same comparison as the unique index, which also serves the lookup. (`iexact`
        compares with upper(), which disagrees with lower() on letters such as 'ß'.)
        """
        name = self.model.normalize_username(username)
        return self.alias(username_lower=Lower("username")).filter(
            username_lower=Lower(Value(name))
        )

    def get_by_natural_key(self, username):
        return self.username_match(username).get()


class User(AbstractUser):
    """An account holder; `Alice` and `alice` cannot both exist."""

    objects = CaseInsensitiveUserManager()

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        constraints = [
            models.UniqueConstraint(Lower("username"), name="authapp_user_username_ci_unique"),
        ]


class Session(models.Model):
    """One login: the family of refresh tokens rotated from the token issued at login."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sessions")
    created_at = models.DateTimeField(default=timezone.now)
    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    # The expiry of the newest refresh token of the family: each rotation pushes it forward.
    expires_at = models.DateTimeField()
    user_agent = models.CharField(max_length=255, blank=True, default="")
    ip = models.GenericIPAddressField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # The jti of the only refresh token of the family that can still be used (rotation
    # blacklists the others), so ending the session can blacklist it too.
    refresh_jti = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        indexes = [
            models.Index(fields=["user", "-created_at"], name="authapp_session_user_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.id}"
