"""Serve-time rules: bought, re-buyable, unavailable, category filter, diversity cap, cold start, reasons."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from aicrm.core.errors import ValidationFailed
from aicrm.ml.recommend import make_recommender

from .conftest import make_planted

USERS = np.arange(0, 250, 5)


@pytest.fixture(scope="module")
def fitted(planted):
    return {a: make_recommender(a, random_state=0).fit(planted.matrix, planted.features)
            for a in ("ease", "als", "item_knn", "popularity", "hybrid")}


def bought(planted, users):
    return planted.matrix[users].toarray() > 0


@pytest.mark.parametrize("algorithm", ["ease", "als", "item_knn", "popularity", "hybrid"])
def test_recommend_business_rules__bought_and_unavailable_items_never_shown(planted, fitted, algorithm):
    model = fitted[algorithm]
    available = np.ones(planted.matrix.shape[1], dtype=bool)
    available[::3] = False
    for cap in (None, 2):
        items, _ = model.recommend(USERS, 10, exclude=planted.matrix[USERS], available=available, max_per_category=cap)
        assert (items >= 0).all()
        assert not np.take_along_axis(bought(planted, USERS), items, axis=1).any()
        assert available[items].all()


def test_recommend_business_rules__rebuyable_categories_may_come_back(planted, fitted):
    model = fitted["ease"]
    items, _ = model.recommend(USERS, 10, exclude=planted.matrix[USERS], rebuy_categories=["cat0"])
    again = np.take_along_axis(bought(planted, USERS), items, axis=1)
    # group 0 buys from cat0, a consumable: its favourites come back; other groups' bought items never do
    group0 = planted.user_group[USERS] == 0
    assert again[group0].any()
    assert (planted.item_block[items[again]] == 0).all()
    texts, _ = model.reasons(USERS, items)
    assert (texts[again] == "you bought this before").all()


def test_recommend_business_rules__category_filter_and_diversity_cap(planted, fitted):
    model = fitted["hybrid"]
    items, _ = model.recommend(USERS, 8, exclude=planted.matrix[USERS], category=["cat3", "cat4"])
    assert set(planted.item_block[items].ravel()) <= {3, 4}
    items, scores = model.recommend(USERS, 10, exclude=planted.matrix[USERS], max_per_category=3)
    assert (items >= 0).all()
    for row in planted.item_block[items]:
        assert np.bincount(row).max() <= 3
    assert np.all(np.diff(scores, axis=1) <= 1e-6)
    # the first three are still the model's own top three (the cap only pushes later items down)
    plain, _ = model.recommend(USERS, 3, exclude=planted.matrix[USERS])
    np.testing.assert_array_equal(items[:, :3], plain)
    with pytest.raises(ValidationFailed, match="unknown category"):
        model.recommend(USERS, 5, category="cat9")


def test_recommend_business_rules__diversity_cap_pads_when_catalogue_runs_out():
    small = make_planted(n_groups=2, users_per_group=5, items_per_block=6, buys=3)
    model = make_recommender("ease").fit(small.matrix, small.features)
    items, scores = model.recommend([0], 10, exclude=small.matrix[[0]], max_per_category=2)
    assert (items[0, :4] >= 0).all() and (items[0, 4:] == -1).all() and np.isnan(scores[0, 4:]).all()


def test_recommend_business_rules__cold_start_customers_get_popular_items(planted, fitted):
    popular = np.argsort(-np.asarray((planted.matrix > 0).sum(axis=0)).ravel(), kind="stable")[:5]
    for algorithm in ("ease", "als", "hybrid"):
        model = fitted[algorithm]
        new_users = np.array([250, 251, 9999])
        items, _ = model.recommend(new_users, 5)
        assert (items == popular).all(), algorithm
        texts, because = model.reasons(new_users, items)
        assert (because == -1).all()
        expected = [f"popular in cat{planted.item_block[i]}" for i in popular]
        assert texts[0].tolist() == expected


def test_recommend_business_rules__new_products_reached_through_content():
    planted = make_planted(new_items_per_block=4)
    sold = 5 * 40
    users = np.arange(planted.matrix.shape[0])
    # new_item_weight=1: a never-bought product's content score fully stands in for its collaborative one
    for algorithm, params in (("content", {}), ("hybrid", {"new_item_weight": 1.0})):
        model = make_recommender(algorithm, **params).fit(planted.matrix, planted.features)
        items, _ = model.recommend(users, 10, exclude=planted.matrix)
        new = items >= sold
        assert new.any(), algorithm
        assert (planted.item_block[items[new]] == planted.user_group[np.nonzero(new)[0]]).all()
    collaborative = make_recommender("item_knn").fit(planted.matrix)
    items, _ = collaborative.recommend(users, 10, exclude=planted.matrix)
    assert not (items >= sold).any()


def test_recommend_business_rules__reasons_name_a_similar_bought_item(planted, fitted):
    model = fitted["item_knn"]
    items, _ = model.recommend(USERS, 5, exclude=planted.matrix[USERS])
    texts, because = model.reasons(USERS, items)
    has = because >= 0
    assert has.mean() > 0.9
    history = bought(planted, USERS)
    rows = np.nonzero(has)[0]
    assert history[rows, because[has]].all(), "the named item was bought by that customer"
    assert (planted.item_block[because[has]] == planted.item_block[items[has]]).mean() > 0.9
    r, j = rows[0], np.nonzero(has[rows[0]])[0][0]
    assert texts[r, j] == f"because you bought {planted.features['name'][because[r, j]]}"


def test_recommend_business_rules__exclude_rows_follow_the_requested_users(planted, fitted):
    model = fitted["popularity"]
    top = model.recommend([0], 1)[0][0, 0]
    exclude = sp.csr_matrix((np.ones(1, np.float32), ([1], [top])), shape=(2, planted.matrix.shape[1]))
    items, _ = model.recommend([7, 8], 1, exclude=exclude)
    assert items[0, 0] == top and items[1, 0] != top
