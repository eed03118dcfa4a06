"""Walk through a running aicrm as a new user would and screenshot every page at 1366x768 and 390 wide.

    aicrm demo --customers 3000 --port 8765          # in a scratch folder; prints the demo sign-ins
    python -m tests.web.walkthrough http://127.0.0.1:8765 test-artifacts/screenshots/walkthrough

Signs in as the demo admin, opens the most valuable at-risk customer's 360 view, and reports page errors, console
errors and sideways scrolling. Not a test (pytest does not collect it): screenshots are for a person to look at.
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
SIZES = ((1366, 768), (390, 844))


def walk(url: str, out: Path, email: str = "admin@example.com", password: str = "demo-admin-pass") -> list[str]:
    """Screenshots of every page under ``out``; returns the problems seen (empty when none)."""
    out.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS, headless=True)
        for width, height in SIZES:
            context = browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            page.on("pageerror", lambda exc, page=page: problems.append(f"{page.url}: page error {exc}"))
            page.on("console", lambda msg, page=page: problems.append(f"{page.url}: console {msg.text}")
                    if msg.type == "error" else None)
            page.goto(f"{url}/login")
            page.fill("input[name=email]", email)
            page.fill("input[name=password]", password)
            page.click("button[type=submit]")
            page.wait_for_url("**/overview")
            page.goto(f"{url}/at-risk")
            at_risk = page.locator("table tbody tr a").first.get_attribute("href")
            pages = [("overview", "/overview"), ("segments", "/segments"), ("customers", "/customers"),
                     ("customers-search", "/customers?q=an"), ("customer-360", at_risk), ("at-risk", "/at-risk"),
                     ("feedback", "/feedback"), ("tickets", "/tickets"), ("models", "/models"), ("users", "/users"),
                     ("docs", "/docs")]
            for name, path in pages:
                page.goto(url + path)
                page.wait_for_load_state("networkidle")
                page.wait_for_timeout(500)  # Plotly draws after the load event
                page.evaluate("window.scrollTo(0, 0)")
                page.screenshot(path=str(out / f"{name}-{width}.png"), full_page=True)
                sideways = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                if sideways > 1:
                    problems.append(f"{name} at {width}px scrolls sideways by {sideways}px")
            context.close()
        browser.close()
    return problems


if __name__ == "__main__":
    found = walk(sys.argv[1].rstrip("/"), Path(sys.argv[2]))
    print("\n".join(found) or "no page errors, console errors or sideways scrolling")
    sys.exit(1 if found else 0)
