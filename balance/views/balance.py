"""GET /api/balance/v1/balance/."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from balance.selectors import balance_get
from balance.serializers import BalanceOutputSerializer


class BalanceView(APIView):
    """The caller's current balance."""

    @extend_schema(responses={200: BalanceOutputSerializer}, summary="Get my balance")
    def get(self, request):
        return Response(BalanceOutputSerializer({"balance": balance_get(user=request.user)}).data)
