"""The orders REST API over real HTTP (SQLite and PostgreSQL) against the known store of tests/web/live.py."""

from __future__ import annotations

from tests.web.live import NAMES, live  # noqa: F401

# Customer n has n % 4 + 1 orders of 10, 20, ... (see tests/web/live.py).
N_ORDERS = sum(n % 4 + 1 for n in range(1, len(NAMES) + 1))


def test_orders_api__list_filter_and_detail(live):
    client = live.client("analyst")
    page = client.get("/api/orders", params={"limit": 3}).json()
    assert page["total"] == N_ORDERS
    times = [o["ordered_at"] for o in page["items"]]
    assert times == sorted(times, reverse=True)
    c003 = live.cid("C003")
    mine = client.get("/api/orders", params={"customer_id": c003, "sort": "total_amount"}).json()
    assert [o["total_amount"] for o in mine["items"]] == [10.0, 20.0, 30.0, 40.0]
    since = client.get("/api/orders", params={"customer_id": c003, "since": "2026-05-01T00:00:00Z"}).json()
    assert since["total"] == 2
    detail = client.get(f"/api/orders/{mine['items'][1]['id']}").json()
    assert detail["lines"] == [{"line_no": 1, "product_id": live.ids["products"]["P2"], "product_name": "Teapot",
                                "category": "Kitchen", "quantity": 1.0, "unit_price": 20.0, "amount": 20.0}]
    assert client.get("/api/orders/999999").status_code == 404
    bad = client.get("/api/orders", params={"since": "yesterday"})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "since"


def test_orders_api__agent_scope_and_csv(live):
    agent = live.client("agent")
    listed = agent.get("/api/orders", params={"limit": 100}).json()
    served = {live.cid("C001"), live.cid("C002")}
    assert listed["total"] == (1 % 4 + 1) + (2 % 4 + 1)
    assert {o["customer_id"] for o in listed["items"]} == served
    other = live.client("manager").get("/api/orders", params={"customer_id": live.cid("C003")}).json()["items"][0]
    assert agent.get(f"/api/orders/{other['id']}").status_code == 403
    csv_text = live.client("manager").get("/api/orders", params={"format": "csv"}).text
    assert len(csv_text.strip().splitlines()) == N_ORDERS + 1
