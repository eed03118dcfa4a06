"""The tickets and conversations REST API over real HTTP (SQLite and PostgreSQL)."""

from __future__ import annotations

from tests.web.live import live  # noqa: F401


def test_tickets_api__open_update_close(live):
    agent = live.client("agent")
    c003 = live.cid("C003")
    r = agent.post("/api/tickets", json={"subject": "Refund please", "customer_id": c003, "priority": "urgent",
                                         "description": "Order arrived late"})
    assert r.status_code == 201
    t = r.json()
    assert t["status"] == "open" and t["source"] == "aicrm" and t["closed_at"] is None
    # Opening a ticket makes the agent serve this customer.
    assert agent.get(f"/api/customers/{c003}").status_code == 200
    closed = agent.patch(f"/api/tickets/{t['id']}", json={"status": "resolved"}).json()
    assert closed["status"] == "resolved" and closed["closed_at"] is not None
    reopened = agent.patch(f"/api/tickets/{t['id']}", json={"status": "open"}).json()
    assert reopened["closed_at"] is None
    bad = agent.patch(f"/api/tickets/{t['id']}", json={"status": "maybe"})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "status"
    unknown = agent.post("/api/tickets", json={"subject": "x", "customer_id": 987654})
    assert unknown.status_code == 422 and unknown.json()["error"]["details"][0]["field"] == "customer_id"
    urgent = agent.get("/api/tickets", params={"priority": "urgent"}).json()["items"]
    assert [x["subject"] for x in urgent] == ["Refund please"]
    by_priority = agent.get("/api/tickets", params={"sort": "-priority", "status": "open"}).json()["items"]
    assert by_priority[0]["priority"] == "urgent"
    assert agent.get("/api/tickets", params={"q": "teapot"}).json()["items"][0]["external_id"] == "T1"


def test_tickets_api__conversation_with_messages(live):
    client = live.client("agent")
    convs = client.get("/api/conversations").json()
    assert convs["total"] == 1
    detail = client.get(f"/api/conversations/{convs['items'][0]['id']}").json()
    assert [m["sender"] for m in detail["messages"]] == ["customer", "assistant"]
    assert detail["messages"][0]["intent"] == "order_status"
    assert client.get("/api/conversations/99999").status_code == 404
