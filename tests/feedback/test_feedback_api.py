"""The feedback REST API over real HTTP (SQLite and PostgreSQL)."""

from __future__ import annotations

from tests.web.live import live  # noqa: F401


def test_feedback_api__filters_and_detail(live):
    client = live.client("analyst")
    assert client.get("/api/feedback").json()["total"] == 4
    neg = client.get("/api/feedback", params={"sentiment": "negative"}).json()["items"]
    assert [f["text"] for f in neg] == ["The teapot arrived broken"]
    delivery = client.get("/api/feedback", params={"topic": "delivery", "sort": "rating"}).json()["items"]
    assert [f["rating"] for f in delivery] == [1.0, 5.0]
    assert client.get("/api/feedback", params={"q": "VALUE"}).json()["items"][0]["topic"] == "price"
    detail = client.get(f"/api/feedback/{neg[0]['id']}").json()
    assert detail["customer_id"] == live.cid("C001") and "analysis" in detail


def test_feedback_api__agent_sees_served_customers_only(live):
    agent = live.client("agent")
    items = agent.get("/api/feedback").json()["items"]
    assert {f["customer_id"] for f in items} == {live.cid("C001")}
    other = live.client("manager").get("/api/feedback", params={"customer_id": live.cid("C005")}).json()["items"][0]
    assert agent.get(f"/api/feedback/{other['id']}").status_code == 403
