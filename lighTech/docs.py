"""The Swagger UI and ReDoc pages, locked to this server by a Content-Security-Policy."""

from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView

# The docs work offline: every asset is served here (drf-spectacular-sidecar). The policy
# makes the browser refuse what the bundled pages still reference elsewhere (the ReDoc
# script fetches the Redocly logo from its CDN), so a visit leaks nothing to third parties.
# Inline scripts and styles are the pages' own bootstrap code; ReDoc runs a blob worker.
DOCS_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "worker-src 'self' blob:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
    ]
)


class ContentSecurityPolicyMixin:
    """Sends DOCS_CSP with the page."""

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Content-Security-Policy"] = DOCS_CSP
        return response


class SwaggerView(ContentSecurityPolicyMixin, SpectacularSwaggerView):
    """Swagger UI; its Authorize button takes a Bearer access token."""


class RedocView(ContentSecurityPolicyMixin, SpectacularRedocView):
    """ReDoc."""
