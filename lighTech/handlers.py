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

import io

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.urls import get_resolver

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


# At most this many resolved paths are kept per handler; the API has about fifteen routes
# without a path parameter, so the bound only matters if the URLconf changes at run time.
RESOLVED_PATHS_KEPT = 256


class APIWSGIHandler(WSGIHandler):
    """Django's WSGI handler with settings.MIDDLEWARE less SITE_ONLY_MIDDLEWARE, which
    remembers how each API path without a path parameter resolved."""

    def __init__(self) -> None:
        # (resolver, path) -> ResolverMatch; filled before the first request is handled.
        self._resolved: dict = {}
        super().__init__()

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

    def resolve_request(self, request):
        """Django's resolve_request, with a path's match kept once it resolved to a view.

        Matching a path against the URLconf (each include's patterns in turn, a
        ResolverMatch built on the way out) was ~4% of a transfer's CPU (docs/performance.md)
        for an answer that never changes while the URLconf object is the same. Only matches
        without captured arguments are kept: their number is bounded by the URLconf's routes,
        not by the paths clients send, and a path that does not resolve (404) is never kept.
        The key includes the resolver, so a new URLconf (tests' ROOT_URLCONF overrides,
        clear_url_caches()) resolves afresh. A match is shared by the requests to its path;
        Django and DRF only read it (the view gets copies of its args and kwargs).
        """
        if hasattr(request, "urlconf"):
            # A middleware chose another URLconf for this request: Django's own path.
            return super().resolve_request(request)
        resolver = get_resolver()
        key = (resolver, request.path_info)
        match = self._resolved.get(key)
        if match is None:
            match = resolver.resolve(request.path_info)
            if not (match.args or match.kwargs) and len(self._resolved) < RESOLVED_PATHS_KEPT:
                self._resolved[key] = match
        request.resolver_match = match
        return match


def read_unsized_body(environ) -> None:
    """Give a body sent without Content-Length (Transfer-Encoding: chunked) a length.

    Django reads a request body only up to CONTENT_LENGTH, so it took a chunked body for an
    empty one: a chunked deposit answered 400 "amount: required" and a chunked 3 MB body passed
    the size limit. gunicorn has already undone the chunking (wsgi.input yields the body's
    bytes); the body is read here, at most one byte past DATA_UPLOAD_MAX_MEMORY_SIZE, and
    handed on with its length, so it is parsed like any other, and one over the limit still
    answers 413 (Django refuses a CONTENT_LENGTH over the limit before reading the body).
    The worker closes such a connection after the response, so the rest of an oversized body
    is never read (lighTech/gunicorn_worker.py).
    """
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    stream = environ["wsgi.input"]
    body = stream.read() if limit is None else stream.read(limit + 1)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))


class PathRoutedWSGIApplication:
    """Send API paths to the API's handler and everything else to Django's usual one."""

    def __init__(self) -> None:
        self.site = WSGIHandler()
        self.api = APIWSGIHandler()

    def handler_for(self, path_info: str) -> WSGIHandler:
        return self.api if path_info.startswith(API_PATH_PREFIXES) else self.site

    def __call__(self, environ, start_response):
        if "CONTENT_LENGTH" not in environ and "HTTP_TRANSFER_ENCODING" in environ:
            read_unsized_body(environ)
        return self.handler_for(environ.get("PATH_INFO", ""))(environ, start_response)
