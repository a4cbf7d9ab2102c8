"""Content negotiation: the shortcut answers exactly what DRF's full negotiation answers."""

from django.test import TestCase
from drf_spectacular.views import SpectacularAPIView
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from lighTech.negotiation import JSONFirstContentNegotiation
from lighTech.testing import client_for, make_user

ACCEPTS = [
    None,
    "",
    "*/*",
    "application/json",
    "application/json; indent=4",
    "application/*",
    "text/html",
    "application/xml",
    "application/vnd.oai.openapi+json",
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
]


class NegotiationTests(TestCase):
    def test_same_choice_as_drf_for_every_accept_and_renderer_list(self):
        factory = APIRequestFactory()
        renderer_lists = [
            SpectacularAPIView.renderer_classes,
            list(reversed(SpectacularAPIView.renderer_classes)),
            [JSONRenderer],
        ]
        for renderers in renderer_lists:
            instances = [cls() for cls in renderers]
            for accept in ACCEPTS:
                formats = {renderer.format for renderer in instances}
                for query in ("", "?format=json", "?format=yaml", "?format=xml", "?page_size=3"):
                    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
                    with self.subTest(renderers=renderers, accept=accept, query=query):
                        request = factory.get("/x/" + query, **headers)
                        drf_request = Request(request)
                        # A format no renderer has is ignored (DRF: 404): DRF's answer
                        # without it.
                        named = query.partition("format=")[2]
                        plain = named and named not in formats
                        drf_sees = Request(factory.get("/x/", **headers)) if plain else drf_request
                        expected = _outcome(DefaultContentNegotiation(), drf_sees, instances)
                        actual = _outcome(JSONFirstContentNegotiation(), drf_request, instances)
                        self.assertEqual(actual, expected)

    def test_api_answers_json_or_406(self):
        client = client_for(make_user("alice"))
        for accept, status in (("*/*", 200), ("application/json", 200), ("text/html", 406)):
            with self.subTest(accept=accept):
                response = client.get("/api/balance/v1/balance/", HTTP_ACCEPT=accept)
                self.assertEqual(response.status_code, status, response.content)
                self.assertEqual(response["Content-Type"], "application/json")

    def test_a_format_no_renderer_has_is_ignored_like_any_unknown_parameter(self):
        client = client_for(make_user("alice"))
        for query in ("?format=xml", "?format=api", "?format=", "?format=json"):
            with self.subTest(query=query):
                for path in ("/api/balance/v1/operations/", "/api/balance/v1/balance/"):
                    response = client.get(path + query)
                    self.assertEqual(response.status_code, 200, response.content)
                    self.assertEqual(response["Content-Type"], "application/json")
        response = client.get("/api/schema/?format=json")
        self.assertEqual(response["Content-Type"], "application/vnd.oai.openapi+json")


def _outcome(negotiation, request, renderers):
    try:
        renderer, media_type = negotiation.select_renderer(request, renderers)
    except Exception as exc:
        return type(exc).__name__
    return type(renderer).__name__, media_type
