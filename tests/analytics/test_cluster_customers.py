"""BehaviouralSegmenter recovers planted behavioural clusters and describes them in plain words."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from aicrm.analytics import BehaviouralSegmenter
from aicrm.core.errors import ValidationFailed

# (median recency days, median purchases, median money, median tenure days) of four planted groups
PLANTED = [
    (10, 20, 3000.0, 700),   # frequent high spenders, recent
    (300, 1, 40.0, 320),     # one-off low spenders, long gone
    (20, 1, 60.0, 25),       # new one-off buyers
    (150, 5, 400.0, 600),    # regular mid spenders, lapsing
]


def planted_customers(n_per_group: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frames, truth = [], []
    for g, (rec, freq, money, tenure) in enumerate(PLANTED):
        noise = lambda: rng.lognormal(0.0, 0.15, n_per_group)  # noqa: E731
        frames.append(pd.DataFrame({
            "recency_days": np.round(rec * noise()),
            "frequency": np.maximum(1, np.round(freq * noise())),
            "monetary": money * noise(),
            "tenure_days": np.round(tenure * noise()),
        }))
        truth.append(np.full(n_per_group, g))
    return pd.concat(frames, ignore_index=True), np.concatenate(truth)


def test_cluster_customers__recovers_planted_clusters():
    X, truth = planted_customers(400, seed=0)
    seg = BehaviouralSegmenter(currency="£").fit(X)
    assert seg.n_clusters_ == 4
    assert adjusted_rand_score(truth, seg.labels_) > 0.95
    assert max(seg.silhouette_scores_, key=seg.silhouette_scores_.get) == 4
    # cluster 0 is the most valuable; predict() agrees with fit on the same data and generalises
    profiles = seg.profiles_
    assert profiles["customers"].sum() == len(X) and profiles.loc[0, "monetary"] == profiles["monetary"].max()
    top = profiles.loc[0, "description"]
    assert re.fullmatch(r"Frequent high spenders, bought recently \(400 customers, median 20 purchases, £[23],\d{3}\)", top), top
    assert (seg.predict(X) == seg.labels_).all()
    X2, truth2 = planted_customers(100, seed=1)
    assert adjusted_rand_score(truth2, seg.predict(X2)) > 0.95
    new_one_off = profiles[profiles["label"].str.contains("new")]
    assert len(new_one_off) == 1 and new_one_off["label"].iloc[0].startswith("One-time")


def test_cluster_customers__refuses_bad_input():
    with pytest.raises(ValidationFailed, match="column"):
        BehaviouralSegmenter().fit(pd.DataFrame({"recency_days": [1, 2, 3]}))
    X, _ = planted_customers(2, seed=0)
    with pytest.raises(ValidationFailed):
        BehaviouralSegmenter(k_range=range(20, 25)).fit(X)
