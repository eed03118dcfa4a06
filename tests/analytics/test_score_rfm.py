"""RFM tables, quintile scores and the R x FM segment grid on hand-computed data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from aicrm.analytics import SEGMENTS, quintile_score, rfm_scores, rfm_segment, rfm_table, segment_summary
from aicrm.core.errors import ValidationFailed

ORDERS = pd.DataFrame(
    [
        ("a", "o1", "2024-01-01 10:00", 10.0),
        ("a", "o2", "2024-01-01 18:00", 5.0),   # same day: one purchase day, two orders
        ("a", "o3", "2024-03-01", 20.0),
        ("b", "o4", "2024-02-15", 100.0),
        ("b", "o5", "2024-02-20", -30.0),       # a refund nets off
        ("c", "o6", "2024-03-31", 7.5),
        ("c", "o7", "2024-04-02", 1.0),         # after as_of in the as_of test
        (None, "o8", "2024-03-01", 50.0),       # no customer: ignored
    ],
    columns=["cust", "order", "at", "amount"],
)
ORDERS["at"] = pd.to_datetime(ORDERS["at"], format="ISO8601")


def test_rfm_table__hand_computed():
    t = rfm_table(ORDERS, customer_col="cust", date_col="at").set_index("cust")
    assert t.attrs["as_of"] == "2024-04-02"
    assert t.loc["a"].to_dict() | {} == {
        "recency_days": 32, "frequency": 2, "monetary": 35.0, "tenure_days": 92,
        "first_purchase": pd.Timestamp("2024-01-01"), "last_purchase": pd.Timestamp("2024-03-01")}
    assert (t.loc["b", "frequency"], t.loc["b", "monetary"], t.loc["b", "recency_days"]) == (2, 70.0, 42)
    assert list(t.index) == ["a", "b", "c"]


def test_rfm_table__as_of_orders_and_arrow_input():
    t = rfm_table(pa.Table.from_pandas(ORDERS), customer_col="cust", date_col="at", order_col="order",
                  as_of="2024-03-31").set_index("cust")
    assert t.loc["a", "frequency"] == 3          # distinct orders, not days
    assert t.loc["c", "monetary"] == 7.5         # the 04-02 order is after as_of
    assert t.loc["c", "recency_days"] == 0 and t.loc["a", "recency_days"] == 30


def test_rfm_table__refuses_missing_columns():
    with pytest.raises(ValidationFailed, match="date_col='when'"):
        rfm_table(ORDERS, customer_col="cust", date_col="when")


def test_quintile_score__ties_and_few_distinct_values():
    assert list(quintile_score(np.arange(10))) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert list(quintile_score(np.arange(10), higher_is_better=False)) == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    assert set(quintile_score(np.full(7, 3.0))) == {3}            # no information: everyone average
    two = quintile_score(np.array([1, 1, 1, 1, 2, 2, 2, 2]))
    assert list(two) == [2] * 4 + [4] * 4                       # equal values always share a score
    # most customers bought once: the block of ones scores low, repeaters above it
    freq = np.array([1] * 60 + [2] * 20 + [3] * 10 + [5] * 5 + [9] * 5)
    scores = quintile_score(freq)
    assert scores[freq == 1].tolist() == [2] * 60
    assert np.all(np.diff(scores[np.argsort(freq, kind="stable")]) >= 0)
    assert scores.max() == 5


def test_rfm_segment__grid_corners_and_every_name():
    assert rfm_segment(5, 5) == "Champions"
    assert rfm_segment(5, 1) == "New"
    assert rfm_segment(4, 1) == "Promising"
    assert rfm_segment(3, 3) == "Need attention"
    assert rfm_segment(1, 5) == "Cannot lose them"
    assert rfm_segment(1, 1) == "Lost"
    assert rfm_segment(2, 2) == "Hibernating"
    assert rfm_segment(3, 1) == "About to sleep"
    assert rfm_segment(2, 3) == "At risk"
    r, fm = np.meshgrid(np.arange(1, 6), np.arange(1, 6))
    names = rfm_segment(r.ravel(), fm.ravel())
    assert set(names) == set(SEGMENTS)
    with pytest.raises(ValidationFailed):
        rfm_segment(0, 3)


def test_rfm_scores__columns_and_summary():
    rng = np.random.default_rng(0)
    n = 5000
    rfm = pd.DataFrame({"customer_id": np.arange(n), "recency_days": rng.integers(0, 365, n),
                        "frequency": 1 + rng.poisson(1.5, n), "monetary": rng.gamma(2, 50, n)})
    scored = rfm_scores(rfm)
    for col in ("r_score", "f_score", "m_score", "fm_score"):
        assert scored[col].between(1, 5).all()
    # recency: lower days, higher score; monetary roughly quintiles
    assert scored.groupby("r_score")["recency_days"].max().is_monotonic_decreasing
    assert scored["m_score"].value_counts().min() >= 0.19 * n
    assert (scored["fm_score"] == (scored["f_score"] + scored["m_score"] + 1) // 2).all()
    assert scored["rfm_cell"].iloc[0] == f"{scored.r_score.iloc[0]}{scored.f_score.iloc[0]}{scored.m_score.iloc[0]}"
    summary = segment_summary(scored)
    assert list(summary["segment"]) == list(SEGMENTS)
    assert summary["customers"].sum() == n and summary["share_monetary"].sum() == pytest.approx(1.0)
    champions = scored[scored["segment"] == "Champions"]
    assert (champions["r_score"] >= 5).all() and (champions["fm_score"] >= 4).all()
