"""Churn without labels: features from purchase history before a cutoff, churn = no purchase in the next N days.

The order lines are parsed once into DuckDB and every cutoff is a few SQL aggregates over them, so the
same code serves a 5,000-customer shop and a 1,000,000-customer / 20,000,000-line store. Feature
names match ``churn.REASON_TEMPLATES`` so each reason reads in plain words ("no purchase for 94 days
(usual gap 21)").

Conventions: a line with a negative amount or quantity is a return (or cancellation); an order is a
purchase when its positive lines sum above zero; without an order column, one customer-day is one
order. Only rows strictly before ``cutoff`` are read for features, so nothing from the label window
leaks in. Customers are those with at least one purchase before the cutoff.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from aicrm.core.errors import ValidationFailed

__all__ = [
    "churn_cutoffs",
    "score_transactional_churn",
    "stacked_churn_frame",
    "train_transactional_churn",
    "transactional_churn_features",
    "transactional_churn_frame",
    "transactional_churn_labels",
]

DAY = 86400.0
_LINE_KEYS = ("customer_col", "date_col", "amount_col", "order_col", "quantity_col", "returned_col", "category_col")


def _q(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _ts(value: Any) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize(None) if ts.tzinfo is not None else ts


def _columns(table: Any) -> list[str]:
    # A pyarrow.Table also has ``.columns`` (its column arrays, not their names), so look at the schema first.
    schema = getattr(table, "schema", None)
    if schema is not None and hasattr(schema, "names"):
        return [str(c) for c in schema.names]
    return [str(c) for c in table.columns]


def _need(table: Any, cols: dict[str, str | None], what: str) -> None:
    names = _columns(table)
    missing = [f"{role}='{col}'" for role, col in cols.items() if col is not None and str(col) not in names]
    if missing:
        raise ValidationFailed(f"the {what} table has no column {', '.join(missing)}; its columns are {names[:20]}",
                               hint=f"Pass the {what} table's real column names as keyword arguments.")


def _slug(value: Any) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(value).lower()).strip("_")[:40] or "blank"


class _History:
    """Order lines parsed once into a typed DuckDB table ``l`` (cust, ts, amount, oid, qty, cat)."""

    def __init__(self, orders: Any, *, customer_col: str = "customer_id", date_col: str = "ordered_at",
                 amount_col: str = "amount", order_col: str | None = None, quantity_col: str | None = None,
                 returned_col: str | None = None, category_col: str | None = None):
        import duckdb

        _need(orders, {"customer_col": customer_col, "date_col": date_col, "amount_col": amount_col,
                       "order_col": order_col, "quantity_col": quantity_col, "returned_col": returned_col,
                       "category_col": category_col}, "orders")
        self.customer_col = customer_col
        self.has_quantity = quantity_col is not None
        self.has_category = category_col is not None
        self.con = duckdb.connect()
        self.con.register("orders_src", orders)
        cust, ts = _q(customer_col), f"TRY_CAST({_q(date_col)} AS TIMESTAMP)"
        qty = f"TRY_CAST({_q(quantity_col)} AS DOUBLE)" if quantity_col else "NULL::DOUBLE"
        cat = f"CAST({_q(category_col)} AS VARCHAR)" if category_col else "NULL::VARCHAR"
        oid = f"CAST({_q(order_col)} AS VARCHAR)" if order_col else f"CAST(CAST({ts} AS DATE) AS VARCHAR)"
        # An order-level table with a separate returned-amount column becomes the same shape: each
        # return is one extra negative line of its order.
        returns = "" if not returned_col else f"""
            UNION ALL
            SELECT {cust}, {ts}, -abs(TRY_CAST({_q(returned_col)} AS DOUBLE)), {oid}, NULL::DOUBLE, NULL::VARCHAR
            FROM orders_src WHERE {cust} IS NOT NULL AND TRY_CAST({_q(returned_col)} AS DOUBLE) <> 0"""
        self.con.execute(f"""
            CREATE TEMP TABLE l AS
            SELECT * FROM (
              SELECT {cust} AS cust, {ts} AS ts, TRY_CAST({_q(amount_col)} AS DOUBLE) AS amount, {oid} AS oid,
                     {qty} AS qty, {cat} AS cat
              FROM orders_src WHERE {cust} IS NOT NULL
              {returns}
            ) WHERE ts IS NOT NULL AND amount IS NOT NULL""")
        self.con.unregister("orders_src")

    def __enter__(self) -> _History:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.con.close()

    def last_order_at(self) -> pd.Timestamp | None:
        last = self.con.execute("SELECT max(ts) FROM l").fetchone()[0]
        return None if last is None else pd.Timestamp(last)

    def top_categories(self, cutoff: pd.Timestamp, top: int) -> list[Any]:
        rows = self.con.execute(
            "SELECT cat FROM l WHERE ts < $cut AND amount > 0 AND cat IS NOT NULL "
            f"GROUP BY cat ORDER BY sum(amount) DESC, cat LIMIT {int(top)}", {"cut": cutoff}).fetchall()
        return [r[0] for r in rows]

    def features(self, cutoff: Any, *, categories: list[Any] | None = None, top_categories: int = 8,
                 feedback: Any = None, feedback_customer_col: str = "customer_id",
                 feedback_date_col: str = "created_at", feedback_score_col: str = "sentiment_score",
                 negative_below: float = 0.0, contacts: Any = None, contacts_customer_col: str = "customer_id",
                 contacts_date_col: str = "created_at") -> pd.DataFrame:
        cut = _ts(cutoff)
        con = self.con
        con.execute("CREATE OR REPLACE TEMP TABLE h AS SELECT * FROM l WHERE ts < $cut", {"cut": cut})
        frame = con.execute(_CORE_SQL.format(basket_items="avg(items)" if self.has_quantity else "NULL::DOUBLE"),
                            {"cut": cut}).df()
        if self.has_category:
            if categories is None:
                categories = self.top_categories(cut, top_categories)
            frame = frame.merge(self._category_features(categories), on="cust", how="left")
        if feedback is not None:
            _need(feedback, {"feedback_customer_col": feedback_customer_col, "feedback_date_col": feedback_date_col,
                             "feedback_score_col": feedback_score_col}, "feedback")
            con.register("feedback_src", feedback)
            fb = con.execute(f"""
                SELECT {_q(feedback_customer_col)} AS cust,
                       count(*)::DOUBLE AS feedback_count,
                       avg(score) AS feedback_mean,
                       arg_max(score, ts) AS feedback_last,
                       count(*) FILTER (WHERE score < $neg)::DOUBLE AS feedback_negative
                FROM (SELECT *, TRY_CAST({_q(feedback_date_col)} AS TIMESTAMP) AS ts,
                             TRY_CAST({_q(feedback_score_col)} AS DOUBLE) AS score FROM feedback_src)
                WHERE ts < $cut AND score IS NOT NULL AND {_q(feedback_customer_col)} IS NOT NULL
                GROUP BY 1""", {"cut": cut, "neg": negative_below}).df()
            con.unregister("feedback_src")
            frame = _join(frame, fb, counts=["feedback_count", "feedback_negative"])
        if contacts is not None:
            _need(contacts, {"contacts_customer_col": contacts_customer_col, "contacts_date_col": contacts_date_col},
                  "contacts")
            con.register("contacts_src", contacts)
            ct = con.execute(f"""
                SELECT {_q(contacts_customer_col)} AS cust,
                       count(*)::DOUBLE AS contacts,
                       count(*) FILTER (WHERE ts >= $cut - INTERVAL 90 DAY)::DOUBLE AS contacts_90d,
                       (epoch($cut) - epoch(max(ts))) / {DAY} AS days_since_last_contact
                FROM (SELECT *, TRY_CAST({_q(contacts_date_col)} AS TIMESTAMP) AS ts FROM contacts_src)
                WHERE ts < $cut AND {_q(contacts_customer_col)} IS NOT NULL
                GROUP BY 1""", {"cut": cut}).df()
            con.unregister("contacts_src")
            frame = _join(frame, ct, counts=["contacts", "contacts_90d"])
        frame = frame.set_index("cust").sort_index()
        frame.index.name = self.customer_col
        return frame.astype(float)

    def _category_features(self, categories: list[Any]) -> pd.DataFrame:
        """Breadth, concentration and spend shares of the named categories."""
        con = self.con
        base = con.execute("""
            WITH c AS (SELECT cust, cat, sum(amount) AS spend FROM h WHERE amount > 0 AND cat IS NOT NULL GROUP BY 1, 2),
                 t AS (SELECT cust, sum(spend) AS total, max(spend) AS biggest, count(*)::DOUBLE AS n FROM c GROUP BY 1)
            SELECT cust, n AS category_count, biggest / nullif(total, 0) AS top_category_share FROM t
        """).df()
        if not categories:
            return base
        con.execute("CREATE OR REPLACE TEMP TABLE wanted(cat VARCHAR, k INTEGER)")
        con.executemany("INSERT INTO wanted VALUES (?, ?)", [(str(c), i) for i, c in enumerate(categories)])
        long = con.execute("""
            WITH t AS (SELECT cust, sum(amount) AS total FROM h WHERE amount > 0 GROUP BY 1)
            SELECT h.cust, w.k, sum(h.amount) / any_value(t.total) AS share
            FROM h JOIN wanted w ON h.cat = w.cat JOIN t ON t.cust = h.cust
            WHERE h.amount > 0 GROUP BY 1, 2
        """).df()
        wide = long.pivot(index="cust", columns="k", values="share") if len(long) else \
            pd.DataFrame(index=pd.Index([], name="cust"))
        wide = wide.reindex(columns=range(len(categories))).fillna(0.0)
        wide.columns = [f"category_share_{_slug(c)}" for c in categories]
        return base.merge(wide.reset_index(), on="cust", how="left")

    def labels(self, cutoff: Any, *, horizon_days: int = 90) -> pd.Series:
        cut = _ts(cutoff)
        end = cut + pd.Timedelta(days=horizon_days)
        last = self.last_order_at()
        # The label window must be fully observed, or quiet customers near the end look like churners.
        if last is None or last < end - pd.Timedelta(days=1):
            raise ValidationFailed(
                f"churn labels for cutoff {cut.date()} need orders up to {end.date()} ({horizon_days} days later), "
                f"but the last order is on {last.date() if last is not None else 'none'}",
                hint="Pick an earlier cutoff (or a shorter horizon); to score customers today use "
                     "transactional_churn_features, which needs no labels.")
        y = self.con.execute("""
            WITH o AS (SELECT cust, oid, min(ts) AS ts,
                              sum(CASE WHEN amount > 0 AND coalesce(qty, 1) >= 0 THEN amount ELSE 0 END) AS gross
                       FROM l WHERE ts < $end GROUP BY cust, oid),
                 p AS (SELECT cust, ts FROM o WHERE gross > 0)
            SELECT cust, CASE WHEN count(*) FILTER (WHERE ts >= $cut) > 0 THEN 0 ELSE 1 END AS churn
            FROM p GROUP BY cust HAVING min(ts) < $cut
        """, {"cut": cut, "end": end}).df()
        s = y.set_index("cust")["churn"].sort_index().astype(np.int8)
        s.index.name = self.customer_col
        s.name = "churn"
        return s


def _join(frame: pd.DataFrame, extra: pd.DataFrame, *, counts: list[str]) -> pd.DataFrame:
    if len(extra) and extra["cust"].dtype != frame["cust"].dtype:
        extra["cust"] = extra["cust"].astype(frame["cust"].dtype)
    out = frame.merge(extra, on="cust", how="left")
    out[counts] = out[counts].fillna(0.0)  # no feedback / no contact is a real zero, not unknown
    return out


# Per-order totals first (a purchase is an order whose positive lines sum above zero), then per-customer
# aggregates. Gaps are between distinct purchase days, so two orders on one day are one visit.
_CORE_SQL = f"""
WITH o AS (
  SELECT cust, oid, min(ts) AS ts,
         sum(CASE WHEN amount > 0 AND coalesce(qty, 1) >= 0 THEN amount ELSE 0 END) AS gross,
         sum(CASE WHEN amount < 0 OR coalesce(qty, 0) < 0 THEN abs(amount) ELSE 0 END) AS returned,
         count(*) FILTER (WHERE amount > 0 AND coalesce(qty, 1) >= 0)::DOUBLE AS n_lines,
         sum(CASE WHEN qty > 0 THEN qty ELSE 0 END) AS items
  FROM h GROUP BY cust, oid
),
p AS (SELECT * FROM o WHERE gross > 0),
d AS (SELECT DISTINCT cust, CAST(ts AS DATE) AS day FROM p),
g AS (
  SELECT cust, day,
         datediff('day', lag(day) OVER (PARTITION BY cust ORDER BY day), day)::DOUBLE AS gap,
         row_number() OVER (PARTITION BY cust ORDER BY day DESC) AS back
  FROM d
),
gs AS (
  SELECT cust, count(*)::DOUBLE AS purchase_days,
         count(DISTINCT date_trunc('month', day)) FILTER (WHERE day >= CAST($cut - INTERVAL 365 DAY AS DATE))::DOUBLE
           AS active_months_12m,
         median(gap) AS median_gap_days, avg(gap) AS mean_gap_days,
         max(gap) FILTER (WHERE back = 1) AS last_gap_days,
         avg(gap) FILTER (WHERE back > 1) AS earlier_gap
  FROM g GROUP BY cust
),
r AS (
  SELECT cust, sum(returned) AS returned, count(*) FILTER (WHERE returned > 0)::DOUBLE AS return_orders,
         sum(gross) AS gross_all
  FROM o GROUP BY cust
),
a AS (
  SELECT cust,
         (epoch($cut) - epoch(max(ts))) / {DAY} AS days_since_last_purchase,
         (epoch($cut) - epoch(min(ts))) / {DAY} AS days_since_first_purchase,
         count(*)::DOUBLE AS order_count,
         count(*) FILTER (WHERE ts >= $cut - INTERVAL 30 DAY)::DOUBLE AS orders_30d,
         count(*) FILTER (WHERE ts >= $cut - INTERVAL 90 DAY)::DOUBLE AS orders_90d,
         count(*) FILTER (WHERE ts >= $cut - INTERVAL 180 DAY AND ts < $cut - INTERVAL 90 DAY)::DOUBLE
           AS orders_90d_prev,
         coalesce(sum(gross) FILTER (WHERE ts >= $cut - INTERVAL 90 DAY), 0) AS spend_90d,
         avg(gross) AS avg_order_value,
         avg(n_lines) AS avg_basket_lines,
         {{basket_items}} AS avg_basket_items
  FROM p GROUP BY cust
)
SELECT a.cust,
       a.days_since_last_purchase,
       a.days_since_last_purchase / nullif(gs.median_gap_days, 0) AS recency_over_gap,
       a.days_since_first_purchase,
       a.order_count, gs.purchase_days, gs.active_months_12m, a.orders_30d, a.orders_90d, a.orders_90d_prev,
       -- smoothed relative change of the order rate, last 90 days against the 90 before
       (a.orders_90d + 1) / (a.orders_90d_prev + 1) - 1 AS order_trend,
       gs.median_gap_days, gs.mean_gap_days, gs.last_gap_days,
       gs.last_gap_days / nullif(gs.earlier_gap, 0) AS gap_trend,
       r.gross_all - r.returned AS net_spend,
       a.spend_90d, a.avg_order_value, a.avg_basket_lines, a.avg_basket_items,
       coalesce(r.returned / nullif(r.gross_all, 0), 0) AS returns_share,
       r.return_orders
FROM a JOIN r USING (cust) LEFT JOIN gs USING (cust)
"""


def _split(kw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(order-line column names, everything else)."""
    return {k: v for k, v in kw.items() if k in _LINE_KEYS}, {k: v for k, v in kw.items() if k not in _LINE_KEYS}


def transactional_churn_features(
    orders: Any,
    *,
    customer_col: str = "customer_id",
    date_col: str = "ordered_at",
    amount_col: str = "amount",
    cutoff: Any,
    order_col: str | None = None,
    quantity_col: str | None = None,
    returned_col: str | None = None,
    category_col: str | None = None,
    categories: list[Any] | None = None,
    top_categories: int = 8,
    feedback: Any = None,
    feedback_customer_col: str = "customer_id",
    feedback_date_col: str = "created_at",
    feedback_score_col: str = "sentiment_score",
    negative_below: float = 0.0,
    contacts: Any = None,
    contacts_customer_col: str = "customer_id",
    contacts_date_col: str = "created_at",
) -> pd.DataFrame:
    """One row per customer with a purchase before ``cutoff``: RFM, gaps and trend, baskets, returns, categories, feedback, contacts.

    ``orders`` is a pandas DataFrame or pyarrow Table of order lines (or orders, with ``returned_col``);
    ``feedback`` (customer, date, score) and ``contacts`` (customer, date) are optional tables. Category
    shares are for ``categories``, or the ``top_categories`` biggest by spend before the cutoff.
    """
    with _History(orders, customer_col=customer_col, date_col=date_col, amount_col=amount_col, order_col=order_col,
                  quantity_col=quantity_col, returned_col=returned_col, category_col=category_col) as hist:
        return hist.features(
            cutoff, categories=categories, top_categories=top_categories, feedback=feedback,
            feedback_customer_col=feedback_customer_col, feedback_date_col=feedback_date_col,
            feedback_score_col=feedback_score_col, negative_below=negative_below, contacts=contacts,
            contacts_customer_col=contacts_customer_col, contacts_date_col=contacts_date_col)


def transactional_churn_labels(
    orders: Any,
    *,
    customer_col: str = "customer_id",
    date_col: str = "ordered_at",
    amount_col: str = "amount",
    cutoff: Any,
    horizon_days: int = 90,
    order_col: str | None = None,
    quantity_col: str | None = None,
) -> pd.Series:
    """1 for each customer with a purchase before ``cutoff`` and none in the ``horizon_days`` after it, else 0."""
    with _History(orders, customer_col=customer_col, date_col=date_col, amount_col=amount_col, order_col=order_col,
                  quantity_col=quantity_col) as hist:
        return hist.labels(cutoff, horizon_days=horizon_days)


def transactional_churn_frame(
    orders: Any,
    *,
    customer_col: str = "customer_id",
    date_col: str = "ordered_at",
    amount_col: str = "amount",
    cutoff: Any,
    horizon_days: int = 90,
    **feature_kw: Any,
) -> tuple[pd.DataFrame, pd.Series]:
    """(X, y) at one cutoff: features from history before it, y = 1 when no purchase in the next ``horizon_days``."""
    X, y = stacked_churn_frame(orders, cutoffs=[cutoff], customer_col=customer_col, date_col=date_col,
                               amount_col=amount_col, horizon_days=horizon_days, **feature_kw)
    return X.droplevel("cutoff"), y.droplevel("cutoff")


def churn_cutoffs(as_of: Any, *, horizon_days: int = 90, n: int = 3, spacing_days: int | None = None) -> list[pd.Timestamp]:
    """Past cutoffs whose label windows end by ``as_of``: as_of - horizon, then every ``spacing_days`` earlier."""
    end = _ts(as_of)
    step = pd.Timedelta(days=spacing_days or horizon_days)
    first = end - pd.Timedelta(days=horizon_days)
    return [first - k * step for k in range(n)]


def stacked_churn_frame(orders: Any, *, cutoffs: list[Any], horizon_days: int = 90,
                        **kw: Any) -> tuple[pd.DataFrame, pd.Series]:
    """(X, y) of several cutoffs stacked, index (cutoff, customer); the orders are parsed once for all of them.

    Keyword arguments are those of ``transactional_churn_features``. Category columns are fixed by the
    latest cutoff, so every stacked row means the same thing.
    """
    line_kw, feature_kw = _split(kw)
    with _History(orders, **line_kw) as hist:
        return _stacked(hist, [_ts(c) for c in cutoffs], horizon_days, feature_kw)


def _stacked(hist: _History, cutoffs: list[pd.Timestamp], horizon_days: int,
             feature_kw: dict[str, Any]) -> tuple[pd.DataFrame, pd.Series]:
    cutoffs = sorted(cutoffs, reverse=True)
    feature_kw = dict(feature_kw)
    if hist.has_category and feature_kw.get("categories") is None:
        feature_kw["categories"] = hist.top_categories(cutoffs[0], feature_kw.get("top_categories", 8))
    parts_X, parts_y = [], []
    for c in cutoffs:
        X = hist.features(c, **feature_kw)
        y = hist.labels(c, horizon_days=horizon_days).reindex(X.index).astype(np.int8)
        idx = pd.MultiIndex.from_arrays([np.repeat(c, len(X)), X.index], names=["cutoff", X.index.name])
        parts_X.append(X.set_axis(idx))
        parts_y.append(y.set_axis(idx))
    return pd.concat(parts_X), pd.concat(parts_y).astype(np.int8)


def train_transactional_churn(
    orders: Any,
    *,
    customer_col: str = "customer_id",
    date_col: str = "ordered_at",
    amount_col: str = "amount",
    as_of: Any = None,
    horizon_days: int = 90,
    n_cutoffs: int = 3,
    model: Any = None,
    **feature_kw: Any,
):
    """A ChurnModel trained on ``n_cutoffs`` past cutoffs stacked (as_of - horizon, - 2 horizons, ...).

    ``as_of`` defaults to the day after the last order. The model remembers the column names and
    category list in ``feature_kw_`` so ``score_transactional_churn`` builds the same features.
    """
    from aicrm.ml.churn import ChurnModel

    line_kw, extra_kw = _split({"customer_col": customer_col, "date_col": date_col, "amount_col": amount_col,
                                **feature_kw})
    with _History(orders, **line_kw) as hist:
        last = hist.last_order_at()
        if last is None:
            raise ValidationFailed(f"no order with a readable date in column '{date_col}' and a customer",
                                   hint="Check the column names and the date format (YYYY-MM-DD HH:MM:SS).")
        as_of = _ts(as_of) if as_of is not None else last.normalize() + pd.Timedelta(days=1)
        cutoffs = churn_cutoffs(as_of, horizon_days=horizon_days, n=n_cutoffs)
        if hist.has_category and extra_kw.get("categories") is None:
            extra_kw["categories"] = hist.top_categories(cutoffs[0], extra_kw.get("top_categories", 8))
        X, y = _stacked(hist, cutoffs, horizon_days, extra_kw)
    if len(X) == 0:
        raise ValidationFailed(f"no customer has a purchase before {min(cutoffs).date()}",
                               hint="Churn training needs order history older than the horizon; use fewer cutoffs "
                                    "or a shorter horizon.")
    model = model if model is not None else ChurnModel()
    model.fit(X.reset_index(drop=True), y.reset_index(drop=True).rename("churn"))
    model.training_cutoffs_ = [c.isoformat() for c in cutoffs]
    model.horizon_days_ = horizon_days
    model.as_of_ = as_of.isoformat()
    model.feature_kw_ = {**line_kw, **{k: v for k, v in extra_kw.items() if k not in ("feedback", "contacts")}}
    return model


def score_transactional_churn(model: Any, orders: Any, *, as_of: Any = None, top: int = 3,
                              feedback: Any = None, contacts: Any = None) -> pd.DataFrame:
    """Every customer with a purchase before ``as_of`` (default: the day after the last order): probability, band, reasons."""
    from aicrm.ml.churn import score_customers

    line_kw, extra_kw = _split(dict(getattr(model, "feature_kw_", {})))
    with _History(orders, **line_kw) as hist:
        if as_of is None:
            last = hist.last_order_at()
            if last is None:
                raise ValidationFailed("no order with a readable date and a customer to score",
                                       hint="Check the orders table the scoring job passed in.")
            as_of = last.normalize() + pd.Timedelta(days=1)
        as_of = _ts(as_of)
        X = hist.features(as_of, feedback=feedback, contacts=contacts, **extra_kw)
    out = score_customers(model, X, top=top)
    out["as_of"] = as_of
    return out
