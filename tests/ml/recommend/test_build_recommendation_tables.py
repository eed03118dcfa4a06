"""The store-job helpers: order lines in, top-N per customer with reasons and also-bought tables out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aicrm.core.errors import ValidationFailed
from aicrm.ml.recommend import (
    also_bought_table,
    fit_recommender,
    interactions_from_order_lines,
    recommendations_table,
)

from .conftest import BLOCK_WORDS, make_planted


@pytest.fixture(scope="module")
def store():
    """Order lines and products of a planted store (ids as the store has them: integers), plus noise lines."""
    planted = make_planted(users_per_group=30, buys=10, new_items_per_block=2, seed=7)
    rows, cols = planted.matrix.nonzero()
    lines = pd.DataFrame({
        "customer_id": rows + 1000.0,  # floats, as integer keys often arrive through pandas
        "product_id": cols + 1,
        "quantity": 1.0,
        "ordered_at": pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(len(rows)) % 300, unit="D"),
    })
    noise = pd.DataFrame({"customer_id": [np.nan, 1000.0, 1001.0], "product_id": [1, 2, np.nan],
                          "quantity": [2.0, -1.0, 1.0], "ordered_at": pd.Timestamp("2024-06-01")})
    products = pd.DataFrame({
        "id": np.arange(len(planted.item_block)) + 1,
        "name": planted.features["name"],
        "description": planted.features["description"],
        "category": [BLOCK_WORDS[b] for b in planted.item_block],
        "available": np.arange(len(planted.item_block)) != 5,
    })
    return planted, pd.concat([lines, noise], ignore_index=True), products


def test_build_recommendation_tables__from_order_lines(store):
    planted, lines, products = store
    data = interactions_from_order_lines(lines, products=products)
    assert data.n_users == 150 and data.n_items == len(products)  # never-sold products are items too
    assert len(data.events) == planted.matrix.nnz
    assert "dropped 3 order line(s)" in data.notes[0]
    assert data.user_ids[0] == "1000" and "1" in set(data.item_ids)

    model, info = fit_recommender(data, algorithm="hybrid", seed=0)
    assert info["algorithm"] == "hybrid"
    recs = recommendations_table(model, data, n=5, customers=[1000, 1031, "brand-new"], rebuy_categories=None)
    assert list(recs.columns) == ["customer_id", "product_id", "rank", "score", "reason", "because_product_id"]
    assert recs.groupby("customer_id").size().to_dict() == {"1000": 5, "1031": 5, "brand-new": 5}
    bought = set(data.item_ids[data.matrix()[0].indices])
    first = recs[recs.customer_id == "1000"]
    assert not set(first.product_id) & bought
    assert "6" not in set(recs.product_id), "product 6 is unavailable"
    assert first.reason.str.startswith("because you bought garden").all()
    assert first.because_product_id.isin(bought).all()
    new = recs[recs.customer_id == "brand-new"]
    assert new.reason.str.startswith("popular in ").all() and new.because_product_id.isna().all()

    everyone = recommendations_table(model, data, n=3, max_per_category=1, batch_size=64)
    assert len(everyone) == 150 * 3
    cats = products.set_index(products.id.astype(str)).category
    assert (everyone.groupby("customer_id").product_id.agg(lambda s: cats[list(s)].nunique()) == 3).all()

    also = also_bought_table(model, data, n=4)
    assert list(also.columns) == ["product_id", "similar_product_id", "rank", "score"]
    assert len(also) == len(products) * 4
    block = dict(zip(products.id.astype(str), planted.item_block))
    same = (also.product_id.map(block) == also.similar_product_id.map(block)).mean()
    assert same > 0.95
    with pytest.raises(ValidationFailed, match="unknown product"):
        also_bought_table(model, data, products=["nope"])


def test_build_recommendation_tables__auto_uses_latest_purchases(store):
    _, lines, products = store
    data = interactions_from_order_lines(lines, products=products)
    model, info = fit_recommender(data, algorithm="auto", seed=0)
    assert info["algorithm"] not in ("popularity",)
    assert len(info["validation"]) >= 8
    assert model.n_users_ == data.n_users
