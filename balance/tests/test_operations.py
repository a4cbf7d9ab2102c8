"""History: order, cursor pagination to the end, filters, and isolation between users."""

from datetime import timedelta
from decimal import Decimal

from django.test import TestCase
from django.utils import timezone

from balance import services
from balance.models import Operation
from lighTech.testing import client_for, make_user

URL = "/api/balance/v1/operations/"


def follow_all(client, url):
    """Every item reached by following `next` from `url`, and the pages seen."""
    items, pages = [], 0
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        items.extend(body["results"])
        url, pages = body["next"], pages + 1
    return items, pages


class OperationHistoryTests(TestCase):
    def setUp(self):
        self.alice = make_user("alice", balance="1000.00")
        self.bob = make_user("bob", balance="50.00")
        self.client = client_for(self.alice)

    def test_history_lists_every_kind_newest_first(self):
        services.withdraw(user=self.alice, amount=Decimal("10"))
        services.transfer(sender=self.alice, recipient_username="bob", amount=Decimal("5"))
        services.transfer(sender=self.bob, recipient_username="alice", amount=Decimal("2"))
        body = self.client.get(URL).json()
        self.assertEqual(set(body), {"next", "previous", "results"})
        self.assertIsNone(body["next"])
        self.assertIsNone(body["previous"])
        types = [op["type"] for op in body["results"]]
        self.assertEqual(types, ["transfer_in", "transfer_out", "withdraw", "deposit"])
        newest = body["results"][0]
        self.assertEqual(
            (newest["counterparty"], newest["amount"], newest["balance_after"]),
            ("bob", "2.00", "987.00"),
        )
        stamps = [(op["created_at"], int(op["id"])) for op in body["results"]]
        self.assertEqual(stamps, sorted(stamps, reverse=True))

    def test_following_next_yields_every_operation_exactly_once(self):
        for i in range(45):
            services.deposit(user=self.alice, amount=Decimal("1"), description=str(i))
        # Same timestamp for many rows: ties must still page stably.
        Operation.objects.filter(
            owner=self.alice, description__in=[str(i) for i in range(10, 30)]
        ).update(created_at=timezone.now())
        expected = list(
            Operation.objects.filter(owner=self.alice)
            .order_by("-created_at", "-id")
            .values_list("id", flat=True)
        )
        items, pages = follow_all(self.client, f"{URL}?page_size=7")
        self.assertEqual([int(op["id"]) for op in items], expected)
        self.assertEqual(pages, 7)

    def test_previous_walks_back_to_the_first_page(self):
        for _ in range(25):
            services.deposit(user=self.alice, amount=Decimal("1"))
        first = self.client.get(f"{URL}?page_size=10").json()
        second = self.client.get(first["next"]).json()
        back = self.client.get(second["previous"]).json()
        self.assertEqual(back["results"], first["results"])
        self.assertIsNone(back["previous"])

    def test_default_page_size_is_20_and_cap_is_100(self):
        for _ in range(130):
            services.deposit(user=self.alice, amount=Decimal("1"))
        self.assertEqual(len(self.client.get(URL).json()["results"]), 20)
        self.assertEqual(len(self.client.get(f"{URL}?page_size=500").json()["results"]), 100)
        self.assertEqual(len(self.client.get(f"{URL}?page_size=3").json()["results"]), 3)

    def test_filter_by_type(self):
        services.withdraw(user=self.alice, amount=Decimal("1"))
        services.transfer(sender=self.alice, recipient_username="bob", amount=Decimal("1"))
        for kind in ("deposit", "withdraw", "transfer_out"):
            with self.subTest(kind=kind):
                results = self.client.get(f"{URL}?type={kind}").json()["results"]
                self.assertEqual([op["type"] for op in results], [kind])
        self.assertEqual(self.client.get(f"{URL}?type=transfer_in").json()["results"], [])

    def test_filter_by_creation_time(self):
        old = services.deposit(user=self.alice, amount=Decimal("1"))
        Operation.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3))
        cutoff = (timezone.now() - timedelta(days=1)).date().isoformat()
        after = self.client.get(f"{URL}?created_after={cutoff}").json()["results"]
        before = self.client.get(f"{URL}?created_before={cutoff}").json()["results"]
        self.assertNotIn(str(old.pk), [op["id"] for op in after])
        self.assertEqual([op["id"] for op in before], [str(old.pk)])
        moment = (timezone.now() - timedelta(days=2)).isoformat()
        response = self.client.get(URL, {"created_after": moment})
        self.assertEqual(len(response.json()["results"]), 1)

    def test_invalid_parameters_are_a_400(self):
        for query in (
            "type=refund",
            "created_after=yesterday",
            "created_before=2026-13-01",
            "page_size=0",
            "page_size=-1",
            "page_size=abc",
            "cursor=garbage",
            "cursor=W10",
            "created_after=2026-02-30T10:00:00",
            # Only ASCII digits and printable text: Python's int() and Django's date parser
            # also take other scripts' digits and a trailing NUL (a hostile-client pass).
            "created_after=2026-12-04T10:00:00Z%00",
            "created_before=%EF%BC%92026-12-04",
            "page_size=%EF%BC%95",
            "page_size=%D9%A3",
            "page_size=5.0",
            "page_size=%2B5",
            "page_size=1e1",
        ):
            with self.subTest(query=query):
                response = self.client.get(f"{URL}?{query}")
                self.assertEqual(response.status_code, 400, response.content)
                self.assertEqual(response.json()["type"], "validation_error")

    def test_other_users_operations_never_appear(self):
        services.deposit(user=self.bob, amount=Decimal("7"))
        mine = set(Operation.objects.filter(owner=self.alice).values_list("id", flat=True))
        for query in (
            "",
            f"?user={self.bob.pk}",
            f"?user_id={self.bob.pk}",
            f"?owner={self.bob.pk}",
        ):
            with self.subTest(query=query):
                items, _ = follow_all(self.client, URL + query)
                self.assertEqual({int(op["id"]) for op in items}, mine)

    def test_a_cursor_from_another_user_shows_only_the_callers_rows(self):
        for _ in range(3):
            services.deposit(user=self.bob, amount=Decimal("1"))
        bob_page = client_for(self.bob).get(f"{URL}?page_size=1").json()
        items, _ = follow_all(self.client, bob_page["next"])
        owners = set(
            Operation.objects.filter(id__in=[int(op["id"]) for op in items]).values_list(
                "owner_id", flat=True
            )
        )
        self.assertLessEqual(owners, {self.alice.pk})
