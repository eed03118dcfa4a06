"""Recommenders behind one interface (``make_recommender``), their offline evaluation and the store-job helpers."""

from aicrm.ml.recommend.algorithms import (
    ALGORITHMS,
    ALS,
    BPR,
    EASE,
    ContentBased,
    Hybrid,
    ItemKNN,
    Popularity,
    make_recommender,
)
from aicrm.ml.recommend.base import Recommender
from aicrm.ml.recommend.data import InteractionData, encode_interactions, item_features_from_rows
from aicrm.ml.recommend.evaluation import (
    evaluate_fitted,
    evaluate_recommender,
    ranking_metrics,
    relevant_items,
    select_recommender,
    split_interactions,
)
from aicrm.ml.recommend.reader import read_interaction_file
from aicrm.ml.recommend.service import (
    also_bought_table,
    fit_recommender,
    interactions_from_order_lines,
    recommendations_table,
)

__all__ = [
    "ALGORITHMS", "ALS", "BPR", "EASE", "ContentBased", "Hybrid", "ItemKNN", "Popularity", "Recommender",
    "InteractionData", "also_bought_table", "encode_interactions", "evaluate_fitted", "evaluate_recommender",
    "fit_recommender", "interactions_from_order_lines", "item_features_from_rows", "make_recommender",
    "ranking_metrics", "read_interaction_file", "recommendations_table", "relevant_items", "select_recommender",
    "split_interactions",
]
