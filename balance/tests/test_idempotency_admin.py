"""Admin of Idempotency-Keys: staff can look a key up, nobody can add, change or delete one."""

from django.test import TestCase
from rest_framework.test import APIClient

from authapp.models import User
from balance.models import IdempotencyKey
from balance.services import balance_open


class IdempotencyKeyAdminTests(TestCase):
    def setUp(self):
        self.alice = User.objects.create(username="alice")
        balance_open(user=self.alice)
        client = APIClient()
        client.force_authenticate(self.alice)
        client.post(
            "/api/balance/v1/deposit/",
            {"amount": "1.00"},
            format="json",
            headers={"Idempotency-Key": "order-4711"},
        )
        self.key = IdempotencyKey.objects.get()
        admin = User.objects.create_superuser("root", "root@example.com", "x-Strong-pass-9")
        self.client.force_login(admin)

    def test_keys_are_listed_and_found_by_key(self):
        for url in (
            "/admin/balance/idempotencykey/",
            "/admin/balance/idempotencykey/?q=order-4711",
            f"/admin/balance/idempotencykey/{self.key.pk}/change/",
        ):
            with self.subTest(url=url):
                response = self.client.get(url)
                self.assertEqual(response.status_code, 200)
                self.assertContains(response, "order-4711")

    def test_keys_cannot_be_added_changed_or_deleted(self):
        pk = self.key.pk
        self.assertEqual(self.client.get("/admin/balance/idempotencykey/add/").status_code, 403)
        self.client.post(
            f"/admin/balance/idempotencykey/{pk}/change/", {"key": "x", "response_status": 500}
        )
        self.client.post(f"/admin/balance/idempotencykey/{pk}/delete/", {"post": "yes"})
        self.key.refresh_from_db()
        self.assertEqual((self.key.key, self.key.response_status), ("order-4711", 201))
