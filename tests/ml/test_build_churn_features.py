"""Transactional churn features and labels on a hand-made order table whose answers are known by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aicrm.core.errors import ValidationFailed
from aicrm.ml.churn import reason_text
from aicrm.ml.churn_features import (
    churn_cutoffs,
    stacked_churn_frame,
    transactional_churn_features,
    transactional_churn_frame,
    transactional_churn_labels,
)

CUTOFF = "2023-06-07"


def _orders() -> pd.DataFrame:
    rows = [
        # A: every 21 days until 5 March, one partial return on the third order; silent afterwards.
        ("A", "a1", "2023-01-01", 100.0, 2, "toys"),
        ("A", "a2", "2023-01-22", 100.0, 1, "toys"),
        ("A", "a3", "2023-02-12", 100.0, 1, "books"),
        ("A", "a3", "2023-02-12", -50.0, -1, "books"),
        ("A", "a4", "2023-03-05", 100.0, 3, "toys"),
        # B: two recent orders (a month apart) and one after the cutoff, so B did not churn.
        ("B", "b1", "2023-05-01", 200.0, 4, "books"),
        ("B", "b2", "2023-06-01", 60.0, 1, "books"),
        ("B", "b2", "2023-06-01", 40.0, 1, "toys"),
        ("B", "b3", "2023-07-01", 80.0, 1, "books"),
        # C buys only after the cutoff (not a customer yet at the cutoff); D makes the label window observed.
        ("C", "c1", "2023-06-20", 30.0, 1, "toys"),
        ("D", "d1", "2023-09-10", 10.0, 1, "toys"),
        # An anonymous buyer is left out.
        (None, "x1", "2023-02-01", 999.0, 9, "toys"),
    ]
    df = pd.DataFrame(rows, columns=["customer", "invoice", "day", "amount", "qty", "category"])
    df["day"] = pd.to_datetime(df["day"])
    return df


KW = dict(customer_col="customer", date_col="day", amount_col="amount", order_col="invoice", quantity_col="qty")


def test_build_churn_features_recovers_hand_computed_values():
    X = transactional_churn_features(_orders(), cutoff=CUTOFF, **KW)
    assert list(X.index) == ["A", "B"]
    a, b = X.loc["A"], X.loc["B"]
    assert a["days_since_last_purchase"] == pytest.approx(94.0)
    assert a["median_gap_days"] == pytest.approx(21.0)
    assert a["recency_over_gap"] == pytest.approx(94 / 21)
    assert a["order_count"] == 4 and a["return_orders"] == 1
    assert a["returns_share"] == pytest.approx(50 / 400)
    assert a["net_spend"] == pytest.approx(350.0)
    assert a["orders_90d"] == 0 and a["spend_90d"] == 0
    assert a["avg_basket_items"] == pytest.approx((2 + 1 + 1 + 3) / 4)
    assert b["days_since_last_purchase"] == pytest.approx(6.0)
    assert b["median_gap_days"] == pytest.approx(31.0)
    assert b["orders_30d"] == 1 and b["orders_90d"] == 2
    assert b["avg_basket_lines"] == pytest.approx(1.5)
    assert b["returns_share"] == 0


def test_build_churn_features_reads_nothing_after_the_cutoff():
    orders = _orders()
    later = pd.DataFrame([("A", "a9", pd.Timestamp("2023-06-07"), -500.0, -5, "toys"),
                          ("B", "b9", pd.Timestamp("2023-06-08"), 900.0, 9, "books")], columns=orders.columns)
    before = transactional_churn_features(orders, cutoff=CUTOFF, **KW)
    after = transactional_churn_features(pd.concat([orders, later]), cutoff=CUTOFF, **KW)
    pd.testing.assert_frame_equal(before, after)


def test_build_churn_labels_mark_customers_without_purchase_in_horizon():
    X, y = transactional_churn_frame(_orders(), cutoff=CUTOFF, horizon_days=90, **KW)
    assert y.to_dict() == {"A": 1, "B": 0}
    assert list(y.index) == list(X.index)


def test_build_churn_labels_refuse_an_unobserved_window():
    with pytest.raises(ValidationFailed, match="need orders up to 2023-12-05") as err:
        transactional_churn_labels(_orders(), cutoff=CUTOFF, horizon_days=181, **{k: KW[k] for k in
                                   ("customer_col", "date_col", "amount_col")})
    assert "transactional_churn_features" in err.value.hint


def test_build_churn_features_names_a_missing_column():
    with pytest.raises(ValidationFailed, match="amount_col='total'"):
        transactional_churn_features(_orders(), cutoff=CUTOFF, **{**KW, "amount_col": "total"})


def test_build_churn_features_category_mix_feedback_and_contacts():
    feedback = pd.DataFrame({"cust": ["A", "A", "B", "A"], "at": pd.to_datetime(["2023-02-01", "2023-03-01", "2023-05-02", "2023-07-01"]),
                             "score": [0.5, -0.8, 0.9, -1.0]})
    contacts = pd.DataFrame({"cust": ["A", "A"], "at": pd.to_datetime(["2023-03-01", "2023-05-20"])})
    X = transactional_churn_features(
        _orders(), cutoff=CUTOFF, category_col="category", feedback=feedback, feedback_customer_col="cust",
        feedback_date_col="at", feedback_score_col="score", contacts=contacts, contacts_customer_col="cust",
        contacts_date_col="at", **KW)
    a, b = X.loc["A"], X.loc["B"]
    assert a["category_count"] == 2 and b["category_count"] == 2
    assert a["category_share_toys"] == pytest.approx(300 / 400)
    assert b["category_share_books"] == pytest.approx(260 / 300)
    assert a["top_category_share"] == pytest.approx(0.75)
    # the feedback of 1 July is after the cutoff and must not count
    assert a["feedback_count"] == 2 and a["feedback_mean"] == pytest.approx(-0.15)
    assert a["feedback_last"] == pytest.approx(-0.8) and a["feedback_negative"] == 1
    assert a["contacts"] == 2 and a["contacts_90d"] == 1 and a["days_since_last_contact"] == pytest.approx(18.0)
    assert b["contacts"] == 0 and np.isnan(b["days_since_last_contact"])


def test_build_churn_features_accepts_an_order_table_with_returned_amounts():
    lines = _orders()
    orders = (lines.assign(gross=lines["amount"].clip(lower=0), ret=(-lines["amount"]).clip(lower=0))
              .groupby(["customer", "invoice"], dropna=False, as_index=False)
              .agg(day=("day", "min"), amount=("gross", "sum"), returned=("ret", "sum")))
    X = transactional_churn_features(orders, cutoff=CUTOFF, customer_col="customer", date_col="day",
                                     amount_col="amount", order_col="invoice", returned_col="returned")
    assert X.loc["A", "returns_share"] == pytest.approx(0.125)
    assert X.loc["A", "return_orders"] == 1


def test_build_churn_frame_stacks_cutoffs():
    cutoffs = churn_cutoffs("2023-09-11", horizon_days=90, n=2, spacing_days=30)
    assert [c.date().isoformat() for c in cutoffs] == ["2023-06-13", "2023-05-14"]
    X, y = stacked_churn_frame(_orders(), cutoffs=cutoffs, horizon_days=90, **KW)
    assert X.index.names == ["cutoff", "customer"]
    assert len(X) == len(y) == 4  # A and B at both cutoffs
    assert y.loc[(pd.Timestamp("2023-05-14"), "B")] == 0


def test_explain_phrases_use_the_customers_own_values():
    assert reason_text("days_since_last_purchase", 94.0, {"median_gap_days": 21.0}) == \
        "no purchase for 94 days (usual gap 21)"
    assert reason_text("days_since_last_purchase", 94.0, {"median_gap_days": np.nan}) == "no purchase for 94 days"
    assert reason_text("orders_90d", 1) == "1 order in the last 90 days"
    assert reason_text("median_gap_days", None) == "only one purchase day so far"
    assert reason_text("Contract", "Month-to-month") == "month-to-month contract"
    assert reason_text("tenure", 2) == "tenure of 2 months"
    assert reason_text("category_share_toys", 0.75) == "75% of spend on toys"
    assert reason_text("OnlineSecurity", "No") == "no online security"
    assert reason_text("PaymentMethod", "Electronic check") == "pays by electronic check"
    assert reason_text("FavouriteColour", "blue") == "favourite colour: blue"
    assert reason_text("SupportCalls", 7) == "support calls 7"
