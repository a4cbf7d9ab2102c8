"""Account reads: the caller's sessions."""

from django.db.models import QuerySet
from django.utils import timezone

from authapp.models import Session, User


def session_list(*, user: User) -> QuerySet[Session]:
    """The user's sessions that can still be refreshed, newest first."""
    return Session.objects.filter(
        user=user, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).order_by("-created_at", "-id")
