"""Plotly figures for the dashboard as plain dicts (rendered by the locally served plotly.min.js)."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Sequence

import numpy as np

INK, MUTED, GRID = "#1e293b", "#64748b", "#e2e8f0"
PRIMARY, TEAL, AMBER, RED, GREEN = "#4f46e5", "#0d9488", "#d97706", "#dc2626", "#16a34a"
BAND_COLOURS = {"low": GREEN, "medium": AMBER, "high": RED, "very high": "#991b1b", "very_high": "#991b1b"}
SENTIMENT_COLOURS = {"positive": GREEN, "neutral": "#94a3b8", "negative": RED, "mixed": AMBER}
# Twelve distinct hues: the RFM segmentation names eleven segments, and a repeated colour reads as the same group.
PALETTE = [PRIMARY, TEAL, AMBER, "#db2777", "#0284c7", "#7c3aed", "#65a30d", "#ea580c", "#475569", "#be123c",
           "#ca8a04", "#0f766e"]


def layout(height: int = 280, **extra) -> dict:
    """The common look: transparent, light grid, compact margins, no legend unless asked."""
    base = {
        "height": height, "autosize": True, "margin": {"l": 52, "r": 16, "t": 12, "b": 44},
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", "size": 12, "color": INK},
        "xaxis": {"gridcolor": GRID, "zeroline": False, "automargin": True},
        "yaxis": {"gridcolor": GRID, "zeroline": False, "automargin": True},
        "showlegend": False, "hoverlabel": {"font": {"size": 12}},
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return base


def to_json(figure: dict) -> str:
    """The figure as JSON safe to embed in a ``<script type="application/json">`` element."""
    return json.dumps(figure, default=_plain, separators=(",", ":")).replace("</", "<\\/")


def _plain(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def month_label(month: str) -> str:
    """``2026-03`` -> ``Mar 2026`` (a category label: Plotly would read the raw string as a day)."""
    try:
        return dt.date(int(month[:4]), int(month[5:7]), 1).strftime("%b %Y")
    except ValueError:
        return month


def revenue_trend(months: Sequence, *, partial_last: str | None = None) -> dict:
    """Monthly revenue (bars) and buying customers (line, right axis).

    ``partial_last`` (e.g. "to 5 Dec") marks the newest month as incomplete: a faded bar and a labelled tick, so a
    month that has only just begun does not read as a collapse.
    """
    x = [month_label(m.month) for m in months]
    colours = [PRIMARY] * len(months)
    buyers = [m.customers for m in months]
    if partial_last and months:
        x[-1] = f"{x[-1]} ({partial_last})"
        colours[-1] = "#c7d2fe"
        buyers[-1] = None
    return {"data": [
        {"type": "bar", "x": x, "y": [round(m.revenue, 2) for m in months], "name": "Revenue",
         "marker": {"color": colours}, "hovertemplate": "%{x}<br>Revenue %{y:,.0f}<extra></extra>"},
        {"type": "scatter", "mode": "lines+markers", "x": x, "y": buyers, "yaxis": "y2",
         "name": "Buying customers", "line": {"color": TEAL, "width": 2}, "marker": {"size": 5},
         "hovertemplate": "%{x}<br>%{y:,} buying customers<extra></extra>"},
    ], "layout": layout(showlegend=True, legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
                        xaxis={"type": "category", "title": {"text": "Month"}},
                        yaxis={"title": {"text": "Revenue"}, "tickformat": "~s", "rangemode": "tozero"},
                        yaxis2={"overlaying": "y", "side": "right", "showgrid": False, "zeroline": False,
                                "title": {"text": "Buying customers"}, "tickformat": ",d", "rangemode": "tozero",
                                "tickmode": "auto", "nticks": 6},
                        margin={"r": 56, "t": 36})}


def histogram(values: Sequence[float], *, bins: int = 20, lo: float | None = None, hi: float | None = None,
              colour: str = PRIMARY, x_title: str = "", x_format: str = ",.2f", colour_by_x: bool = False) -> dict:
    """A histogram computed here (a few dozen bars travel, not 50,000 values)."""
    arr = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if arr.size == 0:
        return {"data": [], "layout": layout()}
    lo = float(arr.min()) if lo is None else lo
    hi = float(arr.max()) if hi is None else hi
    if hi <= lo:
        hi = lo + 1.0
    counts, edges = np.histogram(np.clip(arr, lo, hi), bins=bins, range=(lo, hi))
    centres = (edges[:-1] + edges[1:]) / 2
    colours = [_risk_colour(c) for c in centres] if colour_by_x else colour
    labels = [f"{edges[i]:{x_format}} – {edges[i + 1]:{x_format}}" for i in range(len(counts))]
    return {"data": [{"type": "bar", "x": centres.tolist(), "y": counts.tolist(), "width": float(edges[1] - edges[0]),
                      "marker": {"color": colours, "line": {"color": "#ffffff", "width": 1}}, "customdata": labels,
                      "hovertemplate": "%{customdata}<br>%{y:,} customers<extra></extra>"}],
            "layout": layout(xaxis={"title": {"text": x_title}}, yaxis={"title": {"text": "Customers"}},
                             bargap=0.04)}


def _risk_colour(p: float) -> str:
    """Green at 0 through amber to red at 1."""
    p = min(max(p, 0.0), 1.0)
    stops = [(0.0, (22, 163, 74)), (0.5, (217, 119, 6)), (1.0, (220, 38, 38))]
    for (p0, c0), (p1, c1) in zip(stops, stops[1:]):
        if p <= p1:
            t = (p - p0) / (p1 - p0)
            return "rgb({},{},{})".format(*(round(a + (b - a) * t) for a, b in zip(c0, c1)))
    return "rgb(220,38,38)"


def churn_distribution(values: Sequence[float]) -> dict:
    return histogram(values, bins=20, lo=0.0, hi=1.0, x_title="Churn probability", colour_by_x=True)


def clv_distribution(values: Sequence[float]) -> dict:
    """CLV histogram up to the 99th percentile (the long tail would squash every other bar into one)."""
    arr = np.asarray([v for v in values if v is not None], dtype=float)
    hi = float(np.quantile(arr, 0.99)) if arr.size else 1.0
    # The top 1% are folded into the last bar.
    return histogram(arr, bins=24, lo=0.0 if arr.size and arr.min() >= 0 else None, hi=hi, colour=TEAL,
                     x_title="Expected 12-month value", x_format=",.0f")


def band_bars(counts: dict[str, int]) -> dict:
    """Customers per churn risk band, low to high, each bar labelled with its count and share."""
    order = {"low": 0, "medium": 1, "high": 2, "very high": 3, "very_high": 3}
    names = sorted(counts, key=lambda n: (order.get(n.lower(), 9), n))
    total = sum(counts.values()) or 1
    return {"data": [{"type": "bar", "x": names, "y": [counts[n] for n in names],
                      "text": [f"{counts[n]:,} ({counts[n] / total:.0%})" for n in names], "textposition": "auto",
                      "marker": {"color": [BAND_COLOURS.get(n.lower(), PRIMARY) for n in names]},
                      "hovertemplate": "%{x} risk: %{y:,} customers<extra></extra>"}],
            "layout": layout(height=240, xaxis={"title": {"text": "Churn risk band"}},
                             yaxis={"title": {"text": "Customers"}})}


def segment_sizes(segments: Sequence, *, link: str = "/customers?segment=") -> dict:
    """Horizontal bars of segment sizes; clicking a bar opens the segment's members."""
    from urllib.parse import quote

    items = list(reversed(segments))  # largest on top
    return {"data": [{"type": "bar", "orientation": "h", "y": [s.name for s in items], "x": [s.size for s in items],
                      "marker": {"color": [PALETTE[i % len(PALETTE)] for i in range(len(items))][::-1]},
                      "customdata": [link + quote(s.name) for s in items],
                      "hovertemplate": "%{y}: %{x:,} customers<br>click to list them<extra></extra>"}],
            "layout": layout(height=max(200, 34 * len(items) + 60), margin={"l": 8},
                             xaxis={"title": {"text": "Customers"}}, yaxis={"automargin": True})}


def segment_colours(segments: Sequence) -> dict[str, str]:
    """One colour per segment in list order: the same in the bars, the bubbles and the tables' swatches."""
    return {s.name: PALETTE[i % len(PALETTE)] for i, s in enumerate(segments)}


def segment_bubbles(segments: Sequence, *, link: str | None = "/customers?segment=") -> dict:
    """Segments placed by mean churn risk and mean CLV, sized by headcount. No legend: names show on hover and the
    page's table carries the colour swatches (a legend for eleven segments covers the axis on a phone)."""
    from urllib.parse import quote

    colours = segment_colours(segments)
    rows = [s for s in segments if s.avg_churn is not None and s.avg_clv is not None]
    if not rows:
        return {"data": [], "layout": layout()}
    biggest = max(s.size for s in rows)
    return {"data": [{"type": "scatter", "mode": "markers", "name": s.name, "x": [s.avg_churn], "y": [s.avg_clv],
                      **({"customdata": [link + quote(s.name)]} if link else {}),
                      "marker": {"size": [12 + 40 * math.sqrt(s.size / biggest)], "color": colours[s.name],
                                 "opacity": 0.8, "line": {"color": "#ffffff", "width": 1}},
                      "hovertemplate": f"{_escape(s.name)}<br>{s.size:,} customers<br>mean churn %{{x:.0%}}"
                                       "<br>mean 12-month value %{y:,.0f}<extra></extra>"}
                     for s in rows],
            "layout": layout(height=320, xaxis={"title": {"text": "Mean churn probability"}, "tickformat": ".0%"},
                             yaxis={"title": {"text": "Mean 12-month value"}})}


def _escape(text: str) -> str:
    """Plotly hover templates read ``%{...}`` and HTML tags: keep names literal."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("%{", "% {")


def rfm_scores(stats: Sequence[tuple[int, float, int, float]], *, bins: int = 5) -> dict[str, np.ndarray]:
    """Quintile R, F and M scores (5 = best: most recent, most frequent, biggest spender) per customer.

    Ties share a score (average ranks), so the many one-order customers all get the same F score.
    """
    from scipy.stats import rankdata

    if not stats:
        return {"customer_id": np.array([], dtype=int), "r": np.array([]), "f": np.array([]), "m": np.array([]),
                "monetary": np.array([])}
    ids, recency, frequency, monetary = (np.asarray(col) for col in zip(*stats))
    n = len(ids)

    def score(values: np.ndarray, higher_is_better: bool) -> np.ndarray:
        ranks = rankdata(values if higher_is_better else -values, method="average")
        return np.clip(np.ceil(ranks / n * bins), 1, bins).astype(int)

    return {"customer_id": ids.astype(int), "r": score(recency.astype(float), False),
            "f": score(frequency.astype(float), True), "m": score(monetary.astype(float), True),
            "monetary": monetary.astype(float)}


def rfm_heatmap(scores: dict[str, np.ndarray], *, bins: int = 5) -> dict:
    """Customers per (recency score, frequency score) cell from per-customer scores (see ``rfm_scores``)."""
    counts = np.zeros((bins, bins), dtype=int)
    spend = np.zeros((bins, bins))
    np.add.at(counts, (scores["f"] - 1, scores["r"] - 1), 1)
    np.add.at(spend, (scores["f"] - 1, scores["r"] - 1), scores["monetary"])
    return rfm_grid(counts, np.divide(spend, counts, out=np.zeros_like(spend), where=counts > 0), bins=bins)


def rfm_cells_heatmap(cells: Sequence, *, bins: int = 5) -> dict:
    """The same grid from stored RFM cells (``RfmCell``: r, f, customers, mean_monetary)."""
    counts = np.zeros((bins, bins), dtype=int)
    mean = np.zeros((bins, bins))
    for c in cells:
        counts[c.f - 1][c.r - 1] = c.customers
        mean[c.f - 1][c.r - 1] = c.mean_monetary or 0.0
    return rfm_grid(counts, mean, bins=bins)


def rfm_grid(counts: np.ndarray, mean: np.ndarray, *, bins: int = 5) -> dict:
    """Customers per (recency, frequency) cell, hover shows mean spend; clicking lists the cell. The count is
    written in each cell, so no colour bar is needed (it would take a fifth of a phone's width)."""
    labels = [str(i) for i in range(1, bins + 1)]
    custom = [[[f"/segments/rfm-cell?r={r}&f={f}", float(mean[f - 1][r - 1])] for r in range(1, bins + 1)]
              for f in range(1, bins + 1)]
    return {"data": [{"type": "heatmap", "x": labels, "y": labels, "z": counts.tolist(),
                      "colorscale": [[0, "#eef2ff"], [0.5, "#818cf8"], [1, "#3730a3"]], "showscale": False,
                      "text": counts.tolist(), "texttemplate": "%{text:,}", "customdata": custom,
                      "hovertemplate": "R %{x} · F %{y}<br>%{z:,} customers<br>mean spend %{customdata[1]:,.0f}"
                                       "<extra>click to list</extra>",
                      "xgap": 2, "ygap": 2}],
            "layout": layout(height=340, xaxis={"title": {"text": "Recency (5 = bought most recently)"},
                                                "type": "category", "showgrid": False},
                             yaxis={"title": {"text": "Frequency (5 = buys most often)"}, "type": "category",
                                    "showgrid": False},
                             margin={"l": 44, "r": 8},
                             meta={"target": "#rfm-members"})}


def churn_gauge(probability: float | None, band: str | None) -> dict:
    value = round((probability or 0.0) * 100, 1)
    return {"data": [{"type": "indicator", "mode": "gauge+number", "value": value,
                      "number": {"suffix": "%", "font": {"size": 34}},
                      "gauge": {"axis": {"range": [0, 100], "ticksuffix": "%"},
                                "bar": {"color": _risk_colour((probability or 0.0))},
                                "steps": [{"range": [0, 33], "color": "#dcfce7"}, {"range": [33, 66], "color": "#fef3c7"},
                                          {"range": [66, 100], "color": "#fee2e2"}]}}],
            "layout": layout(height=200, margin={"l": 44, "r": 52, "t": 16, "b": 8})}


def order_timeline(orders: Sequence) -> dict:
    """Each order as a dot: when, and how much. A short history gets a two-month window at least (two orders a day
    apart would otherwise fill the axis with hours)."""
    rows = sorted((o for o in orders if o.ordered_at is not None), key=lambda o: o.ordered_at)
    xaxis: dict = {"type": "date", "tickformat": "%b %Y"}
    if rows:
        first, last = rows[0].ordered_at, rows[-1].ordered_at
        if last - first < dt.timedelta(days=60):
            middle = first + (last - first) / 2
            month = dt.timedelta(days=30)
            xaxis["range"] = [(middle - month).isoformat(), (middle + month).isoformat()]
            xaxis["tickformat"] = "%d %b %Y"
    return {"data": [{"type": "scatter", "mode": "lines+markers", "x": [o.ordered_at.isoformat() for o in rows],
                      "y": [o.total_amount or 0 for o in rows], "line": {"color": "#c7d2fe", "width": 1},
                      "marker": {"size": 9, "color": PRIMARY},
                      "customdata": [f"#{o.external_id} · {o.status}" for o in rows],
                      "hovertemplate": "%{x|%d %b %Y}<br>%{y:,.2f}<br>%{customdata}<extra></extra>"}],
            "layout": layout(height=220, xaxis=xaxis, yaxis={"title": {"text": "Order value"}, "rangemode": "tozero"})}


def sentiment_trend(rows: Sequence) -> dict:
    """Stacked monthly counts of each sentiment label."""
    months = sorted({r.month for r in rows})
    labels_x = [month_label(m) for m in months]
    labels = sorted({r.label for r in rows}, key=lambda s: ["positive", "neutral", "mixed", "negative"].index(s)
                    if s in ("positive", "neutral", "mixed", "negative") else 9)
    counts = {(r.month, r.label): r.count for r in rows}
    return {"data": [{"type": "bar", "name": label, "x": labels_x, "y": [counts.get((m, label), 0) for m in months],
                      "marker": {"color": SENTIMENT_COLOURS.get(label, PALETTE[i % len(PALETTE)])},
                      "hovertemplate": "%{x}<br>" + label + ": %{y:,}<extra></extra>"}
                     for i, label in enumerate(labels)],
            "layout": layout(barmode="stack", showlegend=True,
                             legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
                             xaxis={"type": "category"}, yaxis={"title": {"text": "Feedback"}, "tickformat": ",d"},
                             margin={"t": 36})}


def topic_bars(topics: Sequence) -> dict:
    rows = list(reversed(topics))
    return {"data": [{"type": "bar", "orientation": "h", "y": [t.topic for t in rows], "x": [t.count for t in rows],
                      "marker": {"color": [_risk_colour(0.5 - (t.avg_sentiment or 0) / 2) for t in rows]},
                      "customdata": [t.avg_sentiment if t.avg_sentiment is not None else 0 for t in rows],
                      "hovertemplate": "%{y}<br>%{x:,} items<br>mean sentiment %{customdata:+.2f}<extra></extra>"}],
            "layout": layout(height=max(200, 28 * len(rows) + 60), margin={"l": 8},
                             xaxis={"title": {"text": "Feedback items (colour: mean sentiment)"}},
                             yaxis={"automargin": True})}


def metric_history(runs: Sequence, metric_of, *, titles: dict[str, str] | None = None) -> dict[str, dict]:
    """One small figure per model with two versions or more: its headline metric by version (metrics of different
    models do not share a scale, so they do not share an axis). ``titles`` names metrics for the axis."""
    by_model: dict[str, list] = {}
    for run in sorted(runs, key=lambda r: (r.model_name, r.version)):
        name_value = metric_of(run)
        if name_value is not None:
            by_model.setdefault(run.model_name, []).append((run, *name_value))
    figures = {}
    for i, (model, points) in enumerate(sorted(by_model.items())):
        metric = points[-1][1]
        points = [p for p in points if p[1] == metric]
        if len(points) < 2:  # one dot on an empty axis says nothing a number would not
            continue
        figures[model] = {
            "data": [{"type": "scatter", "mode": "lines+markers+text", "x": [f"v{p[0].version}" for p in points],
                      "y": [p[2] for p in points], "text": [f"{p[2]:.3g}" for p in points],
                      "textposition": "top center", "cliponaxis": False,
                      "customdata": [p[0].trained_at.strftime("%d %b %Y %H:%M") for p in points],
                      "line": {"color": PALETTE[i % len(PALETTE)], "width": 2}, "marker": {"size": 8},
                      "hovertemplate": f"{model} %{{x}}<br>%{{customdata}}<br>{metric} %{{y:.4g}}<extra></extra>"}],
            "layout": layout(height=200, xaxis={"type": "category", "title": {"text": "Version"}},
                             yaxis={"title": {"text": (titles or {}).get(metric, metric)}}, margin={"t": 24}),
        }
    return figures


def rating_trend(rows: Sequence) -> dict:
    """Feedback items per month (bars) and their mean star rating (line, right axis)."""
    x = [month_label(r.month) for r in rows]
    return {"data": [
        {"type": "bar", "x": x, "y": [r.count for r in rows], "name": "Feedback items", "marker": {"color": "#c7d2fe"},
         "hovertemplate": "%{x}<br>%{y:,} items<extra></extra>"},
        {"type": "scatter", "mode": "lines+markers", "x": x, "y": [r.mean_rating for r in rows], "yaxis": "y2",
         "name": "Mean rating", "line": {"color": AMBER, "width": 2}, "marker": {"size": 5},
         "hovertemplate": "%{x}<br>mean rating %{y:.2f}<extra></extra>"},
    ], "layout": layout(showlegend=True, legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
                        xaxis={"type": "category", "title": {"text": "Month"}},
                        yaxis={"title": {"text": "Feedback items"}, "tickformat": ",d", "rangemode": "tozero"},
                        yaxis2={"overlaying": "y", "side": "right", "showgrid": False, "zeroline": False,
                                "title": {"text": "Mean rating"}, "range": [1, 5.2], "tickmode": "linear",
                                "tick0": 1, "dtick": 1},
                        margin={"r": 56, "t": 36})}
