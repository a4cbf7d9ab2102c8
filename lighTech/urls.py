"""Top-level routes: the two APIs, health, schema and docs, admin."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)

from lighTech.health import HealthView

urlpatterns = [
    path("api/auth/v1/", include("authapp.urls")),
    path("api/balance/v1/", include("balance.urls")),
    path("api/health/", HealthView.as_view(), name="health"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "api/docs/",
        SpectacularSwaggerView.as_view(url_name="schema"),
        name="swagger-ui",
    ),
    path(
        "api/redoc/",
        SpectacularRedocView.as_view(url_name="schema", template_name="docs/redoc.html"),
        name="redoc",
    ),
    path("admin/", admin.site.urls),
]

handler400 = "lighTech.exception_handler.json_bad_request"
handler403 = "lighTech.exception_handler.json_permission_denied"
handler404 = "lighTech.exception_handler.json_not_found"
handler500 = "lighTech.exception_handler.json_server_error"
