"""The admin's browser middleware (sessions, CSRF, login, messages), skipped on the JSON API.

Requests under /api/ authenticate with a Bearer token and never read a session, a CSRF cookie,
Django's `request.user` or flash messages; running those four middleware anyway cost about 5%
of a request's CPU (docs/performance.md). Every other path, the admin above all, gets them as
usual. Django's admin checks accept these subclasses in place of the originals.
"""

from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.middleware.csrf import CsrfViewMiddleware

API_PREFIX = "/api/"


class _BrowserOnly:
    """Runs the wrapped middleware except for requests under API_PREFIX."""

    def __call__(self, request):
        if request.path_info.startswith(API_PREFIX):
            return self.get_response(request)
        return super().__call__(request)


class BrowserSessionMiddleware(_BrowserOnly, SessionMiddleware):
    """Django's SessionMiddleware, for non-API paths."""


class BrowserCsrfViewMiddleware(_BrowserOnly, CsrfViewMiddleware):
    """Django's CsrfViewMiddleware, for non-API paths (API views are CSRF-exempt anyway)."""

    def process_view(self, request, callback, callback_args, callback_kwargs):
        if request.path_info.startswith(API_PREFIX):
            return None
        return super().process_view(request, callback, callback_args, callback_kwargs)


class BrowserAuthenticationMiddleware(_BrowserOnly, AuthenticationMiddleware):
    """Django's AuthenticationMiddleware, for non-API paths (DRF authenticates the API)."""


class BrowserMessageMiddleware(_BrowserOnly, MessageMiddleware):
    """Django's MessageMiddleware, for non-API paths."""
