"""The products REST API over real HTTP (SQLite and PostgreSQL)."""

from __future__ import annotations

from tests.web.live import live  # noqa: F401


def test_products_api__list_search_detail(live):
    client = live.client("agent")  # every role reads the catalogue
    everything = client.get("/api/products", params={"sort": "-unit_price"}).json()
    assert everything["total"] == 5
    assert [p["name"] for p in everything["items"]][:2] == ["Teapot", "Candle"]
    assert [p["name"] for p in client.get("/api/products", params={"q": "TEA"}).json()["items"]] == \
        ["Green tea", "Teapot"]
    assert client.get("/api/products", params={"category": "Coffee"}).json()["items"][0]["name"] == "Espresso beans"
    pid = live.ids["products"]["P3"]
    assert client.get(f"/api/products/{pid}").json()["unit_price"] == 6.5
    assert client.get("/api/products/424242").json()["error"]["code"] == "not_found"
    bad = client.get("/api/products", params={"sort": "price"})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "sort"
