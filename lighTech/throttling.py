"""Rate limits kept in Django's cache: failed logins per username, auth per IP, money per user.

Each limit is a fixed-window counter: one key per (scope, who, window), incremented in one
cache round trip (one INCR-and-EXPIRE script on Redis). A cache outage never refuses a
request: the throttle lets it through and logs a warning, so Redis going down cannot take
the money endpoints down with it.
"""

import functools
import logging
import math
import threading
import time

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from rest_framework.throttling import BaseThrottle

from lighTech.client import client_ip

logger = logging.getLogger(__name__)

# One warning per process per this many seconds while the cache is down, not one per request.
_OUTAGE_LOG_INTERVAL = 10.0
_last_outage_log = 0.0


def _log_outage(exc: Exception) -> None:
    global _last_outage_log
    now = time.monotonic()
    if now - _last_outage_log >= _OUTAGE_LOG_INTERVAL:
        _last_outage_log = now
        logger.warning(
            "Throttle cache unavailable, requests are not rate limited: %s",
            type(exc).__name__,
        )


def parse_rate(rate: str) -> tuple[int, int]:
    """DRF's rate format, `<count>/<s|sec|m|min|h|hour|d|day>`, as (count, seconds)."""
    count, period = rate.split("/")
    return int(count), {"s": 1, "m": 60, "h": 3600, "d": 86400}[period.strip()[0]]


# INCR, and on a window's first request EXPIRE, in one command: one round trip, and a key
# always gets its expiry even if the process dies between the two.
_COUNT_SCRIPT = (
    "local n = redis.call('INCR', KEYS[1]) "
    "if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end "
    "return n"
)


# Each thread's own Redis connection, with the pool it was made from.
_held = threading.local()


def _thread_connection(cache: RedisCache):
    """This thread's connection to the cache's first server: made once, then kept.

    Taking a connection from redis-py's pool and giving it back (its lock, pid check,
    readiness poll and connection-count bookkeeping) cost more CPU than the command itself
    (docs/performance.md). A gthread worker runs a fixed set of threads, so one connection
    per thread is a fixed number of connections too. A different pool (another cache, as in
    tests that swap CACHES) gets a connection of its own.
    """
    # The pool itself: get_client() would build a whole redis-py client around it per call.
    pool = cache._cache._get_connection_pool(write=True)
    held = getattr(_held, "connection", None)
    if held is None or held[0] is not pool:
        held = _held.connection = (pool, pool.make_connection())
    return held[1]


def _eval_count(connection, key: str, timeout: int) -> int:
    try:
        # Connects first if the connection is new or was dropped below.
        connection.send_command("EVAL", _COUNT_SCRIPT, 1, key, timeout)
        return int(connection.read_response())
    except BaseException:
        # A connection left mid-reply (a timeout, Redis gone) is dropped; the next command
        # reconnects.
        connection.disconnect()
        raise


def _redis_count(cache: RedisCache, key: str, timeout: int) -> int:
    """Count one more request under key in Redis; returns the new count.

    One command on this thread's own connection: the redis-py client and pipeline layers
    around it cost three times the CPU of the round trip itself (docs/performance.md).
    Writes always go to the cache's first server.
    """
    connection = _thread_connection(cache)
    try:
        return _eval_count(connection, key, timeout)
    except RedisConnectionError:
        # Redis closed the kept connection (a restart, an idle timeout): one more try on a
        # new one. At worst the first try counted too: one request too many, never too few.
        return _eval_count(connection, key, timeout)


_parsed_rate = functools.lru_cache(maxsize=64)(parse_rate)


class WindowThrottle(BaseThrottle):
    """A fixed-window counter for `scope`; subclasses say who is counted."""

    scope = ""

    def __init__(self) -> None:
        self.num_requests, self.duration = _parsed_rate(settings.THROTTLE_RATES[self.scope])
        self.retry_after: float | None = None

    def get_ident_key(self, request, view) -> str | None:
        """Who is counted; None means this request is not limited."""
        raise NotImplementedError

    def _key(self, ident: str, now: float) -> str:
        return f"throttle:{self.scope}:{ident}:{int(now // self.duration)}"

    def _set_wait(self, now: float) -> None:
        window_end = (int(now // self.duration) + 1) * self.duration
        self.retry_after = max(1, math.ceil(window_end - now))

    def _hit(self, key: str) -> int:
        """Count one more request in this window; returns the new count."""
        cache = caches[settings.THROTTLE_CACHE_ALIAS]
        timeout = self.duration + 1
        if isinstance(cache, RedisCache):
            return _redis_count(cache, cache.make_and_validate_key(key), timeout)
        cache.add(key, 0, timeout)
        return cache.incr(key)

    def _count(self, key: str) -> int:
        return int(caches[settings.THROTTLE_CACHE_ALIAS].get(key) or 0)

    def _used(self, key: str) -> int:
        """Requests of this window, this one included."""
        return self._hit(key)

    def allow_request(self, request, view) -> bool:
        ident = self.get_ident_key(request, view)
        if ident is None:
            return True
        now = time.time()
        try:
            count = self._used(self._key(ident, now))
        except Exception as exc:
            _log_outage(exc)
            return True
        if count > self.num_requests:
            self._set_wait(now)
            return False
        return True

    def wait(self) -> float | None:
        return self.retry_after


class MoneyUserThrottle(WindowThrottle):
    """Requests per user on deposit, withdraw and transfer (THROTTLE_MONEY_USER)."""

    scope = "money_user"

    def get_ident_key(self, request, view) -> str | None:
        user = request.user
        return str(user.pk) if user is not None and user.is_authenticated else None


class AuthIPThrottle(WindowThrottle):
    """Login and registration attempts per client IP (THROTTLE_AUTH_IP)."""

    scope = "auth_ip"

    def get_ident_key(self, request, view) -> str | None:
        return client_ip(request) or "unknown"


class LoginFailureThrottle(WindowThrottle):
    """Failed logins per username (THROTTLE_LOGIN_USERNAME); only failures are counted.

    Once a username has used up its failures, every login to it answers 429 until the
    window ends, even with the right password: that is what stops a password being guessed.
    """

    scope = "login_username"

    def get_ident_key(self, request, view) -> str | None:
        username = request.data.get("username") if hasattr(request.data, "get") else None
        if not isinstance(username, str) or not username.strip():
            return None
        # Usernames are unique ignoring case, so `Alice` and `alice` share one counter.
        return username.strip().casefold()[:150]

    def _used(self, key: str) -> int:
        # Only failures are counted (record_failure), and this attempt may be the next one.
        return self._count(key) + 1

    def record_failure(self, request, view) -> None:
        """Count one failed login for the username in the request."""
        ident = self.get_ident_key(request, view)
        if ident is None:
            return
        try:
            self._hit(self._key(ident, time.time()))
        except Exception as exc:
            _log_outage(exc)


class PasswordChangeFailureThrottle(LoginFailureThrottle):
    """Wrong old passwords on password change count as failed logins of the caller.

    A stolen access token must not become a way to guess the password around the login limit.
    """

    def get_ident_key(self, request, view) -> str | None:
        user = request.user
        if user is None or not user.is_authenticated:
            return None
        return user.get_username().casefold()[:150]
