"""GET /api/balance/v1/operations/."""

from drf_spectacular.utils import extend_schema
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from rest_framework.response import Response
from rest_framework.views import APIView

from balance.pagination import keyset_page, page_link
from balance.selectors import operation_list
from balance.serializers import (
    OperationFilterSerializer,
    OperationOutputSerializer,
    OperationPageSerializer,
)


# The query parameters are validated by a serializer the schema generator does not see.
@extend_validation_errors(["invalid_choice"], field_name="type")
@extend_validation_errors(["invalid"], field_name="created_after")
@extend_validation_errors(["invalid"], field_name="created_before")
@extend_validation_errors(["invalid", "min_value", "max_string_length"], field_name="page_size")
@extend_validation_errors(["invalid", "blank"], field_name="cursor")
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
        # A plain dict, not the QueryDict: DRF reads `?type=` from a QueryDict as "absent",
        # and an empty filter is an invalid value (400), not a silent "no filter".
        params = OperationFilterSerializer(data=request.query_params.dict())
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
