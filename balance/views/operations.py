"""GET /api/balance/v1/operations/."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from balance.pagination import keyset_page, page_link
from balance.selectors import operation_list
from balance.serializers import (
    OperationFilterSerializer,
    OperationOutputSerializer,
    OperationPageSerializer,
)


class OperationListView(APIView):
    """The caller's operations, newest first, one cursor page at a time."""

    @extend_schema(
        parameters=[OperationFilterSerializer],
        responses={200: OperationPageSerializer},
        summary="Operations history",
        description="Newest first (created_at, then id). Follow `next` to the end to read "
        "every operation exactly once. Only the caller's operations appear; unknown query "
        "parameters are ignored. A date in `created_after`/`created_before` means its "
        "midnight UTC.",
    )
    def get(self, request):
        params = OperationFilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        filters = dict(params.validated_data)
        cursor, page_size = filters.pop("cursor", None), filters.pop("page_size")
        rows, next_cursor, previous_cursor = keyset_page(
            operation_list(user=request.user, **filters),
            cursor=cursor,
            page_size=page_size,
        )
        return Response(
            {
                "next": page_link(request, next_cursor),
                "previous": page_link(request, previous_cursor),
                "results": OperationOutputSerializer(rows, many=True).data,
            }
        )
