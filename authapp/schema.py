"""OpenAPI: document our Bearer authentication exactly as drf-spectacular documents simplejwt's."""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme


class JWTScheme(SimpleJWTScheme):
    """The `jwtAuth` Bearer scheme for authapp.authentication.JWTAuthentication."""

    target_class = "authapp.authentication.JWTAuthentication"
