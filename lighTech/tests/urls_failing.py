"""Test-only routes whose views fail on purpose, to check what clients see of a crash."""

from django.urls import include, path
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView


class ExplodingApiView(APIView):
    """An API view with a bug."""

    authentication_classes = ()
    permission_classes = (AllowAny,)

    def get(self, request):
        raise RuntimeError("secret-detail-that-must-not-leak")


def exploding_plain_view(request):
    raise RuntimeError("secret-detail-that-must-not-leak")


urlpatterns = [
    path("boom/api/", ExplodingApiView.as_view()),
    path("boom/plain/", exploding_plain_view),
    path("", include("lighTech.urls")),
]

handler500 = "lighTech.exception_handler.json_server_error"
