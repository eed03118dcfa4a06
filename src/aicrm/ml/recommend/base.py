"""The interface every recommender shares: fit on a users x items matrix, recommend with business rules, explain.

Scoring is model-specific (``_dense_scores`` and, where a model has one, a faster ``_fast_topk``); the
business rules (already bought, re-buyable categories, availability, category filter, diversity cap), the
cold-start fallback, the top-N selection and the reasons live here once.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator

from aicrm.core.errors import ModelNotTrained, ValidationFailed

# implicit's top-k marks filtered items with the lowest float32; anything at or below this is "no item".
_NO_SCORE = -1e37
FEATURE_COLUMNS = ("category", "name", "description", "text", "available")


def as_interactions(interactions, *, what: str = "interactions") -> sp.csr_matrix:
    """A users x items CSR matrix of non-negative float32 weights (duplicates summed), or a ValidationFailed."""
    if not sp.issparse(interactions):
        if isinstance(interactions, np.ndarray) and interactions.ndim == 2:
            interactions = sp.csr_matrix(interactions)
        else:
            raise ValidationFailed(f"{what} must be a scipy.sparse matrix of users x items, "
                                   f"got {type(interactions).__name__}",
                                   hint="Build it with scipy.sparse.csr_matrix((weights, (user_index, item_index))).")
    matrix = sp.csr_matrix(interactions, dtype=np.float32)
    matrix.sum_duplicates()
    if matrix.nnz and (not np.isfinite(matrix.data).all() or matrix.data.min() < 0):
        raise ValidationFailed(f"{what} hold negative or non-finite weights",
                               hint="Use counts or positive ratings; drop returns and cancellations before fitting.")
    matrix.eliminate_zeros()
    return matrix


def check_item_features(item_features, n_items: int) -> pd.DataFrame | None:
    """``item_features`` as a DataFrame with one row per item column, or a ValidationFailed."""
    if item_features is None:
        return None
    if not isinstance(item_features, pd.DataFrame):
        raise ValidationFailed("item_features must be a pandas DataFrame with one row per item (matrix column)",
                               hint=f"Give any of the columns {', '.join(FEATURE_COLUMNS)}.")
    if len(item_features) != n_items:
        raise ValidationFailed(f"item_features has {len(item_features):,} rows but the matrix has {n_items:,} items",
                               hint="Give one row per item, in the order of the matrix columns.")
    return item_features.reset_index(drop=True)


def topk_dense(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-n column indices per row, best first; rows run out with -1 / NaN where scores are -inf."""
    rows, n_items = scores.shape
    n_eff = min(n, n_items)
    if n_eff < n_items:
        part = np.argpartition(-scores, n_eff - 1, axis=1)[:, :n_eff]
    else:
        part = np.broadcast_to(np.arange(n_items), (rows, n_items)).copy()
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-part_scores, axis=1, kind="stable")
    items = np.take_along_axis(part, order, axis=1).astype(np.int64)
    top = np.take_along_axis(part_scores, order, axis=1).astype(np.float32)
    return pad_topk(items, top, n)


def topk_sparse(matrix: sp.csr_matrix, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-n stored entries per CSR row, best first, padded with -1 / NaN (never densifies the matrix)."""
    matrix = sp.csr_matrix(matrix)
    rows = matrix.shape[0]
    items = np.full((rows, n), -1, dtype=np.int64)
    scores = np.full((rows, n), np.nan, dtype=np.float32)
    if not matrix.nnz:
        return items, scores
    counts = np.diff(matrix.indptr)
    row_of = np.repeat(np.arange(rows), counts)
    # One argsort of a composite key (row first, then score descending; ~3x faster than np.lexsort).
    # Rows keep their places and sizes, so an entry's rank in its row is its position minus the row's start.
    data = matrix.data.astype(np.float64)
    top = data.max()
    span = top - data.min() + 1.0
    order = np.argsort(row_of * span + (top - data), kind="stable")
    rank = np.arange(matrix.nnz) - np.repeat(matrix.indptr[:-1], counts)
    keep = rank < n
    items[row_of[keep], rank[keep]] = matrix.indices[order[keep]]
    scores[row_of[keep], rank[keep]] = matrix.data[order[keep]]
    return items, scores


def pad_topk(items: np.ndarray, scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Mark filtered slots (-inf or implicit's lowest float) as item -1 / NaN and widen to n columns."""
    invalid = ~np.isfinite(scores) | (scores <= _NO_SCORE)
    items = np.where(invalid, -1, items)
    scores = np.where(invalid, np.nan, scores).astype(np.float32)
    if items.shape[1] < n:
        extra = n - items.shape[1]
        items = np.hstack([items, np.full((items.shape[0], extra), -1, dtype=np.int64)])
        scores = np.hstack([scores, np.full((scores.shape[0], extra), np.nan, dtype=np.float32)])
    return items, scores


def cap_per_group(candidates: np.ndarray, groups: np.ndarray, cap: int, n: int) -> np.ndarray:
    """Positions (into each row of ``candidates``) of the first n candidates keeping at most ``cap`` per group.

    ``candidates`` are ordered best first; ``groups`` gives each candidate's group (-1 = candidate missing).
    Rows that run out are padded with -1.
    """
    rows, width = candidates.shape
    cols = np.arange(width)
    # Stable sort by group keeps the best-first order inside each group, so the running index inside a
    # group is the candidate's rank in its group.
    order = np.argsort(groups, axis=1, kind="stable")
    sorted_groups = np.take_along_axis(groups, order, axis=1)
    starts = np.ones_like(sorted_groups, dtype=bool)
    starts[:, 1:] = sorted_groups[:, 1:] != sorted_groups[:, :-1]
    start_pos = np.maximum.accumulate(np.where(starts, cols, 0), axis=1)
    rank_sorted = cols - start_pos
    rank = np.empty_like(rank_sorted)
    np.put_along_axis(rank, order, rank_sorted, axis=1)
    ok = (rank < cap) & (candidates >= 0)
    # first n allowed positions per row, in candidate order
    pos = np.where(ok, cols, width)
    pos.sort(axis=1)
    pos = pos[:, :n]
    return np.where(pos >= width, -1, pos)


class Recommender(BaseEstimator):
    """Base of every recommender: ``fit(interactions, item_features=None)``, ``recommend``, ``similar_items``,
    ``reasons``.

    ``interactions`` is a users x items sparse matrix of counts or ratings. ``item_features`` is an optional
    DataFrame with one row per item column and any of the columns ``category``, ``name``, ``description``,
    ``text`` (used by content models and the category rules) and ``available`` (bool; unavailable items are
    never recommended unless ``recommend(available=...)`` says otherwise).
    """

    algorithm = "base"
    #: whether the model needs item text (content and hybrid)
    needs_item_text = False

    # ---- fitting ---------------------------------------------------------------------------------
    def fit(self, interactions, item_features=None):
        """Learn from a users x items matrix (and item features where the model uses them); returns self."""
        matrix = as_interactions(interactions)
        features = check_item_features(item_features, matrix.shape[1])
        self.n_users_, self.n_items_ = matrix.shape
        self.train_ = matrix
        binary = matrix.copy()
        binary.data[:] = 1.0
        self.popularity_ = np.asarray(binary.sum(axis=0)).ravel().astype(np.float32)
        self.item_features_ = features
        self._set_item_metadata(features)
        self._reason_similarity = None
        self._fit(matrix, features)
        return self

    def _fit(self, matrix: sp.csr_matrix, features: pd.DataFrame | None) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _set_item_metadata(self, features: pd.DataFrame | None) -> None:
        n = self.n_items_
        self.item_category_ = np.full(n, -1, dtype=np.int64)
        self.categories_ = np.array([], dtype=object)
        self.item_available_ = np.ones(n, dtype=bool)
        self.item_names_ = None
        if features is None:
            return
        if "category" in features:
            cats = features["category"].astype("string").str.strip()
            cats = cats.mask(cats == "")
            codes, uniques = pd.factorize(cats)
            self.item_category_ = codes.astype(np.int64)
            self.categories_ = np.asarray(uniques, dtype=object)
        if "available" in features:
            avail = features["available"]
            self.item_available_ = avail.fillna(True).astype(bool).to_numpy()
        label_col = "name" if "name" in features else "description" if "description" in features else None
        if label_col:
            self.item_names_ = features[label_col].astype("string").fillna("").to_numpy(dtype=object)

    def _check_fitted(self) -> None:
        if not hasattr(self, "train_"):
            raise ModelNotTrained(f"this {type(self).__name__} is not fitted yet", hint="Call fit(interactions) first.")

    # ---- scoring (model-specific) ----------------------------------------------------------------
    def _dense_scores(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:  # pragma: no cover
        """Scores (len(users) x n_items, float32) for users with a non-empty history."""
        raise NotImplementedError

    def _fast_topk(self, users, history, n, exclude, banned):
        """Top-n without a dense score matrix, or None when the model has no faster way than dense scoring."""
        return None

    def _cold_scores(self) -> np.ndarray:
        # Customers with no history get what most customers bought (log-scaled so blends stay balanced).
        return np.log1p(self.popularity_)

    # ---- serving -----------------------------------------------------------------------------------
    def history_for(self, users: np.ndarray, history: sp.csr_matrix | None = None) -> sp.csr_matrix:
        """Each user's known interactions: ``history`` if given, else the training rows (empty for new users)."""
        users = np.asarray(users, dtype=np.int64)
        if history is not None:
            hist = as_interactions(history, what="history")
            if hist.shape != (len(users), self.n_items_):
                raise ValidationFailed(f"history has shape {hist.shape}; expected ({len(users)}, {self.n_items_}) "
                                       "(one row per requested user)")
            return hist
        known = users < self.n_users_
        if known.all():
            return self.train_[users]
        rows = np.where(known, users, 0)
        hist = sp.csr_matrix(sp.diags(known.astype(np.float32)) @ self.train_[rows])
        hist.eliminate_zeros()
        return hist

    def _banned_items(self, available, category) -> np.ndarray:
        allowed = self.item_available_.copy() if available is None else np.asarray(available, dtype=bool).copy()
        if allowed.shape != (self.n_items_,):
            raise ValidationFailed(f"available must have one flag per item ({self.n_items_:,}), got {allowed.shape}")
        if category is not None:
            wanted = [category] if isinstance(category, str) else list(category)
            unknown = [c for c in wanted if c not in set(self.categories_)]
            if unknown:
                raise ValidationFailed(f"unknown category {unknown[0]!r}",
                                       hint=f"Known categories: {', '.join(map(str, self.categories_[:20]))}")
            codes = [int(np.flatnonzero(self.categories_ == c)[0]) for c in wanted]
            allowed &= np.isin(self.item_category_, codes)
        return np.flatnonzero(~allowed)

    def _rebuyable(self, rebuy_categories) -> np.ndarray:
        rebuy = np.zeros(self.n_items_, dtype=bool)
        if rebuy_categories:
            wanted = [rebuy_categories] if isinstance(rebuy_categories, str) else list(rebuy_categories)
            codes = np.flatnonzero(np.isin(self.categories_, wanted))
            rebuy = np.isin(self.item_category_, codes)
        return rebuy

    def recommend(
        self,
        user_indices,
        n: int = 10,
        *,
        exclude: sp.spmatrix | None = None,
        history: sp.spmatrix | None = None,
        available: Sequence[bool] | np.ndarray | None = None,
        category: str | Iterable[str] | None = None,
        rebuy_categories: str | Iterable[str] | None = None,
        max_per_category: int | None = None,
        batch_size: int = 2048,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-n items per user, best first, as ``(items, scores)`` arrays of shape (len(users), n).

        ``exclude``: CSR with one row per requested user (like ``X[users]``); its items are never recommended,
        except items in ``rebuy_categories`` (consumables that may be bought again). ``history``: rows per
        requested user used to score new users (default: the training rows; users beyond the training
        matrix have none and get popular items). ``available`` overrides the fitted availability flags;
        ``category`` keeps only that category (or these categories); ``max_per_category`` caps how many
        items of one category each list may hold. Lists that run out are padded with item -1, score NaN.
        """
        self._check_fitted()
        scalar = np.isscalar(user_indices)
        users = np.atleast_1d(np.asarray(user_indices, dtype=np.int64))
        if users.size and users.min() < 0:
            raise ValidationFailed("user indices must be >= 0")
        if n < 1:
            raise ValidationFailed(f"n must be at least 1, got {n}")
        if max_per_category is not None and max_per_category < 1:
            raise ValidationFailed(f"max_per_category must be at least 1, got {max_per_category}")
        if exclude is not None:
            exclude = as_interactions(exclude, what="exclude")
            if exclude.shape != (len(users), self.n_items_):
                raise ValidationFailed(f"exclude has shape {exclude.shape}; expected ({len(users)}, {self.n_items_})",
                                       hint="Give one row per requested user, e.g. exclude=X[users].")
        hist_all = history
        banned = self._banned_items(available, category)
        rebuy = self._rebuyable(rebuy_categories)
        out_items = np.full((len(users), n), -1, dtype=np.int64)
        out_scores = np.full((len(users), n), np.nan, dtype=np.float32)
        for start in range(0, len(users), batch_size):
            stop = min(start + batch_size, len(users))
            batch = users[start:stop]
            hist = self.history_for(batch, None if hist_all is None else hist_all[start:stop])
            excl = None
            if exclude is not None:
                excl = exclude[start:stop]
                if rebuy.any():
                    excl = sp.csr_matrix(excl.multiply((~rebuy).astype(np.float32)[None, :]))
                    excl.eliminate_zeros()
            items, scores = self._recommend_batch(batch, hist, n, excl, banned, max_per_category)
            out_items[start:stop], out_scores[start:stop] = items, scores
        if scalar:
            return out_items[0], out_scores[0]
        return out_items, out_scores

    def _recommend_batch(self, users, hist, n, excl, banned, max_per_category):
        cold = np.diff(hist.indptr) == 0
        items = np.full((len(users), n), -1, dtype=np.int64)
        scores = np.full((len(users), n), np.nan, dtype=np.float32)
        for mask, is_cold in ((~cold, False), (cold, True)):
            if not mask.any():
                continue
            rows = np.flatnonzero(mask)
            sub_excl = excl[rows] if excl is not None else None
            result = None
            if max_per_category is None:
                result = (self._popularity_topk(len(rows), n, sub_excl, banned) if is_cold
                          else self._fast_topk(users[rows], hist[rows], n, sub_excl, banned))
            if result is None:
                result = self._dense_topk(users[rows], hist[rows], n, sub_excl, banned, max_per_category, is_cold)
            items[rows], scores[rows] = result
        return items, scores

    def _dense_topk(self, users, hist, n, excl, banned, max_per_category, cold):
        if cold:
            dense = np.broadcast_to(self._cold_scores().astype(np.float32), (len(users), self.n_items_)).copy()
        else:
            dense = np.asarray(self._dense_scores(users, hist), dtype=np.float32)
        if banned.size:
            dense[:, banned] = -np.inf
        if excl is not None and excl.nnz:
            r, c = excl.nonzero()
            dense[r, c] = -np.inf
        if max_per_category is None:
            return topk_dense(dense, n)
        return self._diverse_topk(dense, n, max_per_category)

    def _diverse_topk(self, dense, n, cap):
        groups_of_item = np.where(self.item_category_ >= 0, self.item_category_,
                                  # an item without a category is a group of its own
                                  len(self.categories_) + np.arange(self.n_items_))
        width = min(self.n_items_, max(4 * n, n * (n // cap + 1)))
        items = np.full((dense.shape[0], n), -1, dtype=np.int64)
        scores = np.full((dense.shape[0], n), np.nan, dtype=np.float32)
        todo = np.arange(dense.shape[0])
        while todo.size:
            cand, cand_scores = topk_dense(dense[todo], width)
            groups = np.where(cand >= 0, groups_of_item[np.maximum(cand, 0)], -1)
            pos = cap_per_group(cand, groups, cap, n)
            got = np.take_along_axis(cand, np.maximum(pos, 0), axis=1)
            got_scores = np.take_along_axis(cand_scores, np.maximum(pos, 0), axis=1)
            items[todo] = np.where(pos >= 0, got, -1)
            scores[todo] = np.where(pos >= 0, got_scores, np.nan)
            # a row is short only if its candidate window was too narrow (and could be widened)
            short = ((pos < 0).any(axis=1)) & (cand[:, -1] >= 0)
            if width >= self.n_items_ or not short.any():
                break
            todo = todo[short]
            width = self.n_items_
        return items, scores

    def _popularity_topk(self, rows: int, n: int, excl, banned) -> tuple[np.ndarray, np.ndarray]:
        score = self._cold_scores().astype(np.float32)
        allowed = np.ones(self.n_items_, dtype=bool)
        allowed[banned] = False
        order = np.flatnonzero(allowed)
        order = order[np.argsort(-score[order], kind="stable")]
        longest = int(np.diff(excl.indptr).max()) if excl is not None and excl.nnz else 0
        cand = order[: n + longest]
        cand_scores = np.broadcast_to(score[cand], (rows, len(cand))).copy()
        if excl is not None and longest:
            hit = excl[:, cand].toarray() > 0
            cand_scores[hit] = -np.inf
        pos, top = topk_dense(cand_scores, n)
        items = np.where(pos >= 0, cand[np.maximum(pos, 0)], -1)
        return items, top

    # ---- item-to-item --------------------------------------------------------------------------------
    def _similar_scores(self, items: np.ndarray) -> np.ndarray:
        """Similarity of each given item to every item (len(items) x n_items); default: co-purchase cosine."""
        return self.reason_similarity()[items].toarray()

    def similar_items(self, item, n: int = 10, *, available=None) -> tuple[np.ndarray, np.ndarray]:
        """The n items most like ``item`` (an index or an array of them) - "customers who bought this also bought"."""
        self._check_fitted()
        scalar = np.isscalar(item)
        items = np.atleast_1d(np.asarray(item, dtype=np.int64))
        if items.size and (items.min() < 0 or items.max() >= self.n_items_):
            raise ValidationFailed(f"item index out of range 0..{self.n_items_ - 1}")
        banned = self._banned_items(available, None)
        out_i = np.full((len(items), n), -1, dtype=np.int64)
        out_s = np.full((len(items), n), np.nan, dtype=np.float32)
        for start in range(0, len(items), 1024):
            chunk = items[start:start + 1024]
            sims = np.asarray(self._similar_scores(chunk), dtype=np.float32)
            sims[np.arange(len(chunk)), chunk] = -np.inf
            if banned.size:
                sims[:, banned] = -np.inf
            out_i[start:start + len(chunk)], out_s[start:start + len(chunk)] = topk_dense(sims, n)
        if scalar:
            return out_i[0], out_s[0]
        return out_i, out_s

    # ---- reasons -------------------------------------------------------------------------------------
    def reason_similarity(self) -> sp.csr_matrix:
        """Item x item cosine similarity of co-purchases (top 50 neighbours per item), used for the reasons."""
        self._check_fitted()
        if self._reason_similarity is None:
            self._reason_similarity = cosine_neighbours(self.train_, k=50)
        return self._reason_similarity

    def reasons(self, user_indices, items, *, history=None, item_names=None) -> tuple[np.ndarray, np.ndarray]:
        """Why each recommended item: ``(texts, because_items)``, both shaped like ``items``.

        "because you bought X" names the bought item most similar to the recommendation (``because_items``
        holds X's index); customers without history, or with nothing similar, get "popular in <category>"
        (``because_items`` = -1). ``item_names`` (one per item) default to the fitted ``name`` feature.
        """
        self._check_fitted()
        users = np.atleast_1d(np.asarray(user_indices, dtype=np.int64))
        items = np.atleast_2d(np.asarray(items, dtype=np.int64))
        names = item_names if item_names is not None else self.item_names_
        hist = self.history_for(users, history)
        hist_bin = hist.copy()
        hist_bin.data[:] = 1.0
        sim = sp.csc_matrix(self._reason_matrix())
        because = np.full(items.shape, -1, dtype=np.int64)
        strength = np.zeros(items.shape, dtype=np.float32)
        for j in range(items.shape[1]):
            col = np.maximum(items[:, j], 0)
            # entry (u, h) = similarity of u's bought item h to u's j-th recommendation
            pair = sp.csr_matrix(hist_bin.multiply(sim[:, col].T))
            pair.eliminate_zeros()
            best = np.asarray(pair.argmax(axis=1)).ravel()
            value = np.asarray(pair.max(axis=1).toarray()).ravel()
            ok = (value > 0) & (items[:, j] >= 0)
            because[ok, j] = best[ok]
            strength[ok, j] = value[ok]
        bought_before = np.zeros(items.shape, dtype=bool)
        for j in range(items.shape[1]):
            col = np.maximum(items[:, j], 0)
            bought_before[:, j] = np.asarray(hist_bin[np.arange(len(users)), col]).ravel() > 0
        labels = self._labels(names)
        cat = np.where(items >= 0, self.item_category_[np.maximum(items, 0)], -1)
        popular = np.where(cat >= 0, "popular in " + np.append(self.categories_, "").astype(object)[cat],
                           "popular with customers").astype(object)
        texts = np.where(because >= 0, "because you bought " + labels[np.maximum(because, 0)], popular)
        texts = np.where(bought_before, "you bought this before", texts)
        texts = np.where(items >= 0, texts, "").astype(object)
        return texts, because

    def _reason_matrix(self) -> sp.csr_matrix:
        return self.reason_similarity()

    def _labels(self, names) -> np.ndarray:
        fallback = np.array([f"item {i}" for i in range(self.n_items_)], dtype=object)
        if names is None:
            return fallback
        names = pd.Series(np.asarray(names, dtype=object)).astype("string").fillna("").str.strip()
        names = names.to_numpy(dtype=object)
        if len(names) != self.n_items_:
            raise ValidationFailed(f"item_names has {len(names):,} entries; expected one per item ({self.n_items_:,})")
        return np.where(names == "", fallback, names).astype(object)


@contextlib.contextmanager
def quiet_implicit():
    """Silence implicit's ParameterWarning: its own CosineRecommender passes itself a COO matrix and then warns."""
    from implicit.utils import ParameterWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ParameterWarning)
        yield


def cosine_neighbours(matrix: sp.csr_matrix, *, k: int = 50) -> sp.csr_matrix:
    """Item x item cosine similarity of the binarised matrix, keeping each item's k nearest (no self-pairs)."""
    from implicit.nearest_neighbours import CosineRecommender

    binary = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    binary.data[:] = 1.0
    # implicit computes the pruned item-item product in C++ without materialising all co-purchase pairs;
    # one extra neighbour because the item itself is always its own nearest
    model = CosineRecommender(K=k + 1)
    with quiet_implicit():
        model.fit(binary, show_progress=False)
    sim = sp.csr_matrix(model.similarity, dtype=np.float32)
    sim.setdiag(0)
    sim.eliminate_zeros()
    return sim


def top_k_rows(matrix: sp.csr_matrix, *, k: int, drop_diagonal: bool = False) -> sp.csr_matrix:
    """Keep the k largest entries of each row of a square sparse matrix."""
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    if drop_diagonal:
        matrix.setdiag(0)
    matrix.eliminate_zeros()
    items, scores = topk_sparse(matrix, k)
    rows = np.repeat(np.arange(matrix.shape[0]), k)
    flat_items, flat_scores = items.ravel(), scores.ravel()
    ok = flat_items >= 0
    return sp.csr_matrix((flat_scores[ok], (rows[ok], flat_items[ok])), shape=matrix.shape, dtype=np.float32)
