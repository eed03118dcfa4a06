"""RFM, segments, clusters and cohorts on the UCI Online Retail data (4,372 customers with an id)."""

from __future__ import annotations

import pandas as pd
import pytest

from aicrm.analytics import BehaviouralSegmenter, SEGMENTS, cohort_retention, rfm_scores, rfm_table, segment_summary
from tests.conftest import dataset_path

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def retail() -> pd.DataFrame:
    path = dataset_path("online_retail", "online_retail.csv.gz")
    df = pd.read_csv(path, usecols=["InvoiceNo", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"])
    df["InvoiceDate"] = pd.to_datetime(df["InvoiceDate"], format="%Y-%m-%d %H:%M:%S")
    df["amount"] = df["Quantity"] * df["UnitPrice"]
    return df


def test_cohort_retention_on_online_retail(retail):
    t = cohort_retention(retail, customer_col="CustomerID", date_col="InvoiceDate")
    assert t["customers"].sum() == 4372 and len(t) == 13
    # December 2010 cohort: 948 customers, 362 of them bought again in January 2011 (widely reported)
    assert t.loc["2010-12", "customers"] == 948
    assert t.loc["2010-12", 1] == pytest.approx(362 / 948)
    # cross-check every cell against a plain pandas computation
    known = retail.dropna(subset=["CustomerID"])
    month = known["InvoiceDate"].dt.to_period("M")
    first = month.groupby(known["CustomerID"]).transform("min")
    k = (month - first).apply(lambda d: d.n)
    active = pd.DataFrame({"c": first.astype(str), "k": k, "id": known["CustomerID"]}).drop_duplicates()
    counts = active.groupby(["c", "k"]).size().unstack()
    shares = counts.div(counts[0], axis=0)
    for cohort in shares.index:
        for kk in shares.columns:
            if pd.notna(shares.loc[cohort, kk]):
                assert t.loc[cohort, kk] == pytest.approx(shares.loc[cohort, kk])
    assert t.loc["2011-12"].drop(["customers", 0]).isna().all()


def test_rfm_segments_and_clusters_on_online_retail(retail):
    rfm = rfm_table(retail, customer_col="CustomerID", date_col="InvoiceDate", amount_col="amount")
    assert len(rfm) == 4372 and rfm.attrs["as_of"] == "2011-12-09"
    assert rfm["monetary"].sum() == pytest.approx(retail.loc[retail["CustomerID"].notna(), "amount"].sum())
    assert rfm["frequency"].max() > 100 and rfm["recency_days"].min() == 0
    scored = rfm_scores(rfm)
    summary = segment_summary(scored)
    assert set(summary.loc[summary["customers"] > 0, "segment"]) == set(SEGMENTS)
    # the best-scored fifth of customers holds most of the money (a Pareto-like retail base)
    champions = summary.set_index("segment").loc["Champions"]
    assert champions["share_monetary"] > 3 * champions["share_customers"]

    seg = BehaviouralSegmenter(currency="£", k_range=range(2, 7)).fit(rfm)
    assert 2 <= seg.n_clusters_ <= 6
    profiles = seg.profiles_
    assert profiles["customers"].sum() == 4372
    assert profiles["monetary"].is_monotonic_decreasing
    assert all("customers, median" in d and "£" in d for d in profiles["description"])
