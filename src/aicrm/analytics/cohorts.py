"""Acquisition cohorts: the share of each first-purchase cohort that buys again in each later period."""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
import pandas as pd

from aicrm.analytics.rfm import _q, _require
from aicrm.core.errors import ValidationFailed

# DuckDB truncation unit and the expression for "periods between cohort start c and period start p".
_PERIODS = {
    "D": ("day", "date_diff('day', c, p)"),
    "W": ("week", "date_diff('day', c, p) // 7"),  # ISO weeks, starting on Monday
    "M": ("month", "(year(p) - year(c)) * 12 + month(p) - month(c)"),
    "Q": ("quarter", "(year(p) - year(c)) * 4 + quarter(p) - quarter(c)"),
    "Y": ("year", "year(p) - year(c)"),
}


def _label(start: pd.Timestamp, period: str) -> str:
    if period == "M":
        return start.strftime("%Y-%m")
    if period == "Q":
        return f"{start.year}Q{(start.month - 1) // 3 + 1}"
    if period == "Y":
        return str(start.year)
    return start.strftime("%Y-%m-%d")


def cohort_retention(
    orders: Any,
    *,
    customer_col: str = "customer_id",
    date_col: str = "ordered_at",
    period: str = "M",
    as_counts: bool = False,
) -> pd.DataFrame:
    """Rows: first-purchase cohorts; column ``customers`` (cohort size), then 0, 1, 2 … periods since: share active."""
    # A customer is "active" in a period if they bought at least once in it; period 0 is the cohort's
    # own period, so its share is 1 by definition. Cells after the data's last period are NaN (not
    # yet observable), not 0, so young cohorts are not mistaken for churned ones.
    if period not in _PERIODS:
        raise ValidationFailed(f"period '{period}' is not one of {sorted(_PERIODS)}",
                               hint="Use 'M' (months), 'W' (ISO weeks), 'Q', 'Y' or 'D'.")
    _require(orders, {"customer_col": customer_col, "date_col": date_col})
    unit, diff = _PERIODS[period]
    cust = _q(customer_col)
    sql = f"""
        WITH t AS (
            SELECT DISTINCT {cust} AS cust, CAST(date_trunc('{unit}', CAST({_q(date_col)} AS DATE)) AS DATE) AS p
            FROM orders_in WHERE {cust} IS NOT NULL AND {_q(date_col)} IS NOT NULL
        ), f AS (SELECT cust, MIN(p) AS c FROM t GROUP BY cust)
        SELECT c AS cohort, {diff} AS k, COUNT(*) AS active
        FROM t JOIN f USING (cust)
        GROUP BY ALL ORDER BY cohort, k
    """
    con = duckdb.connect()
    try:
        con.register("orders_in", orders)
        long = con.execute(sql).df()
        last = con.execute(f"SELECT CAST(date_trunc('{unit}', MAX(CAST({_q(date_col)} AS DATE))) AS DATE) "
                           f"FROM orders_in WHERE {cust} IS NOT NULL").fetchone()[0]
    except (duckdb.ConversionException, duckdb.InvalidInputException, duckdb.BinderException) as exc:
        raise ValidationFailed(f"cannot read column '{date_col}' as dates: {exc}",
                               hint="Convert it with pandas.to_datetime first.") from exc
    finally:
        con.close()
    if long.empty:
        raise ValidationFailed("no orders with a customer and a date", hint="Check the customer and date columns.")
    wide = long.pivot(index="cohort", columns="k", values="active")
    horizon = int(long["k"].max())
    wide = wide.reindex(columns=range(horizon + 1))
    sizes = wide[0].astype("int64")
    cohorts = pd.to_datetime(wide.index)
    last_ts = pd.Timestamp(last)
    # number of whole periods from each cohort to the last period in the data
    if period == "M":
        observable = (last_ts.year - cohorts.year) * 12 + last_ts.month - cohorts.month
    elif period == "Q":
        observable = (last_ts.year - cohorts.year) * 4 + last_ts.quarter - cohorts.quarter
    elif period == "Y":
        observable = last_ts.year - cohorts.year
    elif period == "W":
        observable = (last_ts - cohorts).days // 7
    else:
        observable = (last_ts - cohorts).days
    observable = np.asarray(observable)
    values = wide.fillna(0).to_numpy(dtype="float64", copy=True)
    ks = np.arange(horizon + 1)
    values[ks[None, :] > observable[:, None]] = np.nan
    if not as_counts:
        values = values / sizes.to_numpy(dtype="float64")[:, None]
    out = pd.DataFrame(values, columns=list(ks), index=[_label(ts, period) for ts in cohorts])
    out.index.name = "cohort"
    out.insert(0, "customers", sizes.to_numpy())
    return out
