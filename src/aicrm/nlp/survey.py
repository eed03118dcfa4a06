"""Survey metrics over tables: NPS, CSAT and the drivers of dissatisfaction.

NPS (Reichheld 2003): on a 0-10 "would you recommend" scale, % promoters (9-10) minus % detractors (0-6),
from -100 to 100. CSAT: the share of satisfied answers (4-5 on a 1-5 scale), in %.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.api.types import is_numeric_dtype
from scipy import stats

from aicrm.core.errors import ValidationFailed


def _ratings(table: pd.DataFrame, rating_col: str, lo: float, hi: float) -> pd.Series:
    if rating_col not in table.columns:
        raise ValidationFailed(
            f"no column {rating_col!r} in the table", hint=f"Columns are: {', '.join(map(str, table.columns))}."
        )
    values = table[rating_col] if is_numeric_dtype(table[rating_col]) else pd.to_numeric(table[rating_col], errors="coerce")
    bad = values.notna() & ((values < lo) | (values > hi))
    if bad.any():
        first = bad.idxmax()
        raise ValidationFailed(
            f"column {rating_col!r} has {int(bad.sum())} ratings outside {lo:g}-{hi:g} (first at row {first}: {values[first]})",
            hint="Check the rating scale: NPS uses 0-10, CSAT 1-5.",
        )
    return values


def nps(table: pd.DataFrame, *, rating_col: str = "rating", by: str | list[str] | None = None) -> pd.DataFrame:
    """Net Promoter Score (overall, or per ``by`` group): responses, promoters, passives, detractors (%), nps."""
    values = _ratings(table, rating_col, 0, 10)
    frame = pd.DataFrame(
        {
            "promoter": (values >= 9).astype(float),
            "passive": values.between(7, 8, inclusive="both").astype(float),
            "detractor": (values <= 6).astype(float),
        }
    )[values.notna()]
    keys = [by] if isinstance(by, str) else (by or [])
    for key in keys:
        frame[key] = table.loc[frame.index, key]
    grouped = frame.groupby(keys, sort=True) if keys else frame.groupby(np.zeros(len(frame), dtype=int))
    out = grouped.agg(
        responses=("promoter", "size"), promoters=("promoter", "mean"), passives=("passive", "mean"), detractors=("detractor", "mean")
    )
    for col in ("promoters", "passives", "detractors"):
        out[col] = (100 * out[col]).round(2)
    out["nps"] = (out["promoters"] - out["detractors"]).round(2)
    return out.reset_index() if keys else out.reset_index(drop=True)


def csat(
    table: pd.DataFrame, *, rating_col: str = "rating", by: str | list[str] | None = None, satisfied_min: float = 4, scale_max: float = 5
) -> pd.DataFrame:
    """Customer satisfaction (overall, or per ``by`` group): responses, mean_rating and csat (% of ratings ≥ 4)."""
    values = _ratings(table, rating_col, 1, scale_max)
    frame = pd.DataFrame({"rating": values, "satisfied": (values >= satisfied_min).astype(float)})[values.notna()]
    keys = [by] if isinstance(by, str) else (by or [])
    for key in keys:
        frame[key] = table.loc[frame.index, key]
    grouped = frame.groupby(keys, sort=True) if keys else frame.groupby(np.zeros(len(frame), dtype=int))
    out = grouped.agg(responses=("rating", "size"), mean_rating=("rating", "mean"), csat=("satisfied", "mean"))
    out["mean_rating"] = out["mean_rating"].round(3)
    out["csat"] = (100 * out["csat"]).round(2)
    return out.reset_index() if keys else out.reset_index(drop=True)


def dissatisfaction_drivers(
    table: pd.DataFrame,
    *,
    topic_col: str = "topic",
    rating_col: str = "rating",
    low_max: float | None = None,
    min_count: int = 5,
) -> pd.DataFrame:
    """Topics ranked by how strongly they go with low ratings.

    Per topic: count, mean_rating, rating_diff (topic mean minus the mean of all other answers), low_share
    (share of ratings ≤ ``low_max``; default 2 on a 1-5 scale, 6 on 0-10), lift (low_share over the overall
    low share) and p_value (Welch's t-test of the topic's ratings against all others). Sorted by
    rating_diff, most negative first; topics with fewer than ``min_count`` answers are left out.
    """
    for col in (topic_col, rating_col):
        if col not in table.columns:
            raise ValidationFailed(f"no column {col!r} in the table", hint=f"Columns are: {', '.join(map(str, table.columns))}.")
    ratings = table[rating_col] if is_numeric_dtype(table[rating_col]) else pd.to_numeric(table[rating_col], errors="coerce")
    frame = pd.DataFrame({"topic": table[topic_col], "rating": ratings}).dropna()
    if frame.empty:
        return pd.DataFrame(columns=["topic", "count", "mean_rating", "rating_diff", "low_share", "lift", "p_value"])
    if low_max is None:
        low_max = 2 if frame["rating"].max() <= 5 else 6
    frame["low"] = (frame["rating"] <= low_max).astype(float)
    overall_low = frame["low"].mean()
    rows = []
    for topic, group in frame.groupby("topic", sort=True):
        if len(group) < min_count:
            continue
        others = frame.loc[frame["topic"] != topic, "rating"]
        p_value = np.nan
        if len(others) >= 2 and len(group) >= 2 and (group["rating"].var() > 0 or others.var() > 0):
            p_value = float(stats.ttest_ind(group["rating"], others, equal_var=False).pvalue)
        rows.append(
            {
                "topic": topic,
                "count": int(len(group)),
                "mean_rating": round(float(group["rating"].mean()), 3),
                "rating_diff": round(float(group["rating"].mean() - others.mean()), 3) if len(others) else 0.0,
                "low_share": round(float(group["low"].mean()), 4),
                "lift": round(float(group["low"].mean() / overall_low), 3) if overall_low > 0 else np.nan,
                "p_value": p_value,
            }
        )
    out = pd.DataFrame(rows, columns=["topic", "count", "mean_rating", "rating_diff", "low_share", "lift", "p_value"])
    return out.sort_values(["rating_diff", "count"], ascending=[True, False]).reset_index(drop=True)
