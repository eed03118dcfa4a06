"""Splits and ranking metrics against hand-computed answers, and the auto choice on a planted store."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from aicrm.core.errors import ValidationFailed
from aicrm.ml.recommend import (
    encode_interactions,
    evaluate_recommender,
    ranking_metrics,
    relevant_items,
    split_interactions,
)

from .conftest import make_planted


def test_evaluate_recommender__metrics_known_answer():
    recommended = np.array([[1, 2, 3, 4], [5, 6, 7, -1], [0, 1, 2, 3]])
    relevant = sp.csr_matrix(np.array([
        [0, 1, 0, 1, 0, 0, 0, 0, 1, 0],  # hits at ranks 1 and 3, 3 relevant
        [0, 0, 0, 0, 0, 0, 0, 1, 0, 0],  # hit at rank 3, 1 relevant
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],  # nothing relevant: skipped
    ], dtype=np.float32))
    m = ranking_metrics(recommended, relevant, k=4, n_items=10)
    d = [1 / math.log2(i + 2) for i in range(4)]
    assert m["users_evaluated"] == 2
    assert m["precision_at_k"] == pytest.approx((2 / 4 + 1 / 4) / 2)
    assert m["recall_at_k"] == pytest.approx((2 / 3 + 1) / 2)
    assert m["ndcg_at_k"] == pytest.approx(((d[0] + d[2]) / (d[0] + d[1] + d[2]) + d[2] / d[0]) / 2)
    assert m["map_at_k"] == pytest.approx(((1 + 2 / 3) / 3 + (1 / 3) / 1) / 2)
    assert m["catalog_coverage"] == pytest.approx(8 / 10)  # items 0..7 appear in some list


def test_evaluate_recommender__splits_per_user():
    rng = np.random.default_rng(1)
    sizes = np.array([1, 2, 4, 8, 20])
    events = pd.DataFrame({
        "user": np.repeat(np.arange(5), sizes),
        "item": np.concatenate([rng.choice(50, s, replace=False) for s in sizes]),
        "weight": 1.0,
        "time": rng.permutation(sizes.sum()).astype(float),
    })
    train, test = split_interactions(events, method="random", test_fraction=0.25, seed=0)
    assert len(train) + len(test) == len(events)
    assert test.groupby("user").size().reindex(range(5), fill_value=0).tolist() == [0, 1, 1, 2, 5]
    assert set(train["user"]) == set(range(5)), "every user keeps a train interaction"
    again, _ = split_interactions(events, method="random", test_fraction=0.25, seed=0)
    assert again.equals(train)
    train, test = split_interactions(events, method="time", test_fraction=0.25)
    for u in range(1, 5):
        assert test.loc[test.user == u, "time"].min() > train.loc[train.user == u, "time"].max()
    with pytest.raises(ValidationFailed, match="needs interaction times"):
        split_interactions(events.drop(columns="time"), method="time")


def test_evaluate_recommender__repeat_purchases_are_not_test_items():
    train = sp.csr_matrix(np.array([[1, 1, 0, 0]], dtype=np.float32))
    test_events = pd.DataFrame({"user": [0, 0, 0], "item": [1, 2, 2]})
    assert relevant_items(train, test_events).toarray().tolist() == [[0, 0, 1, 0]]


def test_evaluate_recommender__auto_beats_popularity_on_planted_store():
    planted = make_planted(users_per_group=40, buys=15, seed=3)
    rows, cols = planted.matrix.nonzero()
    table = pd.DataFrame({"customer": rows.astype(str), "product": cols.astype(str)})
    features = planted.features.set_index(pd.Index(np.arange(len(planted.features)).astype(str)))
    data = encode_interactions(table, user_col="customer", item_col="product", item_features=features)
    auto = evaluate_recommender(data, algorithm="auto", k=5, seed=0)
    popular = evaluate_recommender(data, algorithm="popularity", k=5, seed=0)
    assert auto["algorithm"] != "popularity"
    assert {r["algorithm"] for r in auto["validation"]} >= {"popularity", "ease", "als", "bpr", "item_knn", "content",
                                                            "hybrid"}
    assert auto["precision_at_k"] > 2 * popular["precision_at_k"]
    for key in ("users", "items", "algorithm", "precision_at_k", "recall_at_k", "ndcg_at_k", "map_at_k",
                "catalog_coverage"):
        assert key in auto
