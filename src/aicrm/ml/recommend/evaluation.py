"""Offline evaluation: per-user random or time splits, top-k ranking metrics, and validation-based model choice."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from aicrm.core.errors import ValidationFailed
from aicrm.ml.recommend.algorithms import ALGORITHMS, make_recommender
from aicrm.ml.recommend.base import Recommender
from aicrm.ml.recommend.data import InteractionData

SPLITS = ("random", "time")
EASE_MAX_ITEMS = 20_000
Progress = Callable[[str, int, int], None]


def split_interactions(events: pd.DataFrame, *, method: str = "random", test_fraction: float = 0.25,
                       seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each user's interactions split into train and test; a user keeps at least one train interaction.

    ``random``: each user's distinct items are shuffled and round(test_fraction x n) go to test.
    ``time``: each user's latest round(test_fraction x n) interaction rows go to test (ties keep file order).
    """
    if method not in SPLITS:
        raise ValidationFailed(f"unknown split {method!r}", hint=f"Use one of: {', '.join(SPLITS)}.")
    if not 0 < test_fraction < 1:
        raise ValidationFailed(f"test fraction must be between 0 and 1, got {test_fraction}")
    if method == "random":
        agg = {"weight": "sum"} | ({"time": "max"} if "time" in events else {})
        ev = events.groupby(["user", "item"], as_index=False, sort=True).agg(agg)
        rng = np.random.default_rng(seed)
        ev = ev.iloc[rng.permutation(len(ev))]
        ev = ev.sort_values("user", kind="stable")
        pos = ev.groupby("user").cumcount().to_numpy()
        size = ev.groupby("user")["user"].transform("size").to_numpy()
        n_test = np.minimum(np.floor(test_fraction * size + 0.5), size - 1)
        is_test = pos < n_test
    else:
        if "time" not in events:
            raise ValidationFailed("a time split needs interaction times",
                                   hint="Give --time-col, or use --split random.")
        ev = events.assign(_order=np.arange(len(events))).sort_values(["user", "time", "_order"], kind="stable")
        ev = ev.drop(columns="_order")
        pos = ev.groupby("user").cumcount().to_numpy()
        size = ev.groupby("user")["user"].transform("size").to_numpy()
        n_test = np.minimum(np.floor(test_fraction * size + 0.5), size - 1)
        is_test = pos >= size - n_test
    return ev[~is_test].reset_index(drop=True), ev[is_test].reset_index(drop=True)


def relevant_items(train: sp.csr_matrix, test_events: pd.DataFrame) -> sp.csr_matrix:
    """Binary users x items matrix of test items the user did not already have in train.

    Recommendations never repeat a train item, so a repeat purchase in the test part could never be hit;
    it is left out rather than counted as a miss for every model alike.
    """
    test = sp.csr_matrix((np.ones(len(test_events), dtype=np.float32),
                          (test_events["user"].to_numpy(), test_events["item"].to_numpy())), shape=train.shape)
    test.sum_duplicates()
    test.data[:] = 1.0
    known = sp.csr_matrix(train, copy=True)
    known.data[:] = 1.0
    out = sp.csr_matrix(test - test.multiply(known))
    out.eliminate_zeros()
    return out


def ranking_metrics(recommended: np.ndarray, relevant: sp.csr_matrix, *, k: int, n_items: int | None = None) -> dict:
    """precision@k, recall@k, nDCG@k (binary gains), MAP@k (AP divided by min(k, #relevant)) and catalogue coverage.

    Row r of ``recommended`` (item indices, -1 = empty slot) is scored against row r of ``relevant``;
    rows with no relevant item are skipped.
    """
    recommended = np.asarray(recommended)[:, :k]
    relevant = sp.csr_matrix(relevant)
    n_rel = np.diff(relevant.indptr)
    rows = n_rel > 0
    rec, rel, n_rel = recommended[rows], relevant[rows], n_rel[rows]
    if rec.shape[0] == 0:
        raise ValidationFailed("no user has a test item to evaluate against",
                               hint="Use more data or a larger --test-fraction.")
    r_idx = np.repeat(np.arange(rec.shape[0]), rec.shape[1])
    c_idx = np.maximum(rec.ravel(), 0)
    hits = (np.asarray(rel[r_idx, c_idx]).ravel() > 0) & (rec.ravel() >= 0)
    hits = hits.reshape(rec.shape).astype(np.float64)
    if hits.shape[1] < k:
        hits = np.hstack([hits, np.zeros((hits.shape[0], k - hits.shape[1]))])
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = hits @ discounts
    ideal = np.cumsum(discounts)[np.minimum(n_rel, k) - 1]
    precision_at = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    ap = (precision_at * hits).sum(axis=1) / np.minimum(n_rel, k)
    recommended_items = np.unique(recommended[recommended >= 0])
    return {
        "precision_at_k": float(hits.sum(axis=1).mean() / k),
        "recall_at_k": float((hits.sum(axis=1) / n_rel).mean()),
        "ndcg_at_k": float((dcg / ideal).mean()),
        "map_at_k": float(ap.mean()),
        "catalog_coverage": float(len(recommended_items) / n_items) if n_items else float("nan"),
        "users_evaluated": int(rec.shape[0]),
    }


def evaluate_fitted(model: Recommender, train: sp.csr_matrix, relevant: sp.csr_matrix, *, k: int = 10) -> dict:
    """Metrics of a fitted model: users with a relevant item get top-k lists that skip their train items."""
    users = np.flatnonzero(np.diff(relevant.indptr) > 0)
    items, _ = model.recommend(users, k, exclude=train[users])
    return ranking_metrics(items, relevant[users], k=k, n_items=train.shape[1])


def candidate_grid(*, n_items: int, has_text: bool) -> list[tuple[str, dict]]:
    """The algorithms and hyper-parameters ``auto`` tries (hybrid is added on top of the best collaborative one)."""
    grid: list[tuple[str, dict]] = [("popularity", {})]
    if n_items <= EASE_MAX_ITEMS:
        grid += [("ease", {"l2": l2}) for l2 in (100.0, 300.0, 1000.0)]
    grid += [
        ("item_knn", {"K": 100, "weighting": "cosine"}),
        ("item_knn", {"K": 200, "weighting": "bm25"}),
        ("als", {"factors": 32, "regularization": 1.0, "alpha": 1.0, "iterations": 15}),
        ("als", {"factors": 64, "regularization": 5.0, "alpha": 2.0, "iterations": 15}),
        ("bpr", {"factors": 64, "learning_rate": 0.01, "regularization": 0.01, "iterations": 100}),
    ]
    if has_text:
        grid.append(("content", {}))
    return grid


def _has_text(data: InteractionData) -> bool:
    from aicrm.ml.recommend.algorithms import item_text

    text = item_text(data.item_features)
    return text is not None and bool((text.fillna("") != "").any())


def select_recommender(
    data: InteractionData,
    train_events: pd.DataFrame,
    *,
    split: str = "random",
    test_fraction: float = 0.25,
    k: int = 10,
    seed: int = 0,
    candidates: list[tuple[str, dict]] | None = None,
    progress: Progress | None = None,
) -> tuple[str, dict, list[dict]]:
    """Best (algorithm, params) by precision@k on a validation split carved from ``train_events`` only.

    After the collaborative candidates, hybrids of the best collaborative model with content weights
    0.1 and 0.3 are tried when items have text. Returns the winner and one row per candidate.
    """
    fit_events, val_events = split_interactions(train_events, method=split, test_fraction=test_fraction, seed=seed + 1)
    fit_matrix = data.matrix(fit_events)
    relevant = relevant_items(fit_matrix, val_events)
    has_text = _has_text(data)
    grid = list(candidates) if candidates is not None else candidate_grid(n_items=data.n_items, has_text=has_text)
    rows: list[dict] = []

    def run(algorithm: str, params: dict) -> None:
        started = time.perf_counter()
        model = make_recommender(algorithm, random_state=seed, **params).fit(fit_matrix, data.item_features)
        metrics = evaluate_fitted(model, fit_matrix, relevant, k=k)
        rows.append({"algorithm": algorithm, "params": params, **metrics,
                     "seconds": round(time.perf_counter() - started, 3)})
        if progress:
            progress("validation", len(rows), len(grid) + (2 if has_text and candidates is None else 0))

    for algorithm, params in grid:
        run(algorithm, params)
    if has_text and candidates is None:
        collab = [r for r in rows if r["algorithm"] not in ("popularity", "content")]
        best = max(collab, key=lambda r: (r["precision_at_k"], r["ndcg_at_k"]))
        for weight in (0.1, 0.3):
            run("hybrid", {"collaborative": best["algorithm"], "collaborative_params": best["params"],
                           "content_weight": weight})
    winner = max(rows, key=lambda r: (r["precision_at_k"], r["ndcg_at_k"]))
    return winner["algorithm"], winner["params"], rows


def evaluate_recommender(
    data: InteractionData,
    *,
    algorithm: str = "auto",
    params: dict | None = None,
    split: str = "random",
    test_fraction: float = 0.25,
    k: int = 10,
    seed: int = 0,
    candidates: list[tuple[str, dict]] | None = None,
    progress: Progress | None = None,
) -> dict:
    """Split, (for ``auto``) choose on a validation part of train, fit on train, and score top-k lists on test."""
    if algorithm != "auto" and algorithm not in ALGORITHMS:
        raise ValidationFailed(f"unknown algorithm {algorithm!r}", hint=f"Use auto or one of: {', '.join(ALGORITHMS)}.")
    if k < 1:
        raise ValidationFailed(f"k must be at least 1, got {k}")
    started = time.perf_counter()
    train_events, test_events = split_interactions(data.events, method=split, test_fraction=test_fraction, seed=seed)
    validation = None
    if algorithm == "auto":
        algorithm, params, validation = select_recommender(data, train_events, split=split, test_fraction=test_fraction,
                                                           k=k, seed=seed, candidates=candidates, progress=progress)
    train = data.matrix(train_events)
    relevant = relevant_items(train, test_events)
    model = make_recommender(algorithm, random_state=seed, **(params or {})).fit(train, data.item_features)
    if progress:
        progress("test", 1, 1)
    metrics = evaluate_fitted(model, train, relevant, k=k)
    result = {
        "users": data.n_users,
        "items": data.n_items,
        "interactions": int(len(data.events)),
        "algorithm": algorithm,
        "params": params or {},
        "split": split,
        "test_fraction": test_fraction,
        "k": k,
        "seed": seed,
        **metrics,
        "seconds": round(time.perf_counter() - started, 2),
        "notes": list(data.notes),
    }
    if getattr(model, "restricted_", False):
        result["notes"].append(f"EASE kept only the {len(model.kept_items_):,} most bought items")
    if validation is not None:
        result["validation"] = validation
    return result
