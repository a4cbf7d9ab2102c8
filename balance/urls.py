"""Routes of /api/balance/v1/."""

from django.urls import path

from balance.views.balance import BalanceView
from balance.views.money import DepositView, TransferView, WithdrawView
from balance.views.operations import OperationListView

app_name = "balance"

urlpatterns = [
    path("balance/", BalanceView.as_view(), name="balance"),
    path("deposit/", DepositView.as_view(), name="deposit"),
    path("withdraw/", WithdrawView.as_view(), name="withdraw"),
    path("transfer/", TransferView.as_view(), name="transfer"),
    path("operations/", OperationListView.as_view(), name="operations"),
]
