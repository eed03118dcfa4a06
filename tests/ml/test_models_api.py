"""``/api/models`` and ``/api/segments`` over real HTTP (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.web.live import CHURN_V2, CLV, SEGMENT, live  # noqa: F401


def test_models_api__runs_newest_first(live):
    client = live.client("analyst")
    runs = client.get("/api/models").json()
    assert runs["total"] == 3
    churn = client.get("/api/models", params={"model_name": "churn"}).json()["items"]
    assert [r["version"] for r in churn] == [2, 1] and churn[0]["metrics"]["auc"] == 0.78
    assert client.get(f"/api/models/{churn[1]['id']}").json()["metrics"]["auc"] == 0.71
    assert client.get("/api/models/4242").status_code == 404


def test_models_api__segments_sizes_and_means(live):
    body = live.client("manager").get("/api/segments").json()
    sizes = Counter(SEGMENT.values())
    assert [(s["name"], s["size"]) for s in body["items"]][0] == ("At risk", sizes["At risk"])
    assert {s["name"]: s["size"] for s in body["items"]} == dict(sizes)
    assert body["total"] == len(SEGMENT) and body["model_version"] == 1
    champions = next(s for s in body["items"] if s["name"] == "Champions")
    members = [k for k, v in SEGMENT.items() if v == "Champions"]
    assert champions["avg_churn"] == pytest.approx(sum(CHURN_V2[k] for k in members) / len(members))
    assert champions["avg_clv"] == pytest.approx(sum(CLV[k] for k in members) / len(members))
    assert champions["share"] == pytest.approx(len(members) / len(SEGMENT))
    csv_text = live.client("manager").get("/api/segments", params={"format": "csv"}).text
    assert csv_text.splitlines()[0] == "name,size,share,avg_churn,avg_clv" and len(csv_text.splitlines()) == 5
