"""The dashboard's Plotly figures as data: known inputs, the bars and labels a person would read."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace as NS

import numpy as np

from aicrm.ml.schemas import RfmCell
from aicrm.web import charts


def test_render_charts__band_bars_low_to_high_with_shares():
    fig = charts.band_bars({"high": 60, "low": 10, "medium": 30})
    bar = fig["data"][0]
    assert bar["x"] == ["low", "medium", "high"] and bar["y"] == [10, 30, 60]
    assert bar["text"] == ["10 (10%)", "30 (30%)", "60 (60%)"]
    assert fig["layout"]["xaxis"]["title"]["text"] and fig["layout"]["yaxis"]["title"]["text"] == "Customers"


def test_render_charts__revenue_trend_marks_a_partial_month():
    months = [NS(month=f"2026-{m:02d}", revenue=1000.0, orders=10, customers=9) for m in (10, 11, 12)]
    fig = charts.revenue_trend(months, partial_last="to 5 Dec")
    bars, line = fig["data"]
    assert bars["x"][-1] == "Dec 2026 (to 5 Dec)" and bars["marker"]["color"][-1] != bars["marker"]["color"][0]
    assert line["y"] == [9, 9, None]  # no point for a month just begun
    whole = charts.revenue_trend(months)
    assert whole["data"][0]["x"][-1] == "Dec 2026" and whole["data"][1]["y"][-1] == 9


def test_render_charts__rfm_grid_from_stored_cells_matches_computed_scores():
    rng = np.random.default_rng(3)
    stats = [(i, float(rng.integers(1, 400)), int(rng.integers(1, 9)), float(rng.gamma(2, 50))) for i in range(500)]
    scores = charts.rfm_scores(stats)
    cells = {}
    for r, f, m in zip(scores["r"], scores["f"], scores["monetary"]):
        n, total = cells.get((r, f), (0, 0.0))
        cells[(r, f)] = (n + 1, total + m)
    stored = [RfmCell(r=int(r), f=int(f), customers=n, mean_monetary=t / n) for (r, f), (n, t) in cells.items()]
    computed, from_cells = charts.rfm_heatmap(scores)["data"][0], charts.rfm_cells_heatmap(stored)["data"][0]
    assert computed["z"] == from_cells["z"] and sum(map(sum, from_cells["z"])) == 500
    np.testing.assert_allclose([[c[1] for c in row] for row in computed["customdata"]],
                               [[c[1] for c in row] for row in from_cells["customdata"]])
    # z[f-1][r-1]: the top-right cell is R5 F5 and clicking it lists that cell.
    assert from_cells["customdata"][4][4][0] == "/segments/rfm-cell?r=5&f=5"


def test_render_charts__order_timeline_short_history_gets_a_date_window():
    day = dt.datetime(2026, 11, 26, 9)
    orders = [NS(ordered_at=day, total_amount=360.0, external_id="1", status="delivered"),
              NS(ordered_at=day + dt.timedelta(hours=15), total_amount=660.0, external_id="2", status="delivered")]
    xaxis = charts.order_timeline(orders)["layout"]["xaxis"]
    lo, hi = (dt.datetime.fromisoformat(v) for v in xaxis["range"])
    assert (hi - lo).days == 60 and lo < day < hi
    long = orders + [NS(ordered_at=day - dt.timedelta(days=400), total_amount=10.0, external_id="0", status="x")]
    assert "range" not in charts.order_timeline(long)["layout"]["xaxis"]


def test_render_charts__metric_history_needs_two_versions():
    at = dt.datetime(2026, 1, 1)
    runs = [NS(model_name="churn", version=1, trained_at=at, metrics={"roc_auc": 0.7}),
            NS(model_name="churn", version=2, trained_at=at, metrics={"roc_auc": 0.8}),
            NS(model_name="clv", version=1, trained_at=at, metrics={"mae": 3.0})]
    figures = charts.metric_history(runs, lambda r: next(iter(r.metrics.items())), titles={"roc_auc": "ROC AUC"})
    assert list(figures) == ["churn"]
    assert figures["churn"]["data"][0]["y"] == [0.7, 0.8]
    assert figures["churn"]["layout"]["yaxis"]["title"]["text"] == "ROC AUC"


def test_render_charts__segment_colours_agree_between_bars_and_bubbles():
    segs = [NS(name=f"S{i}", size=100 - i, avg_churn=i / 12, avg_clv=50.0 + i) for i in range(11)]
    colours = charts.segment_colours(segs)
    assert len(set(colours.values())) == 11  # eleven RFM segments, eleven hues
    bubbles = charts.segment_bubbles(segs)["data"]
    assert {t["name"]: t["marker"]["color"] for t in bubbles} == colours
    bars = charts.segment_sizes(segs)["data"][0]
    assert dict(zip(bars["y"], bars["marker"]["color"])) == colours
