"""Topics of customer feedback with readable labels: TF-IDF + NMF, each topic named by its top terms.

Chinese text is segmented with jieba; English uses words minus stop words. With ``n_topics="auto"``
the number of topics is the one, among ``min_topics..max_topics``, whose topics have the highest mean
NPMI coherence of their top terms over the documents (Bouma 2009; Röder et al. 2015 show NPMI-based
coherence tracks human judgement of topic quality), preferring the fewest topics among near-ties. Merged themes lower it because their terms rarely
co-occur; split themes lower it because the extra topic is built from terms that do not belong together.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.decomposition import NMF
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.utils.validation import check_is_fitted

from aicrm.core.errors import ValidationFailed
from aicrm.nlp.language import detect_language

# Words common in all feedback that would otherwise name every topic.
_EN_STOP = frozenset(ENGLISH_STOP_WORDS) | frozenset(
    "just really got get im ive dont didnt did does doesnt wasnt isnt arent wont cant also would could "
    "one two still even much many thing things way lot bit time really order ordered product products "
    "item items customer company buy bought".split()
)
_ZH_STOP = frozenset(
    "的 了 是 我 你 他 她 它 我们 他们 这 那 这个 那个 也 都 就 还 很 非常 太 在 有 和 与 及 或 但 但是 不过 而 又 "
    "吧 吗 呢 啊 呀 哦 嗯 么 着 过 被 把 给 让 对 从 到 为 为了 因为 所以 如果 虽然 可以 能 会 要 想 说 去 来 "
    "一个 一下 一点 一些 什么 怎么 没有 没 不 比较 真的 感觉 觉得 东西 这次 这家 订单 商品 产品 买 购买".split()
)
COHERENCE_TOLERANCE = 0.02
_EN_TOKEN = re.compile(r"[a-z][a-z']+")


def topic_tokens(text: str | None) -> list[str]:
    """The content words of ``text`` used for topics (jieba words for Chinese, lower-case words otherwise)."""
    if not text:
        return []
    if detect_language(text) == "zh":
        from aicrm.nlp.sentiment import chinese_tokens

        return [t for t in chinese_tokens(text) if len(t) > 1 and t not in _ZH_STOP and not t.isdigit() and not _is_punct(t)]
    words = [w.replace("'", "") for w in _EN_TOKEN.findall(text.lower())]
    return [w for w in words if len(w) > 2 and w not in _EN_STOP]


def _is_punct(token: str) -> bool:
    return all(not ch.isalnum() for ch in token)


def _npmi_coherence(binary: sp.csr_matrix, top: np.ndarray) -> float:
    """Mean NPMI over pairs of a topic's top terms, with document co-occurrence as the probability."""
    n_docs = binary.shape[0]
    sub = binary[:, top]
    df = np.asarray(sub.sum(axis=0)).ravel() / n_docs
    co = (sub.T @ sub).toarray() / n_docs
    scores = []
    for i in range(len(top)):
        for j in range(i + 1, len(top)):
            if co[i, j] <= 0:
                scores.append(-1.0)
                continue
            pmi = np.log(co[i, j] / (df[i] * df[j]))
            scores.append(pmi / -np.log(co[i, j]) if co[i, j] < 1 else 1.0)
    return float(np.mean(scores)) if scores else 0.0


class TopicModel(BaseEstimator):
    """NMF topics over TF-IDF; ``topic_labels_`` name each topic by its top terms ("late / delivery / days")."""

    def __init__(
        self,
        n_topics: int | str = "auto",
        *,
        min_topics: int = 2,
        max_topics: int = 10,
        n_label_terms: int = 3,
        n_coherence_terms: int = 8,
        max_features: int = 5000,
        random_state: int | None = 0,
    ):
        self.n_topics = n_topics
        self.min_topics = min_topics
        self.max_topics = max_topics
        self.n_label_terms = n_label_terms
        self.n_coherence_terms = n_coherence_terms
        self.max_features = max_features
        self.random_state = random_state

    def _vectorizer(self) -> TfidfVectorizer:
        return TfidfVectorizer(
            analyzer=topic_tokens, min_df=2, max_df=0.5, max_features=self.max_features, sublinear_tf=True
        )

    def _nmf(self, k: int, X) -> NMF:
        return NMF(n_components=k, init="nndsvda", max_iter=400, random_state=self.random_state).fit(X)

    def fit(self, texts: Sequence[str | None], y=None):
        texts = ["" if t is None else str(t) for t in texts]
        self.vectorizer_ = self._vectorizer()
        try:
            X = self.vectorizer_.fit_transform(texts)
        except ValueError as exc:  # sklearn: "empty vocabulary" when no word occurs in two texts
            raise ValidationFailed(
                f"no topics can be found in {len(texts)} texts: {exc}",
                hint="Topics need at least a few dozen texts that share words.",
            ) from exc
        self.terms_ = np.asarray(self.vectorizer_.get_feature_names_out())
        binary = (X > 0).astype(np.float64).tocsr()
        max_k = max(1, min(self.max_topics, X.shape[1] - 1, X.shape[0] - 1))
        if self.n_topics == "auto":
            candidates = range(min(self.min_topics, max_k), max_k + 1)
        elif isinstance(self.n_topics, int | np.integer) and self.n_topics >= 1:
            candidates = [min(int(self.n_topics), max_k)]
        else:
            raise ValidationFailed(f"n_topics must be a positive integer or 'auto', got {self.n_topics!r}")
        self.coherence_by_k_ = {}
        fits = {}
        for k in candidates:
            nmf = self._nmf(k, X)
            tops = [np.argsort(-row)[: self.n_coherence_terms] for row in nmf.components_]
            fits[k] = nmf
            self.coherence_by_k_[k] = round(float(np.mean([_npmi_coherence(binary, t) for t in tops])), 4)
        # Parsimony: the fewest topics within COHERENCE_TOLERANCE of the best coherence; a near-tie usually
        # means a theme was split in two, and fewer topics are easier to read and act on.
        best = max(self.coherence_by_k_.values())
        self.n_topics_ = min(k for k, c in self.coherence_by_k_.items() if c >= best - COHERENCE_TOLERANCE)
        self.coherence_ = self.coherence_by_k_[self.n_topics_]
        self.nmf_ = fits[self.n_topics_]
        self.components_ = self.nmf_.components_
        self.top_terms_ = [list(self.terms_[np.argsort(-row)[:10]]) for row in self.components_]
        self.topic_labels_ = [" / ".join(terms[: self.n_label_terms]) for terms in self.top_terms_]
        return self

    def transform(self, texts: Sequence[str | None]) -> np.ndarray:
        """Topic weights of each text (rows sum to 1; all zero when no topic word occurs)."""
        check_is_fitted(self, "nmf_")
        W = self.nmf_.transform(self.vectorizer_.transform(["" if t is None else str(t) for t in texts]))
        sums = W.sum(axis=1, keepdims=True)
        return np.divide(W, sums, out=np.zeros_like(W), where=sums > 0)

    def predict(self, texts: Sequence[str | None]) -> np.ndarray:
        """The main topic of each text, or -1 when no topic word occurs."""
        W = self.transform(texts)
        return np.where(W.sum(axis=1) > 0, W.argmax(axis=1), -1)

    def predict_labels(self, texts: Sequence[str | None]) -> list[str | None]:
        """The label of each text's main topic (None when it has none)."""
        return [self.topic_labels_[k] if k >= 0 else None for k in self.predict(texts)]

    def topics_table(self, texts: Sequence[str | None] | None = None):
        """One row per topic: topic, label, top_terms and, given texts, how many have it as main topic."""
        import pandas as pd

        check_is_fitted(self, "nmf_")
        table = pd.DataFrame(
            {
                "topic": range(self.n_topics_),
                "label": self.topic_labels_,
                "top_terms": [", ".join(t) for t in self.top_terms_],
            }
        )
        if texts is not None:
            counts = pd.Series(self.predict(texts)).value_counts()
            table["texts"] = [int(counts.get(k, 0)) for k in range(self.n_topics_)]
        return table
