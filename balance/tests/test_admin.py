"""Django admin: staff see users, balances and operations; nobody edits or deletes money rows."""

from decimal import Decimal

from django.test import TestCase

from authapp.models import User
from balance.models import Balance, Operation
from lighTech.testing import make_user


class AdminTests(TestCase):
    def setUp(self):
        self.alice = make_user("alice", balance="10.00")
        self.admin = User.objects.create_superuser("root", "root@example.com", "x-Strong-pass-9")
        self.client.force_login(self.admin)
        self.operation = Operation.objects.get(owner=self.alice)

    def test_changelists_render(self):
        for url in (
            "/admin/authapp/user/",
            "/admin/balance/balance/",
            "/admin/balance/operation/",
            f"/admin/balance/operation/{self.operation.pk}/change/",
            f"/admin/balance/balance/{self.alice.pk}/change/",
        ):
            with self.subTest(url=url):
                response = self.client.get(url)
                self.assertEqual(response.status_code, 200)
                self.assertContains(response, "alice")

    def test_operations_and_balances_cannot_be_added_changed_or_deleted(self):
        pk = self.operation.pk
        for url in (
            "/admin/balance/operation/add/",
            f"/admin/balance/operation/{pk}/delete/",
            "/admin/balance/balance/add/",
            f"/admin/balance/balance/{self.alice.pk}/delete/",
        ):
            with self.subTest(url=url):
                self.assertEqual(self.client.get(url).status_code, 403)
        response = self.client.post(
            f"/admin/balance/operation/{pk}/change/", {"amount": "999.00", "type": "deposit"}
        )
        self.assertEqual(response.status_code, 403)
        response = self.client.post(
            "/admin/balance/operation/", {"action": "delete_selected", "_selected_action": [pk]}
        )
        self.assertEqual(Operation.objects.get(pk=pk).amount, Decimal("10.00"))
        self.assertEqual(Balance.objects.get(pk=self.alice.pk).amount, Decimal("10.00"))

    def test_deleting_a_user_with_money_history_is_refused(self):
        response = self.client.post(f"/admin/authapp/user/{self.alice.pk}/delete/", {"post": "yes"})
        self.assertIn(response.status_code, (200, 403))
        self.assertTrue(User.objects.filter(pk=self.alice.pk).exists())
        self.assertTrue(Operation.objects.filter(owner=self.alice).exists())
