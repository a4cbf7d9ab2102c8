"""Account writes: registration, login sessions (start, refresh, end) and password change."""

import uuid
from dataclasses import dataclass

from django.contrib.auth import authenticate
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import (
    BlacklistedToken,
    OutstandingToken,
)
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch

from authapp.exceptions import (
    InactiveAccount,
    InvalidCredentials,
    InvalidRefreshToken,
    RefreshRefused,
    SessionNotFound,
    UsernameTaken,
    WrongPassword,
)
from authapp.models import Session, User
from authapp.tokens import token_read
from balance.services import balance_open

# The claim naming the session of a token; access tokens copy it from their refresh token.
SESSION_CLAIM = "sid"


@dataclass(frozen=True)
class TokenPair:
    """What login and refresh answer."""

    access: str
    refresh: str


def user_register(*, username: str, password: str, email: str = "") -> User:
    """Create the user and the user's zero balance in one transaction."""
    if User.objects.username_match(username).exists():
        raise UsernameTaken()
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, password=password, email=email)
            balance_open(user=user)
    except IntegrityError:
        # Lost a race with a concurrent registration of the same name.
        raise UsernameTaken() from None
    return user


def _session_id(token) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(token.get(SESSION_CLAIM)))
    except ValueError:
        return None


def _issue_refresh(*, session: Session, token: RefreshToken | None = None) -> RefreshToken:
    """A fresh refresh token of the session (a new one, or `token` rotated), recorded on it."""
    if token is None:
        token = RefreshToken()
        token[jwt_settings.USER_ID_CLAIM] = str(session.user_id)
        token[SESSION_CLAIM] = str(session.pk)
    else:
        token.set_jti()
        token.set_exp()
        token.set_iat()
    expires_at = datetime_from_epoch(token["exp"])
    OutstandingToken.objects.create(
        user_id=session.user_id,
        jti=token[jwt_settings.JTI_CLAIM],
        token=str(token),
        created_at=token.current_time,
        expires_at=expires_at,
    )
    session.refresh_jti = token[jwt_settings.JTI_CLAIM]
    session.expires_at = expires_at
    return token


def session_login(*, username: str, password: str, user_agent: str, ip: str | None) -> TokenPair:
    """Check the credentials and start a session; unknown user, wrong password or inactive: 401."""
    user = authenticate(username=username, password=password)
    if user is None or not user.is_active:
        raise InvalidCredentials()
    with transaction.atomic():
        session = Session(user=user, user_agent=user_agent[:255], ip=ip)
        token = _issue_refresh(session=session)
        session.save(force_insert=True)
    return TokenPair(access=str(token.access_token), refresh=str(token))


def session_refresh(*, refresh: str, user_agent: str, ip: str | None) -> TokenPair:
    """Rotate a refresh token: the old one is blacklisted, the session lives on; else 401."""
    try:
        token = token_read(RefreshToken, refresh)
    except TokenError as exc:
        raise RefreshRefused(str(exc)) from None
    user_id = token.get(jwt_settings.USER_ID_CLAIM)
    jti = token.get(jwt_settings.JTI_CLAIM)
    with transaction.atomic():
        session_id = _session_id(token)
        if session_id is None:
            # A token issued before sessions existed joins a session of its own.
            user = User.objects.filter(pk=user_id).first() if str(user_id).isdigit() else None
            if user is None or not user.is_active:
                raise InactiveAccount()
            session = Session(user=user, user_agent=user_agent[:255], ip=ip)
        else:
            # The row lock serialises two refreshes of the same family: the second one sees
            # the first one's blacklisting below and is refused, so one token rotates once.
            session = (
                Session.objects.select_for_update(of=("self",))
                .select_related("user")
                .filter(pk=session_id, user_id=user_id)
                .first()
            )
            if session is None or session.revoked_at is not None:
                raise RefreshRefused("This session has ended.")
            if not session.user.is_active:
                raise InactiveAccount()
            if BlacklistedToken.objects.filter(token__jti=jti).exists():
                raise RefreshRefused("Token is blacklisted")
        token.blacklist()
        if session_id is None:
            token[SESSION_CLAIM] = str(session.pk)
        new_token = _issue_refresh(session=session, token=token)
        session.last_refreshed_at = timezone.now()
        session.save()
    return TokenPair(access=str(new_token.access_token), refresh=str(new_token))


def _sessions_end(sessions: QuerySet[Session], *, user: User) -> int:
    """End these sessions and blacklist their live refresh tokens; returns how many ended."""
    sessions = sessions.filter(user=user, revoked_at__isnull=True)
    jtis = [jti for jti in sessions.values_list("refresh_jti", flat=True) if jti]
    ended = sessions.update(revoked_at=timezone.now())
    live = OutstandingToken.objects.filter(user=user, jti__in=jtis, blacklistedtoken__isnull=True)
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=outstanding) for outstanding in live], ignore_conflicts=True
    )
    return ended


def session_logout(*, user: User, refresh: str) -> None:
    """Blacklist the caller's refresh token and end its session."""
    try:
        token = token_read(RefreshToken, refresh)
    except TokenError:
        raise InvalidRefreshToken() from None
    if str(token.get(jwt_settings.USER_ID_CLAIM)) != str(user.pk):
        raise InvalidRefreshToken()
    with transaction.atomic():
        session_id = _session_id(token)
        ended = session_id is not None and not _sessions_end(
            Session.objects.filter(pk=session_id), user=user
        )
        if ended:
            # Its session was ended already: the token is as good as blacklisted.
            raise InvalidRefreshToken()
        token.blacklist()


def session_end(*, user: User, session_id: uuid.UUID) -> None:
    """End one of the user's active sessions; someone else's or an ended one is not found."""
    with transaction.atomic():
        active = Session.objects.filter(pk=session_id, expires_at__gt=timezone.now())
        if not _sessions_end(active, user=user):
            raise SessionNotFound()


def session_end_all(*, user: User, keep: uuid.UUID | None = None) -> int:
    """End every session of the user except `keep`, and blacklist all their refresh tokens."""
    with transaction.atomic():
        sessions = Session.objects.all()
        kept_jti = None
        if keep is not None:
            sessions = sessions.exclude(pk=keep)
            kept_jti = (
                Session.objects.filter(pk=keep, user=user).values_list("refresh_jti", flat=True)
            ).first()
        ended = _sessions_end(sessions, user=user)
        # Tokens that belong to no session (issued before sessions existed) die too.
        orphans = OutstandingToken.objects.filter(
            user=user, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True
        )
        if kept_jti:
            orphans = orphans.exclude(jti=kept_jti)
        BlacklistedToken.objects.bulk_create(
            [BlacklistedToken(token=outstanding) for outstanding in orphans],
            ignore_conflicts=True,
        )
    return ended


def password_change(
    *, user: User, old_password: str, new_password: str, current_session: uuid.UUID | None
) -> None:
    """Set a new password after checking the old one, and end every other session."""
    if not user.check_password(old_password):
        raise WrongPassword()
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        session_end_all(user=user, keep=current_session)
