"""Content negotiation with a shortcut for what every API client sends."""

from rest_framework.negotiation import DefaultContentNegotiation


class JSONFirstContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, answered at once when the client plainly accepts the first renderer.

    With no Accept header, `*/*` or exactly the first renderer's media type, and no format
    override, DRF's full parse always picks the first renderer with its own media type; doing
    that directly saved about 5% of a request's CPU (docs/performance.md). Anything else goes
    through DRF's parse unchanged, so an unacceptable type still answers 406.

    A `?format=` that names none of the view's renderers is ignored like any other unknown
    query parameter, where DRF answers 404 (API.md: other parameters are ignored); one that
    names a renderer still selects it (`/api/schema/?format=json`).
    """

    def filter_renderers(self, renderers, format):
        return [renderer for renderer in renderers if renderer.format == format] or renderers

    def select_renderer(self, request, renderers, format_suffix=None):
        first = renderers[0] if renderers else None
        # No header means */* to DRF; an empty one matches nothing (406).
        accept = request.META.get("HTTP_ACCEPT", "*/*").strip()
        override = self.settings.URL_FORMAT_OVERRIDE
        if (
            first is not None
            and accept in ("*/*", first.media_type)
            and not format_suffix
            and not (override and override in request.META.get("QUERY_STRING", ""))
        ):
            return first, first.media_type
        return super().select_renderer(request, renderers, format_suffix)
