"""Dashboard pages over real HTTP on SQLite and PostgreSQL: what they show now that the store holds scores.

The browser test (test_render_dashboard__browser.py) checks layout and charts; this one checks the numbers and
words the server puts on each page against the known store of tests/web/live.py.
"""

from __future__ import annotations

import html
import json
import re
from collections import Counter

from typer.testing import CliRunner

from aicrm.cli import app as cli_app
from aicrm.web.pages import HINTS
from tests.web.live import CHURN_V2, CLUSTER, CLV, MONETARY, NAMES, RFM, live  # noqa: F401


def _figure(page: str, chart: str) -> dict:
    """The Plotly figure a page embeds for ``chart`` (the JSON script next to the chart element)."""
    found = re.search(rf'<script type="application/json" id="{chart}-data">(.*?)</script>', page, re.S)
    assert found, f"no {chart} on the page"
    return json.loads(found.group(1).replace("<\\/", "</"))


def _text(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def test_render_pages__hints_name_commands_that_exist():
    """Every command an empty state suggests runs (its --help), and its arguments are ones it accepts."""
    from aicrm.ingest.mapping import KINDS
    from aicrm.scoring.service import FAMILIES

    runner = CliRunner()
    commands = {c for hint in HINTS.values() for c in ([hint] if isinstance(hint, str) else hint)}
    for command in commands:
        words = command.split()
        assert words[0] == "aicrm"
        assert runner.invoke(cli_app, [words[1], "--help"]).exit_code == 0, command
        if words[1] in ("train", "score") and len(words) > 2:
            assert words[2] in (*FAMILIES, "all"), command
        if words[1] == "import":
            assert words[2] in KINDS, command


def test_render_pages__segments_grid_comes_from_stored_rfm_cells(live):
    client, _ = live.page_client("analyst")
    page = client.get("/segments").text
    grid = _figure(page, "chart-rfm")["data"][0]
    want = Counter((cell // 100, cell // 10 % 10) for cell in RFM.values())
    got = {(r, f): grid["z"][f - 1][r - 1] for r in range(1, 6) for f in range(1, 6) if grid["z"][f - 1][r - 1]}
    assert got == dict(want)
    assert "Scores of the stored RFM segmentation" in _text(page)
    # A cell lists its customers, biggest spenders first (C012 spent most of the 555s).
    cell = client.get("/segments/rfm-cell", params={"r": 5, "f": 5}).text
    in_cell = sorted((k for k, c in RFM.items() if c // 10 == 55), key=lambda k: -MONETARY[k])
    shown = re.findall(r'<a href="/customers/\d+">([^<]+)</a>', cell)
    assert shown == [NAMES[k] for k in in_cell]
    assert f"{len(in_cell)} customers" in _text(cell)
    # The clusters of the cluster model, with their sizes.
    text = _text(page)
    for profile, n in Counter(CLUSTER.values()).items():
        assert profile in text and f"{n} ({n / len(CLUSTER):.0%})" in text


def test_render_pages__customer_360_shows_reasons_clv_and_rfm(live):
    client, _ = live.page_client("manager")
    text = _text(client.get(f"/customers/{live.cid('C001')}").text)
    for reason in ("No order in the last 90 days", "Opened a complaint ticket", "Member for over two years"):
        assert reason in text
    assert text.count("raises the risk") == 2 and text.count("lowers the risk") == 1
    assert "likely active" in text and "80%" in text and "6.0 in a year" in text
    assert "R 5 · F 5 · M 5" in text and CLUSTER["C001"] in text
    assert f"{CLV['C001']:,.0f}" in text


def test_render_pages__at_risk_lists_main_reasons(live):
    client, _ = live.page_client("manager")
    page = client.get("/at-risk").text
    rows = re.findall(r'<a class="strong" href="/customers/\d+">([^<]+)</a>', page)
    want = sorted((k for k, p in CHURN_V2.items() if p >= 0.5), key=lambda k: -CLV[k])
    assert rows == [NAMES[k] for k in want]
    cells = re.findall(r'<td class="hide-sm reason-cell">([^<]*)</td>', page)
    assert [c.strip() for c in cells] == ["No order in the last 90 days"] * len(want)


def test_render_pages__overview_models_and_feedback(live):
    client, _ = live.page_client("manager")
    overview = client.get("/overview").text
    bands = _figure(overview, "chart-bands")["data"][0]
    want = Counter("high" if p >= 0.66 else "medium" if p >= 0.33 else "low" for p in CHURN_V2.values())
    assert bands["x"] == ["low", "medium", "high"] and bands["y"] == [want["low"], want["medium"], want["high"]]
    assert sum(_figure(overview, "chart-churn")["data"][0]["y"]) == len(CHURN_V2)
    at_risk = sum(p >= 0.5 for p in CHURN_V2.values())
    assert f"{at_risk / len(CHURN_V2):.0%} of scored" in _text(overview)

    models = _text(client.get("/models").text)
    assert "Who is likely to stop buying" in models and "0.780" in models  # churn v2's AUC, not v1's 0.71

    feedback = client.get("/feedback").text
    text = _text(feedback)
    assert "Mean rating 3.25" in text  # ratings 1, 5, 4, 3
    assert "Alice Martin" in text  # names, not "customer 1"
    assert "Ratings by month" in text and "Latest negative feedback" in text


def test_render_pages__model_summary_reads_the_chosen_recommender():
    """The recommender stores one validation row per candidate; the Models page shows the one in use."""
    from types import SimpleNamespace

    from aicrm.web.pages import _model_summary

    rows = [{"algorithm": "popularity", "params": {}, "precision_at_k": 0.02, "catalog_coverage": 0.1},
            {"algorithm": "item_knn", "params": {"K": 100}, "precision_at_k": 0.04, "catalog_coverage": 0.5},
            {"algorithm": "item_knn", "params": {"K": 200}, "precision_at_k": 0.05, "catalog_coverage": 0.9}]
    run = SimpleNamespace(model_name="recommend", algorithm="item_knn", params={"params": {"K": 100}},
                          metrics={"validation": rows})
    summary = _model_summary(run)
    assert {m["label"]: m["value"] for m in summary["metrics"]} == {"Precision@10": "0.040",
                                                                    "Catalogue coverage": "50%"}
    assert "2.0× the precision of recommending best-sellers" in summary["facts"]
