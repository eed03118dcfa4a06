"""Cohort retention on a hand-computable log."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aicrm.analytics import cohort_retention
from aicrm.core.errors import ValidationFailed

# Jan cohort: a, b, c, d. Feb cohort: e, f. Mar cohort: g. Data end in March.
LOG = pd.DataFrame(
    [
        ("a", "2024-01-03"), ("a", "2024-01-20"), ("a", "2024-02-02"), ("a", "2024-03-30"),
        ("b", "2024-01-10"), ("b", "2024-03-01"),
        ("c", "2024-01-31"),
        ("d", "2024-01-15"), ("d", "2024-02-28"),
        ("e", "2024-02-01"), ("e", "2024-03-15"),
        ("f", "2024-02-29"),
        ("g", "2024-03-31"),
    ],
    columns=["who", "when"],
)
LOG["when"] = pd.to_datetime(LOG["when"])


def test_cohort_retention__monthly_hand_computed():
    t = cohort_retention(LOG, customer_col="who", date_col="when")
    assert list(t.index) == ["2024-01", "2024-02", "2024-03"]
    assert list(t["customers"]) == [4, 2, 1]
    assert t.loc["2024-01", [0, 1, 2]].tolist() == [1.0, 0.5, 0.5]   # Feb: a, d; Mar: a, b
    assert t.loc["2024-02", 0] == 1.0 and t.loc["2024-02", 1] == 0.5  # Mar: e
    assert np.isnan(t.loc["2024-02", 2]) and np.isnan(t.loc["2024-03", 1])  # not observable yet
    counts = cohort_retention(LOG, customer_col="who", date_col="when", as_counts=True)
    assert counts.loc["2024-01", [0, 1, 2]].tolist() == [4, 2, 2]


def test_cohort_retention__quarters_and_weeks():
    q = cohort_retention(LOG, customer_col="who", date_col="when", period="Q")
    assert list(q.index) == ["2024Q1"] and q.loc["2024Q1", "customers"] == 7
    w = cohort_retention(LOG, customer_col="who", date_col="when", period="W")
    # ISO weeks start on Monday: 2024-01-01 is a Monday, so a's cohort is the week of 2024-01-01
    assert w.index[0] == "2024-01-01"
    assert w["customers"].sum() == 7
    assert (w[0] == 1.0).all()


def test_cohort_retention__refuses_unknown_period():
    with pytest.raises(ValidationFailed, match="period"):
        cohort_retention(LOG, customer_col="who", date_col="when", period="fortnight")
