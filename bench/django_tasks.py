"""Benchmark steps that need the project's own code: tokens, cursors and query plans.

Run by bench/run.py as `python bench/django_tasks.py <users-file> <history-user>...` with the
benchmark database in POSTGRES_DB; prints one JSON object on stdout.
"""

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lighTech.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from rest_framework_simplejwt.tokens import AccessToken  # noqa: E402

from balance.models import Operation  # noqa: E402
from balance.pagination import Cursor, keyset_page  # noqa: E402
from balance.selectors import operation_list  # noqa: E402

DEEP = 50_000


def write_tokens(path: str, prefix: str) -> int:
    """One "<access token> <username>" line per load user."""
    users = get_user_model().objects.filter(username__startswith=prefix).order_by("pk")
    lines = [f"{AccessToken.for_user(user)} {user.username}" for user in users]
    Path(path).write_text("\n".join(lines) + "\n")
    return len(lines)


def plan_of(user, cursor: Cursor | None) -> dict:
    """EXPLAIN ANALYZE of the exact SQL the history view runs for this page."""
    with CaptureQueriesContext(connection) as captured:
        rows, _, _ = keyset_page(operation_list(user=user), cursor=cursor, page_size=20)
    sql = captured.captured_queries[-1]["sql"]
    with connection.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql)
        plan = cur.fetchone()[0]
        if isinstance(plan, str):
            plan = json.loads(plan)

    nodes = []

    def walk(node):
        nodes.append(node["Node Type"])
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return {
        "sql": sql,
        "rows": len(rows),
        "nodes": nodes,
        "sorts": "Sort" in nodes or "Incremental Sort" in nodes,
        "execution_ms": plan[0]["Execution Time"],
        "shared_hit_blocks": plan[0]["Plan"].get("Shared Hit Blocks"),
        "shared_read_blocks": plan[0]["Plan"].get("Shared Read Blocks"),
    }


def history_user(username: str) -> dict:
    """The user's token, the cursor of the page DEEP operations down, and both pages' plans."""
    user = get_user_model().objects.get(username=username)
    operations = Operation.objects.filter(owner=user).order_by("-created_at", "-id")
    count = operations.count()
    result = {"username": username, "operations": count, "token": str(AccessToken.for_user(user))}
    result["first_page_plan"] = plan_of(user, None)
    if count > DEEP:
        created_at, pk = operations.values_list("created_at", "id")[DEEP - 1]
        cursor = Cursor(created_at, pk, reverse=False)
        result["deep_cursor"] = cursor.encode()
        result["deep_page_plan"] = plan_of(user, cursor)
    return result


def main() -> None:
    users_file, prefix, *history = sys.argv[1:]
    out = {"load_users": write_tokens(users_file, prefix), "deep": DEEP}
    out["history"] = [history_user(name) for name in history]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
