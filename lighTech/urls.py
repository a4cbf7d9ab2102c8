"""Top-level routes: the two APIs, health, schema and docs, admin."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from lighTech.docs import RedocView, SwaggerView
from lighTech.health import HealthView

urlpatterns = [
    path("api/auth/v1/", include("authapp.urls")),
    path("api/balance/v1/", include("balance.urls")),
    path("api/health/", HealthView.as_view(), name="health"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "api/docs/",
        SwaggerView.as_view(url_name="schema"),
        name="swagger-ui",
    ),
    path(
        "api/redoc/",
        RedocView.as_view(url_name="schema", template_name="docs/redoc.html"),
        name="redoc",
    ),
    path(settings.ADMIN_PATH, admin.site.urls),
]

handler400 = "lighTech.exception_handler.json_bad_request"
handler403 = "lighTech.exception_handler.json_permission_denied"
handler404 = "lighTech.exception_handler.json_not_found"
handler500 = "lighTech.exception_handler.json_server_error"
