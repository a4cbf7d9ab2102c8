"""The WSGI application: the API's own paths run a shorter middleware chain.

The API authenticates every request with a bearer token, keeps no session, shows no flash
messages and serves no static file, so Django's session, auth and messages middleware and
WhiteNoise only cost it CPU: building the message storage alone (a cookie signer per request)
was about 3% of a transfer's, the four together about 6% (docs/performance.md). The admin, the
docs and the static files keep the whole chain.
settings.MIDDLEWARE stays the full list, so `check --deploy` and the admin's checks see it,
and every security middleware (SecurityMiddleware, CORS, CommonMiddleware, CSRF, X-Frame-Options)
runs on both chains.
"""

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler

# Middleware for browser pages (admin, docs) and their static files that no API endpoint needs.
SITE_ONLY_MIDDLEWARE = frozenset(
    {
        # Static files live under STATIC_URL (/static/), never under an API prefix.
        "whitenoise.middleware.WhiteNoiseMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
    }
)

# The API's endpoints: DRF views with bearer tokens or none. The schema and the docs pages
# (/api/schema/, /api/docs/, /api/redoc/) render templates and keep the whole chain.
API_PATH_PREFIXES = ("/api/auth/", "/api/balance/", "/api/health/")


class APIWSGIHandler(WSGIHandler):
    """Django's WSGI handler with settings.MIDDLEWARE less SITE_ONLY_MIDDLEWARE."""

    def load_middleware(self, is_async=False):
        # BaseHandler.load_middleware reads settings.MIDDLEWARE and nothing else; it runs once,
        # when the application is built, before any request is served.
        full = settings.MIDDLEWARE
        self.middleware = [path for path in full if path not in SITE_ONLY_MIDDLEWARE]
        settings.MIDDLEWARE = self.middleware
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


class PathRoutedWSGIApplication:
    """Send API paths to the API's handler and everything else to Django's usual one."""

    def __init__(self) -> None:
        self.site = WSGIHandler()
        self.api = APIWSGIHandler()

    def handler_for(self, path_info: str) -> WSGIHandler:
        return self.api if path_info.startswith(API_PATH_PREFIXES) else self.site

    def __call__(self, environ, start_response):
        return self.handler_for(environ.get("PATH_INFO", ""))(environ, start_response)
