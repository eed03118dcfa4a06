"""Recency-frequency-monetary tables, quintile scores and the standard named RFM segments.

Pure functions: tables in, tables out. The aggregation runs in DuckDB (multi-threaded, columnar), so
20 M order lines for 1 M customers take seconds, not minutes; the input may be a pandas DataFrame or a
pyarrow Table.
"""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
import pandas as pd

from aicrm.core.errors import ValidationFailed

SEGMENTS = (
    "Champions", "Loyal", "Potential loyalist", "New", "Promising", "Need attention",
    "About to sleep", "At risk", "Cannot lose them", "Hibernating", "Lost",
)

# The R x FM grid (rows: recency score 1..5, columns: FM score 1..5, FM = average of F and M scores).
# Source: the segment map popularised by Guillaume Martin, "RFM Segmentation" (2019,
# guillaume-martin.github.io/rfm-segments.html) and reproduced in many RFM notebooks, where it is keyed
# on the R and F scores: [1-2][1-2] hibernating, [1-2][3-4] at risk, [1-2]5 can't lose them,
# 3[1-2] about to sleep, 33 need attention, [3-4][4-5] loyal, 41 promising, 51 new,
# [4-5][2-3] potential loyalists, 5[4-5] champions. Here it is keyed on R and FM = mean(F, M), the
# R x FM form used with the eleven Putler segment names; the eleventh, "Lost" (lowest recency,
# frequency and money in Putler's list), takes the R=1 half of the hibernating block.
_GRID = np.array([
    # FM=1             FM=2                  FM=3                  FM=4         FM=5
    ["Lost",           "Lost",               "At risk",            "At risk",   "Cannot lose them"],  # R=1
    ["Hibernating",    "Hibernating",        "At risk",            "At risk",   "Cannot lose them"],  # R=2
    ["About to sleep", "About to sleep",     "Need attention",     "Loyal",     "Loyal"],             # R=3
    ["Promising",      "Potential loyalist", "Potential loyalist", "Loyal",     "Loyal"],             # R=4
    ["New",            "Potential loyalist", "Potential loyalist", "Champions", "Champions"],         # R=5
], dtype=object)


def _as_timestamp(value: Any, name: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(f"{name}: '{value}' is not a date", hint="Give dates as YYYY-MM-DD.") from exc
    return ts


def _columns_of(table: Any) -> list[str]:
    if isinstance(table, pd.DataFrame):
        return [str(c) for c in table.columns]
    names = getattr(table, "column_names", None) or getattr(table, "columns", None)
    if names is None:
        raise ValidationFailed(f"expected a table (pandas DataFrame or pyarrow Table), got {type(table).__name__}",
                               hint="Load the orders into a DataFrame first.")
    return [str(c) for c in names]


def _require(table: Any, cols: dict[str, str | None]) -> None:
    present = _columns_of(table)
    missing = [f"{arg}='{c}'" for arg, c in cols.items() if c is not None and c not in present]
    if missing:
        raise ValidationFailed(f"the table has no column(s) {', '.join(missing)}",
                               hint=f"Name the columns with keyword arguments; the table has {present}.")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def rfm_table(
    orders: Any,
    *,
    customer_col: str = "customer_id",
    date_col: str = "ordered_at",
    amount_col: str | None = "amount",
    order_col: str | None = None,
    as_of: Any = None,
) -> pd.DataFrame:
    """One row per customer: recency_days, frequency, monetary, tenure_days, first and last purchase."""
    # frequency counts distinct purchase *days* (several orders on one day are one visit, as in the
    # CLV models' protocol); pass order_col to count distinct orders instead. monetary is the total
    # spend up to as_of (refunds, negative amounts, are netted). Orders after as_of are ignored, so
    # the table can be rebuilt as of any past date; as_of defaults to the last order date.
    _require(orders, {"customer_col": customer_col, "date_col": date_col, "amount_col": amount_col,
                      "order_col": order_col})
    cust, day = _q(customer_col), f"CAST({_q(date_col)} AS DATE)"
    amount = f"COALESCE(SUM(CAST({_q(amount_col)} AS DOUBLE)), 0)" if amount_col else "0.0"
    freq = f"COUNT(DISTINCT {_q(order_col)})" if order_col else f"COUNT(DISTINCT {day})"
    con = duckdb.connect()
    try:
        con.register("orders_in", orders)
        if as_of is None:
            as_of_day = con.execute(f"SELECT MAX({day}) FROM orders_in WHERE {cust} IS NOT NULL").fetchone()[0]
            if as_of_day is None:
                raise ValidationFailed("the orders table has no dated orders with a customer",
                                       hint="Check the customer and date columns.")
        else:
            as_of_day = _as_timestamp(as_of, "as_of").date()
        sql = f"""
            SELECT {cust} AS {_q(customer_col)},
                   date_diff('day', MAX({day}), ?::DATE) AS recency_days,
                   {freq} AS frequency,
                   {amount} AS monetary,
                   date_diff('day', MIN({day}), ?::DATE) AS tenure_days,
                   MIN({day}) AS first_purchase,
                   MAX({day}) AS last_purchase
            FROM orders_in
            WHERE {cust} IS NOT NULL AND {_q(date_col)} IS NOT NULL AND {day} <= ?::DATE
            GROUP BY {cust}
            ORDER BY {cust}
        """
        out = con.execute(sql, [as_of_day, as_of_day, as_of_day]).df()
    except (duckdb.ConversionException, duckdb.InvalidInputException, duckdb.BinderException) as exc:
        raise ValidationFailed(f"cannot read column '{date_col}' as dates or '{amount_col}' as numbers: {exc}",
                               hint="Convert dates with pandas.to_datetime and amounts to numbers first.") from exc
    finally:
        con.close()
    for col in ("recency_days", "frequency", "tenure_days"):
        out[col] = out[col].astype("int64")
    out.attrs["as_of"] = str(pd.Timestamp(as_of_day).date())
    return out


def quintile_score(values: pd.Series | np.ndarray, *, higher_is_better: bool = True) -> np.ndarray:
    """Scores 1-5 by quintile of each value's mid-rank; equal values always share a score."""
    # Mid-ranks (average rank of a tie block) keep ties together, so a variable with fewer than five
    # distinct values, or one value held by most customers (frequency = 1), still gets sensible
    # scores: a block is scored by where its middle falls; if every value is equal all score 3.
    s = pd.Series(np.asarray(values, dtype="float64"))
    if not higher_is_better:
        s = -s
    n = int(s.notna().sum())
    if n == 0:
        return np.full(len(s), np.nan)
    mid = (s.rank(method="average") - 0.5) / n
    scores = np.floor(mid.to_numpy() * 5.0) + 1.0
    return np.clip(scores, 1, 5)


def rfm_segment(r: Any, fm: Any) -> Any:
    """The named segment of recency score ``r`` and frequency-monetary score ``fm`` (both 1-5; scalars or arrays)."""
    r_arr, fm_arr = np.asarray(r), np.asarray(fm)
    if np.any((r_arr < 1) | (r_arr > 5) | (fm_arr < 1) | (fm_arr > 5)):
        raise ValidationFailed("RFM scores must be between 1 and 5", hint="Score with rfm_scores first.")
    out = _GRID[r_arr.astype(int) - 1, fm_arr.astype(int) - 1]
    return out if isinstance(out, np.ndarray) else str(out)


def rfm_scores(
    rfm: pd.DataFrame,
    *,
    recency_col: str = "recency_days",
    frequency_col: str = "frequency",
    monetary_col: str = "monetary",
) -> pd.DataFrame:
    """The RFM table plus r_score, f_score, m_score, fm_score (1-5), rfm_cell ('545') and segment."""
    _require(rfm, {"recency_col": recency_col, "frequency_col": frequency_col, "monetary_col": monetary_col})
    out = rfm.copy()
    if out.empty:
        for col in ("r_score", "f_score", "m_score", "fm_score"):
            out[col] = pd.Series(dtype="int64")
        out["rfm_cell"] = pd.Series(dtype="str")
        out["segment"] = pd.Series(dtype="str")
        return out
    for col in (recency_col, frequency_col, monetary_col):
        if out[col].isna().any():
            raise ValidationFailed(f"column '{col}' has {int(out[col].isna().sum())} missing value(s)",
                                   hint="Fill or drop them before scoring.")
    r = quintile_score(out[recency_col], higher_is_better=False).astype("int64")
    f = quintile_score(out[frequency_col]).astype("int64")
    m = quintile_score(out[monetary_col]).astype("int64")
    # FM is the mean of F and M, rounded half up (4 and 5 -> 5), as in the R x FM grid's source.
    fm = (f + m + 1) // 2
    out["r_score"], out["f_score"], out["m_score"], out["fm_score"] = r, f, m, fm
    out["rfm_cell"] = (r * 100 + f * 10 + m).astype(str)
    out["segment"] = rfm_segment(r, fm)
    return out


def segment_summary(scored: pd.DataFrame, *, monetary_col: str = "monetary") -> pd.DataFrame:
    """Customers, share of customers and share of money per named segment, in the order of SEGMENTS."""
    _require(scored, {"segment": "segment", "monetary_col": monetary_col})
    total_n = len(scored)
    total_m = float(scored[monetary_col].sum())
    g = scored.groupby("segment")[monetary_col].agg(["size", "sum"]).reindex(list(SEGMENTS)).fillna(0)
    return pd.DataFrame({
        "segment": list(SEGMENTS),
        "customers": g["size"].astype("int64").to_numpy(),
        "share_customers": (g["size"] / total_n).to_numpy() if total_n else 0.0,
        "share_monetary": (g["sum"] / total_m).to_numpy() if total_m else 0.0,
    })
