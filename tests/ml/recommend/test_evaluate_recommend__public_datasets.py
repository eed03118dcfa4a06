"""The published protocol on MovieLens-100k, and every algorithm on Online Retail with a time split."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from aicrm.cli import app
from aicrm.ml.recommend import (
    ALGORITHMS,
    evaluate_fitted,
    make_recommender,
    read_interaction_file,
    relevant_items,
    split_interactions,
)
from tests.conftest import dataset_path

RETAIL = dict(user_col="CustomerID", item_col="StockCode", time_col="InvoiceDate", rating_col="Quantity", min_rating=1,
              item_text_col="Description")


@pytest.mark.slow
def test_evaluate_recommend__movielens_auto_reaches_published_level():
    path = dataset_path("movielens_100k", "u.data")
    result = CliRunner().invoke(app, ["recommend", "evaluate", str(path), "--sep", "\\t", "--columns",
                                      "user,item,rating,ts", "--split", "random", "--test-fraction", "0.25",
                                      "--k", "10", "--seed", "0", "--algorithm", "auto", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert (out["users"], out["items"], out["interactions"]) == (943, 1682, 100_000)
    assert out["users_evaluated"] == 943
    # Microsoft Recommenders, same protocol (all ratings, per-user random 75/25, k=10): BPR 0.388, BiVAE 0.412
    assert out["precision_at_k"] >= 0.40
    assert 0.18 <= out["recall_at_k"] <= 0.35
    assert 0.40 <= out["ndcg_at_k"] <= 0.60
    assert out["algorithm"] != "popularity"
    assert all(r["algorithm"] not in ("content", "hybrid") for r in out["validation"]), "u.data has no item text"


@pytest.fixture(scope="module")
def retail():
    data = read_interaction_file(dataset_path("online_retail", "online_retail.csv.gz"), **RETAIL)
    train_events, test_events = split_interactions(data.events, method="time", test_fraction=0.25, seed=0)
    train = data.matrix(train_events)
    return data, train, relevant_items(train, test_events)


@pytest.mark.slow
def test_evaluate_recommend__online_retail_cleaning(retail):
    data, train, relevant = retail
    # UCI figures: 4,372 customers; those with at least one positive-quantity line remain
    assert data.n_users == 4339
    assert 3600 <= data.n_items <= 4070
    assert any("without a CustomerID (anonymous)" in n for n in data.notes)
    assert any("Quantity < 1" in n for n in data.notes)
    assert relevant.nnz > 10_000


@pytest.mark.slow
def test_evaluate_recommend__online_retail_every_algorithm(retail):
    data, train, relevant = retail
    precision = {}
    for algorithm in ALGORITHMS:
        if algorithm == "ease":
            continue  # the hybrid's own collaborative part is EASE with default parameters: scored below
        model = make_recommender(algorithm, random_state=0).fit(train, data.item_features)
        parts = [(algorithm, model)] + ([("ease", model.collaborative_)] if algorithm == "hybrid" else [])
        for name, fitted in parts:
            metrics = evaluate_fitted(fitted, train, relevant, k=10)
            precision[name] = metrics["precision_at_k"]
            assert 0 < metrics["precision_at_k"] < 0.5 and 0 < metrics["ndcg_at_k"] < 1, name
    assert set(precision) == set(ALGORITHMS)
    print("online retail precision@10 (time split):", {a: round(p, 4) for a, p in precision.items()})
    assert precision["hybrid"] > precision["popularity"] * 1.5
    assert precision["ease"] > precision["popularity"]
