"""The dashboard in headless Chromium: sign in, Overview charts, search, Customer 360 with charts, a note, a phone.

Screenshots land in test-artifacts/screenshots/ for a person to look at.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.web.live import PASSWORD, ROLE_USERS, live  # noqa: F401

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
SHOTS = REPO / "test-artifacts" / "screenshots"
PLOT_SVG = ".js-plotly-plot svg.main-svg"  # Plotly marks the chart element itself with js-plotly-plot

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() or shutil.which("chromium") is None,
    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium; `make test` installs it)")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


def _page(browser, width: int, height: int, errors: list):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on("console", lambda msg: errors.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    return context, page


def _sign_in(page, url: str, role: str) -> None:
    page.goto(f"{url}/login")
    page.fill("input[name=email]", ROLE_USERS[role])
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def _shot(page, name: str) -> None:
    # Back to the top first: a full-page capture after scrolling paints the sticky header mid-page.
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / name), full_page=True)


def _no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.parametrize("live", ["sqlite"], indirect=True)
def test_render_dashboard__laptop(browser, live):
    SHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    context, page = _page(browser, 1366, 768, errors)
    _sign_in(page, live.url, "manager")
    page.wait_for_url("**/overview")
    for chart in ("#chart-revenue", "#chart-churn", "#chart-clv", "#chart-segments"):
        page.wait_for_selector(f"{chart}{PLOT_SVG}", timeout=20_000)
    assert page.locator(".kpi").count() >= 5
    _shot(page, "overview-1366.png")

    page.fill(".topbar input[name=q]", "Alice")
    page.press(".topbar input[name=q]", "Enter")
    page.wait_for_url("**/customers?q=Alice")
    rows = page.locator("#results tbody tr")
    assert rows.count() == 1 and "Alice Martin" in rows.first.inner_text()
    _shot(page, "customers-search-1366.png")

    page.click("text=Alice Martin")
    page.wait_for_url(f"**/customers/{live.cid('C001')}")
    for chart in ("#chart-gauge", "#chart-orders"):
        page.wait_for_selector(f"{chart}{PLOT_SVG}", timeout=20_000)
    assert "91%" in page.inner_text("#chart-gauge")
    # The stored churn reasons are readable text on the page, strongest first, with their direction.
    reasons = page.locator("#churn-reasons li")
    assert reasons.count() == 3 and reasons.first.is_visible()
    assert reasons.first.inner_text().startswith("No order in the last 90 days")
    assert "raises the risk" in reasons.first.inner_text() and "lowers the risk" in reasons.nth(2).inner_text()
    assert page.locator(".recs li").first.inner_text().startswith("Teapot")
    assert page.locator(".timeline li").count() >= 5
    page.fill("#notes textarea", "Offered a replacement lid by phone.")
    page.click("#notes button[type=submit]")
    page.wait_for_selector("#notes .notes li:has-text('Offered a replacement lid')")
    _shot(page, "customer-360-1366.png")

    for path, name, selector in (("/segments", "segments", f"#chart-rfm{PLOT_SVG}"),
                                 ("/at-risk", "at-risk", "table tbody tr"),
                                 ("/feedback", "feedback", f"#chart-sentiment{PLOT_SVG}"),
                                 ("/models", "models", f"#chart-metrics-churn{PLOT_SVG}"),
                                 ("/tickets", "tickets", "table tbody tr")):
        page.goto(live.url + path)
        page.wait_for_selector(selector, timeout=20_000)
        _shot(page, f"{name}-1366.png")
    # Clicking an RFM cell lists its customers through HTMX.
    page.goto(live.url + "/segments")
    page.wait_for_selector(f"#chart-rfm{PLOT_SVG}")
    page.wait_for_selector("#rfm-members p:has-text('Recency 5 · frequency 5')", timeout=10_000)  # preloaded
    page.locator("#chart-rfm .nsewdrag").first.click(position={"x": 30, "y": 30})  # top left: R1 F5
    page.wait_for_selector("#rfm-members p:has-text('Recency 1 · frequency 5')", timeout=10_000)
    assert page.locator("#rfm-members table tbody tr").count() == 3  # C002, C007, C009 are in cell 155
    context.close()
    assert not errors, errors


@pytest.mark.parametrize("live", ["sqlite"], indirect=True)
def test_render_dashboard__phone(browser, live):
    SHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    context, page = _page(browser, 390, 844, errors)
    _sign_in(page, live.url, "analyst")
    page.wait_for_url("**/overview")
    page.wait_for_selector(f"#chart-revenue{PLOT_SVG}", timeout=20_000)
    assert _no_sideways_scroll(page)
    _shot(page, "overview-390.png")
    page.goto(f"{live.url}/customers/{live.cid('C001')}")
    page.wait_for_selector(f"#chart-gauge{PLOT_SVG}", timeout=20_000)
    assert "c***@s***.example" in page.inner_text("body")  # analysts see masked contact details
    assert page.locator("#churn-reasons li").first.is_visible()  # reasons are text, readable on a phone too
    assert _no_sideways_scroll(page)
    _shot(page, "customer-360-390.png")
    page.goto(f"{live.url}/customers")
    assert _no_sideways_scroll(page)
    _shot(page, "customers-390.png")
    context.close()
    assert not errors, errors


@pytest.mark.parametrize("live", ["sqlite"], indirect=True)
def test_render_dashboard__empty_store_says_what_to_run(browser, live, tmp_path):
    """Without scores, pages explain which command fills them instead of breaking."""
    from sqlalchemy import delete
    from sqlalchemy.orm import Session

    from aicrm.core.models import CustomerScore, Feedback, ModelRun, Recommendation

    with Session(live.engine) as s:
        for table in (CustomerScore, Recommendation, ModelRun):
            s.execute(delete(table))
        s.execute(Feedback.__table__.update().values(sentiment_label=None, topic=None))
        s.commit()
    errors: list[str] = []
    context, page = _page(browser, 1366, 768, errors)
    _sign_in(page, live.url, "admin")
    page.wait_for_url("**/overview")
    assert "aicrm train all" in page.inner_text("main")
    _shot(page, "overview-no-scores-1366.png")
    for path, text in (("/at-risk", "aicrm train all"), ("/models", "aicrm train all"),
                       ("/feedback", "aicrm train text"), (f"/customers/{live.cid('C001')}", "aicrm train all"),
                       ("/segments", "computed from orders")):
        page.goto(live.url + path)
        assert text in page.inner_text("main"), path
    _shot(page, "customer-360-no-scores-1366.png")
    context.close()
    assert not errors, errors
