"""One uniform error body for every failure, plus health, OpenAPI, local docs assets, metrics and headers."""

from __future__ import annotations

import re

import httpx

from tests.web.live import live  # noqa: F401

KEYS = {"code", "message", "details", "hint"}


def test_handle_errors__uniform_bodies(live):
    client = live.client("manager")
    cases = [
        (client.get("/api/no-such-thing"), 404, "not_found"),
        (client.delete("/api/customers"), 405, "method_not_allowed"),
        (client.get("/api/customers", params={"limit": "many"}), 422, "validation_error"),
        (client.get(f"/api/customers/{live.cid('C001')}x"), 422, "validation_error"),
        (client.post("/api/customers", content=b"{not json", headers={"Content-Type": "application/json"}), 422,
         "validation_error"),
        (live.client(None).get("/api/customers"), 401, "unauthorized"),
        (live.client("agent").get("/api/segments"), 403, "forbidden"),
        (client.get("/api/customers/0"), 404, "not_found"),
    ]
    for response, status, code in cases:
        assert response.status_code == status, response.text
        body = response.json()
        assert set(body) == {"error"} and set(body["error"]) == KEYS, body
        assert body["error"]["code"] == code and body["error"]["message"]
    limit = cases[2][0].json()["error"]
    assert limit["details"][0]["field"] == "limit" and limit["details"][0]["location"] == "query"
    assert "'limit'" in limit["message"]
    path_error = cases[3][0].json()["error"]
    assert path_error["details"][0]["field"] == "customer_id" and path_error["details"][0]["location"] == "path"


def test_handle_errors__health_openapi_and_local_docs(live):
    assert httpx.get(f"{live.url}/api/health").json() == {"status": "ok", "database": "ok", "version": "0.1.0"}
    spec = httpx.get(f"{live.url}/openapi.json").json()
    assert {"/api/customers", "/api/customers/{customer_id}", "/api/segments", "/api/models", "/api/tickets",
            "/api/auth/token", "/api/health"} <= set(spec["paths"])
    assert "text/csv" in spec["paths"]["/api/customers"]["get"]["responses"]["200"]["content"]
    docs = httpx.get(f"{live.url}/docs").text
    assert "cdn." not in docs and "/static/docs/swagger-ui-bundle.js" in docs
    redoc = httpx.get(f"{live.url}/redoc").text
    assert "cdn." not in redoc and "fonts.googleapis" not in redoc
    for asset in ("/static/docs/swagger-ui-bundle.js", "/static/docs/swagger-ui.css", "/static/docs/redoc.standalone.js",
                  "/static/htmx.min.js", "/static/app.js", "/static/app.css"):
        assert httpx.get(f"{live.url}{asset}").status_code == 200, asset
    plotly = httpx.get(f"{live.url}/static/vendor/plotly.min.js", headers={"Accept-Encoding": "gzip"})
    assert plotly.status_code == 200 and plotly.headers["content-encoding"] == "gzip"
    assert plotly.text.lstrip().startswith("/**") and "plotly.js" in plotly.text[:200]
    again = httpx.get(f"{live.url}/static/vendor/plotly.min.js", headers={"If-None-Match": plotly.headers["etag"]})
    assert again.status_code == 304


def test_handle_errors__metrics_by_route_template(live):
    client = live.client("manager")
    for ext in ("C001", "C002", "C003"):
        assert client.get(f"/api/customers/{live.cid(ext)}").status_code == 200
    client.get("/api/customers/999999")
    text = httpx.get(f"{live.url}/metrics").text
    ok = re.search(r'http_requests_total\{method="GET",route="/api/customers/\{customer_id\}",status="200"\} (\S+)', text)
    assert ok and float(ok.group(1)) >= 3
    assert 'route="/api/customers/{customer_id}",status="404"' in text
    assert f"/api/customers/{live.cid('C001')}" not in text  # raw paths never become labels
    assert re.search(r'http_request_duration_seconds_bucket\{le="0.02",method="GET",route="/api/customers/'
                     r'\{customer_id\}",status="200"\}', text)
    assert re.search(r"^aicrm_customers \d+", text, re.M)
    assert 'aicrm_model_auc{model="churn"} 0.78' in text
    assert re.search(r'aicrm_model_last_trained_timestamp_seconds\{model="churn"\} 1\.78', text)


def test_handle_errors__pages_have_security_headers_and_error_pages(live):
    client, _ = live.page_client("agent")
    page = client.get("/customers")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-eval" not in csp and page.headers["x-frame-options"] == "DENY"
    denied = client.get("/overview")
    assert denied.status_code == 403 and "may not do this" in denied.text and "<nav" in denied.text
    missing = client.get("/customers/999999")
    assert missing.status_code == 404 and "No customer with id 999999" in missing.text
