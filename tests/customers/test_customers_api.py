"""The customers REST API over real HTTP, on SQLite and PostgreSQL, against the known store of tests/web/live.py."""

from __future__ import annotations

import csv
import io

import pytest

from tests.web.live import CHURN_V2, CLUSTER, CLV, MONETARY, NAMES, RFM, SEGMENT, band, live  # noqa: F401


def test_customers_api__list_sorted_by_current_churn(live):
    r = live.client("manager").get("/api/customers", params={"sort": "-churn", "limit": 5})
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == len(NAMES)
    expected = sorted(CHURN_V2, key=lambda k: -CHURN_V2[k])[:5]
    assert [c["external_id"] for c in body["items"]] == expected
    first = body["items"][0]
    # The newest model version (v2) is shown, never v1 (which has 1 - p).
    assert first["churn_probability"] == CHURN_V2[expected[0]] and first["risk_band"] == band(CHURN_V2[expected[0]])
    assert first["clv"] == CLV[expected[0]] and first["segment"] == SEGMENT[expected[0]]


def test_customers_api__filters_and_paging(live):
    client = live.client("manager")
    high = client.get("/api/customers", params={"min_churn": 0.66, "sort": "-clv"}).json()
    want = sorted((k for k, p in CHURN_V2.items() if p >= 0.66), key=lambda k: -CLV[k])
    assert [c["external_id"] for c in high["items"]] == want and high["total"] == len(want)
    banded = client.get("/api/customers", params={"risk_band": "medium"}).json()
    assert {c["external_id"] for c in banded["items"]} == {k for k, p in CHURN_V2.items() if band(p) == "medium"}
    seg = client.get("/api/customers", params={"segment": "At risk", "limit": 2}).json()
    assert seg["total"] == sum(1 for v in SEGMENT.values() if v == "At risk") and len(seg["items"]) == 2
    rest = client.get("/api/customers", params={"segment": "At risk", "limit": 2, "offset": 2}).json()
    assert not {c["id"] for c in seg["items"]} & {c["id"] for c in rest["items"]}
    for q, who in (("ali", "C001"), ("C00", None), ("c005@shop", "C005"), ("王", "C011"), ("100%", "")):
        found = client.get("/api/customers", params={"q": q}).json()["items"]
        if who is None:
            assert {c["external_id"] for c in found} >= {f"C00{i}" for i in range(1, 10)}
        elif who == "":
            assert found == []  # "%" is matched literally, not as a wildcard
        else:
            assert [c["external_id"] for c in found] == [who]


def test_customers_api__360_detail(live):
    c001 = live.cid("C001")
    d = live.client("manager").get(f"/api/customers/{c001}").json()
    assert d["profile"]["name"] == "Alice Martin" and d["profile"]["email"] == "c001@shop.example"
    assert d["churn"]["probability"] == CHURN_V2["C001"] and d["churn"]["band"] == "high"
    assert d["churn"]["model_version"] == 2
    assert [r["text"] for r in d["churn"]["reasons"]][0] == "No order in the last 90 days"
    assert d["churn"]["reasons"][2]["contribution"] == -0.4
    assert d["clv"]["value"] == CLV["C001"] and d["clv"]["p_alive"] == 0.8
    assert d["segment"] == "Champions"
    assert {s["model_name"] for s in d["scores"]} == {"churn", "clv", "segment", "cluster"}
    assert d["rfm"] == {"cell": str(RFM["C001"]), "r": 5, "f": 5, "m": 5, "recency_days": 10, "frequency": 5,
                        "monetary": MONETARY["C001"]}
    assert d["cluster"] == CLUSTER["C001"]
    assert d["clv"]["status"] == "likely active" and d["clv"]["expected_purchases_365d"] == 6.0
    assert d["clv"]["expected_spend_per_purchase"] == round(CLV["C001"] / 6.0, 2)
    # Only the newest recommendation version (3), in rank order; the stale v2 row is hidden.
    assert [r["product_name"] for r in d["recommendations"]] == ["Teapot", "Espresso beans", "Candle"]
    assert [r["rank"] for r in d["recommendations"]] == [1, 2, 3]
    assert len(d["orders"]) == 2 and d["stats"]["orders"] == 2 and d["stats"]["spend"] == 30.0
    assert d["orders"][0]["ordered_at"] > d["orders"][1]["ordered_at"]
    assert [t["subject"] for t in d["tickets"]] == ["Broken teapot lid"]
    assert d["feedback"][0]["sentiment_label"] == "negative"
    assert d["interactions"][0]["type"] == "email_opened"
    missing = live.client("manager").get("/api/customers/999999")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_customers_api__create_update_and_notes(live):
    client = live.client("manager")
    r = client.post("/api/customers", json={"external_id": f"NEW-{live.backend}", "name": "Nina New",
                                            "email": "Nina@Example.com", "birth_date": "1990-05-06"})
    assert r.status_code == 201
    new = r.json()
    assert new["email"] == "nina@example.com" and new["churn_probability"] is None
    dup = client.post("/api/customers", json={"external_id": f"NEW-{live.backend}"})
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "conflict"
    bad = client.post("/api/customers", json={"email": "not-an-email", "birth_date": "1990-13-45"})
    assert bad.status_code == 422
    fields = {d["field"] for d in bad.json()["error"]["details"]}
    assert fields == {"email", "birth_date"}
    up = client.patch(f"/api/customers/{new['id']}", json={"city": "Bristol", "phone": "+44 117 000 0000"})
    assert up.status_code == 200 and up.json()["city"] == "Bristol" and up.json()["name"] == "Nina New"
    note = client.post(f"/api/customers/{new['id']}/notes", json={"text": "  Prefers e-mail.  "})
    assert note.status_code == 201 and note.json()["author"] == "manager@example.com"
    assert note.json()["text"] == "Prefers e-mail."
    notes = client.get(f"/api/customers/{new['id']}/notes").json()
    assert [n["text"] for n in notes] == ["Prefers e-mail."]
    empty = client.post(f"/api/customers/{new['id']}/notes", json={"text": ""})
    assert empty.status_code == 422 and empty.json()["error"]["details"][0]["field"] == "text"


def test_customers_api__analyst_sees_masked_contacts(live):
    analyst = live.client("analyst")
    c001 = live.cid("C001")
    d = analyst.get(f"/api/customers/{c001}").json()["profile"]
    assert d["contact_masked"] is True
    assert d["email"] == "c***@s***.example" and d["phone"].endswith("01") and "7946" not in d["phone"]
    assert d["birth_date"] is None and d["name"] == "Alice Martin"
    listed = analyst.get("/api/customers", params={"q": "ali"}).json()["items"][0]
    assert listed["email"].startswith("c***") and listed["birth_date"] is None
    # An analyst cannot probe e-mail addresses through search.
    assert analyst.get("/api/customers", params={"q": "c001@shop.example"}).json()["total"] == 0
    exported = analyst.get("/api/customers", params={"format": "csv"}).text
    assert "@shop.example" not in exported and "c***@s***.example" in exported


def test_customers_api__agent_sees_only_served_customers(live):
    agent = live.client("agent")
    listed = agent.get("/api/customers").json()
    served = {c["external_id"] for c in listed["items"]}
    assert {"C001", "C002"} <= served and "C003" not in served
    assert agent.get(f"/api/customers/{live.cid('C002')}").status_code == 200
    other = agent.get(f"/api/customers/{live.cid('C003')}")
    assert other.status_code == 403 and other.json()["error"]["code"] == "forbidden"
    assert agent.post(f"/api/customers/{live.cid('C003')}/notes", json={"text": "hi"}).status_code == 403
    assert agent.post(f"/api/customers/{live.cid('C001')}/notes", json={"text": "Called back"}).status_code == 201


def test_customers_api__csv_export(live):
    r = live.client("manager").get("/api/customers", params={"format": "csv", "sort": "-churn", "min_churn": 0.5})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert 'filename="customers.csv"' in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    want = sorted((k for k, p in CHURN_V2.items() if p >= 0.5), key=lambda k: -CHURN_V2[k])
    assert [row["external_id"] for row in rows] == want
    assert float(rows[0]["churn_probability"]) == CHURN_V2[want[0]]
    assert rows[0]["phone"].startswith("+44")  # a phone number is data, not a spreadsheet formula


def _walk(client, **params) -> tuple[list[int], int]:
    """Every customer of a list, page by page with the ``after`` cursor; and how many pages that took."""
    ids, after, pages = [], None, 0
    while True:
        body = client.get("/api/customers", params={**params, **({"after": after} if after else {})}).json()
        ids += [c["id"] for c in body["items"]]
        pages += 1
        after = body["next_after"]
        if after is None or pages > 50:
            return ids, pages


@pytest.mark.parametrize("params", [
    {"sort": "id"}, {"sort": "-id"}, {"sort": "name"}, {"sort": "-name"}, {"sort": "-churn"}, {"sort": "churn"},
    {"sort": "clv"}, {"sort": "-signup_date"}, {"sort": "-clv", "min_churn": 0.3}, {"segment": "At risk"},
    {"q": "c0", "sort": "-external_id"},
], ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items()))
def test_customers_api__keyset_pages_list_everyone_once(live, params):
    """Walking with ``after`` returns each matching customer exactly once, in the same order as offset paging,
    across ties, NULL sort values (customers without scores or names) and descending sorts."""
    client = live.client("manager")
    for n, name in enumerate((None, None, "Alice Martin")):  # unscored, nameless and a duplicate name: NULLs, ties
        key = f"KS-{live.backend}-{n}"
        if not client.get("/api/customers", params={"q": key}).json()["items"]:
            assert client.post("/api/customers", json={"external_id": key, "name": name}).status_code == 201
    everyone = client.get("/api/customers", params={**params, "limit": 500}).json()
    keyset, pages = _walk(client, **params, limit=4)
    by_offset = []
    for offset in range(0, everyone["total"], 4):
        by_offset += [c["id"] for c in client.get("/api/customers", params={**params, "limit": 4,
                                                                           "offset": offset}).json()["items"]]
    assert len(keyset) == len(set(keyset)) == everyone["total"] > 0
    assert keyset == by_offset == [c["id"] for c in everyone["items"]]
    assert pages == -(-everyone["total"] // 4)  # no empty page at the end: next_after is null on the last one


def test_customers_api__keyset_cursor_errors_and_total(live):
    client = live.client("manager")
    before = client.get("/api/customers").json()["total"]
    assert client.post("/api/customers", json={"external_id": f"TOTAL-{live.backend}"}).status_code == 201
    # The unfiltered total is cached, but a new customer shows at once (the cache follows the highest id).
    assert client.get("/api/customers").json()["total"] == before + 1
    first = client.get("/api/customers", params={"sort": "-clv", "limit": 2}).json()
    assert first["next_after"] and first["total"] == before + 1
    # A cursor is tied to its sort: another sort's cursor is refused with a hint, not misread.
    bad = client.get("/api/customers", params={"sort": "id", "after": first["next_after"]})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "after"
    assert "next_after" in bad.json()["error"]["hint"]
    for sort, after in (("name", "%%%"), ("id", "9" * 30), ("clv", "WyJ4IiwgMV0"), ("-churn", "WzFd")):
        assert client.get("/api/customers", params={"sort": sort, "after": after}).status_code == 422, after
    # A bare id is the cursor of the id sort: pages after customer 3.
    after3 = client.get("/api/customers", params={"after": "3", "limit": 2}).json()["items"]
    assert [c["id"] for c in after3] == [c for c in sorted(live.ids["customers"].values()) if c > 3][:2]
