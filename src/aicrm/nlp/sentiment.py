"""Sentiment of customer text: a zero-label default and a classifier trained on the user's labels.

Zero labels: VADER for English (Hutto & Gilbert 2014), a small built-in lexicon with negation, degree
and contrast handling for Chinese (``zh_lexicon``). Both give a compound score in [-1, 1] and the label
positive / neutral / negative with VADER's published cut-offs (±0.05).

With labels: ``SentimentClassifier`` averages the probabilities of a few linear models over different
views of the text:
- English: NB-weighted TF-IDF word 1-2-grams + character 2-5-grams with logistic regression (the
  "NBSVM" of Wang & Manning 2012, with a logistic loss) and, when the embeddings extra is installed,
  logistic regression on all-MiniLM-L6-v2 sentence embeddings plus the four VADER scores. The two views
  make different mistakes, which is where most of the gain over either alone comes from.
- Chinese: TF-IDF character 1-3-grams + jieba word 1-2-grams (words after a negator marked ``NOT_``)
  with logistic regression. The English embedding model is not used for Chinese.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from aicrm.core.errors import ValidationFailed
from aicrm.nlp import zh_lexicon
from aicrm.nlp.language import detect_language, dominant_language

LABELS = ("negative", "neutral", "positive")
_POSITIVE_NAMES = {"1", "pos", "positive", "good", "true", "yes", "promoter", "satisfied", "正面", "好评"}
_NEGATIVE_NAMES = {"0", "-1", "neg", "negative", "bad", "false", "no", "detractor", "unsatisfied", "负面", "差评"}


def label_polarity(label: object) -> int:
    """+1 for a label that means positive, -1 for negative, 0 otherwise ("neutral", unknown names)."""
    name = str(label).strip().lower()
    if name.endswith(".0"):
        name = name[:-2]
    if name in _POSITIVE_NAMES:
        return 1
    if name in _NEGATIVE_NAMES:
        return -1
    return 0


def _label_of(compound: float) -> str:
    if compound >= 0.05:
        return "positive"
    if compound <= -0.05:
        return "negative"
    return "neutral"


@functools.lru_cache(maxsize=1)
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


@functools.lru_cache(maxsize=1)
def _jieba():
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


_CLAUSE_END = set("。！!？?，,；;~…、.\n\t ")


def chinese_tokens(text: str) -> list[str]:
    """jieba tokens of ``text`` without whitespace tokens."""
    return list(_chinese_tokens(text or ""))


@functools.lru_cache(maxsize=50_000)
def _chinese_tokens(text: str) -> tuple[str, ...]:
    # Cached: cross-validation folds, topics and the lexicon all segment the same texts again.
    return tuple(t for t in _jieba().lcut(text) if t.strip())


def _zh_compound(text: str) -> float:
    tokens = chinese_tokens(text)
    total = 0.0
    weight = 1.0
    for i, token in enumerate(tokens):
        if token in zh_lexicon.CONTRAST:
            # The verdict follows the contrast word: damp what came before, stress what follows.
            total *= 0.5
            weight = 1.5
            continue
        value = 1.0 if token in zh_lexicon.POSITIVE else -1.0 if token in zh_lexicon.NEGATIVE else 0.0
        if not value:
            continue
        for back in range(1, 4):
            j = i - back
            if j < 0 or tokens[j] in _CLAUSE_END:
                break
            prev = tokens[j]
            if prev in zh_lexicon.INTENSIFIERS:
                value *= zh_lexicon.INTENSIFIERS[prev]
            elif prev in zh_lexicon.NEGATORS:
                value *= -0.8  # "不太好" is weaker than "差": a flipped word keeps less strength
                break
        total += value * weight
    exclaims = min(text.count("!") + text.count("！"), 3)
    total *= 1 + 0.1 * exclaims
    # VADER's normalisation x / sqrt(x² + α), with α smaller because our word values are ±1, not ±2-4.
    return total / math.sqrt(total * total + 4.0) if total else 0.0


def score_sentiment(text: str | None, *, lang: str | None = None) -> tuple[str, float]:
    """(label, compound score in [-1, 1]) of ``text`` without training; "other" languages are neutral."""
    if not text:
        return "neutral", 0.0
    lang = lang or detect_language(text)
    if lang == "zh":
        compound = _zh_compound(text)
    elif lang == "en":
        compound = _vader().polarity_scores(text)["compound"]
    else:
        return "neutral", 0.0
    return _label_of(compound), round(float(compound), 4)


def score_sentiments(texts: Sequence[str | None], *, langs: Sequence[str] | None = None) -> list[tuple[str, float]]:
    """``score_sentiment`` of each text."""
    if langs is None:
        return [score_sentiment(t) for t in texts]
    return [score_sentiment(t, lang=g) for t, g in zip(texts, langs, strict=True)]


# ---------------------------------------------------------------------------------------------------
# Trainable classifier


def _mark_negation(tokens: list[str]) -> str:
    out, negated = [], False
    for token in tokens:
        if token in _CLAUSE_END:
            negated = False
            continue
        out.append("NOT_" + token if negated else token)
        if token in zh_lexicon.NEGATORS:
            negated = True
    return " ".join(out)


class _NBLogisticRegression(ClassifierMixin, BaseEstimator):
    """Logistic regression on features scaled by naive-Bayes log-count ratios (Wang & Manning 2012).

    More than two classes are handled one-vs-rest, each with its own ratios, probabilities renormalised.
    """

    def __init__(self, C: float = 4.0, alpha: float = 1.0):
        self.C = C
        self.alpha = alpha

    def _ratio(self, present, mask) -> np.ndarray:
        p = self.alpha + np.asarray(present[mask].sum(axis=0)).ravel()
        q = self.alpha + np.asarray(present[~mask].sum(axis=0)).ravel()
        return np.log((p / p.sum()) / (q / q.sum()))

    def fit(self, X, y):
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        present = (X > 0).astype(np.float64).tocsr()
        targets = self.classes_[1:] if len(self.classes_) == 2 else self.classes_
        self.ratios_, self.models_ = [], []
        for cls in targets:
            r = self._ratio(present, y == cls)
            model = LogisticRegression(C=self.C, solver="liblinear", max_iter=2000)
            model.fit(X @ sp.diags(r), (y == cls).astype(int))
            self.ratios_.append(r)
            self.models_.append(model)
        return self

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "models_")
        scores = np.column_stack([m.predict_proba(X @ sp.diags(r))[:, 1] for r, m in zip(self.ratios_, self.models_)])
        if len(self.classes_) == 2:
            return np.column_stack([1 - scores[:, 0], scores[:, 0]])
        return scores / np.clip(scores.sum(axis=1, keepdims=True), 1e-12, None)


_ZH_CHAR_HASHER = HashingVectorizer(
    analyzer="char", ngram_range=(1, 3), n_features=2**20, alternate_sign=False, norm=None, lowercase=True
)


class _TextView(BaseEstimator):
    """One view of the texts (features) plus a classifier on it; a member of the ensemble."""

    def __init__(self, kind: str, random_state: int | None = 0):
        self.kind = kind
        self.random_state = random_state

    def _features(self, texts: list[str], fit: bool):
        if self.kind == "en_ngrams":
            if fit:
                self.vectorizers_ = [
                    TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, lowercase=True),
                    TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
                ]
            parts = [v.fit_transform(texts) if fit else v.transform(texts) for v in self.vectorizers_]
            return sp.hstack(parts).tocsr()
        if self.kind == "zh_ngrams":
            # Character n-grams are hashed (stateless, C speed) rather than counted into a vocabulary: on
            # long reviews the vocabulary pass dominated the run time; columns seen in < 2 training texts
            # are dropped, as min_df=2 would.
            hashed = _ZH_CHAR_HASHER.transform(texts)
            words = [_mark_negation(chinese_tokens(t)) for t in texts]
            if fit:
                self.char_columns_ = np.flatnonzero(np.asarray((hashed > 0).sum(axis=0)).ravel() >= 2)
                self.char_tfidf_ = TfidfTransformer(sublinear_tf=True).fit(hashed[:, self.char_columns_])
                self.vectorizers_ = [
                    TfidfVectorizer(token_pattern=r"(?u)\S+", ngram_range=(1, 2), sublinear_tf=True, min_df=2)
                ]
                word_part = self.vectorizers_[0].fit_transform(words)
            else:
                word_part = self.vectorizers_[0].transform(words)
            char_part = self.char_tfidf_.transform(hashed[:, self.char_columns_])
            return sp.hstack([char_part, word_part]).tocsr()
        if self.kind == "en_embeddings":
            from aicrm.nlp.embeddings import encode_sentences

            vectors = encode_sentences(texts)
            analyser = _vader()
            vader = np.array(
                [[s["neg"], s["neu"], s["pos"], s["compound"]] for s in map(analyser.polarity_scores, texts)]
            )
            return np.hstack([vectors, vader])
        raise ValueError(f"unknown text view {self.kind!r}")

    def fit(self, texts: list[str], y):
        X = self._features(texts, fit=True)
        if self.kind == "en_ngrams":
            self.model_ = _NBLogisticRegression(C=4.0)
        elif self.kind == "zh_ngrams":
            # liblinear is the fastest on this many sparse features but handles two classes only.
            solver = "liblinear" if len(np.unique(y)) == 2 else "lbfgs"
            self.model_ = LogisticRegression(C=10.0, solver=solver, max_iter=2000, random_state=self.random_state)
        else:
            self.model_ = LogisticRegression(C=1.0, max_iter=3000, random_state=self.random_state)
        self.model_.fit(X, y)
        return self

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return self.model_.predict_proba(self._features(texts, fit=False))


def _as_texts(texts) -> list[str]:
    return ["" if t is None or (isinstance(t, float) and math.isnan(t)) else str(t) for t in texts]


class SentimentClassifier(ClassifierMixin, BaseEstimator):
    """Sentiment trained on labelled texts (any label set, e.g. 0/1 or negative/neutral/positive).

    ``lang``: "en", "zh" or "auto" (the dominant language of the training texts, in ``lang_``).
    ``use_embeddings``: "auto" uses sentence embeddings for English when the extra is installed.
    """

    def __init__(self, lang: str = "auto", *, use_embeddings: bool | str = "auto", random_state: int | None = 0):
        self.lang = lang
        self.use_embeddings = use_embeddings
        self.random_state = random_state

    def fit(self, texts, labels):
        texts = _as_texts(texts)
        y = np.asarray([str(v) for v in labels], dtype=object)
        if len(texts) != len(y):
            raise ValidationFailed(f"{len(texts)} texts but {len(y)} labels", hint="Give one label per text.")
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValidationFailed(
                f"sentiment needs at least two different labels, got {list(self.classes_)}",
                hint="Check the label column: every row has the same value.",
            )
        if self.lang not in ("auto", "en", "zh"):
            raise ValidationFailed(f"unknown language {self.lang!r}", hint='Use "auto", "en" or "zh".')
        self.lang_ = dominant_language(texts) if self.lang == "auto" else self.lang
        kinds = ["zh_ngrams"] if self.lang_ == "zh" else ["en_ngrams"]
        if self.lang_ == "en" and self.use_embeddings in ("auto", True):
            from aicrm.nlp.embeddings import embeddings_available

            if embeddings_available():
                kinds.append("en_embeddings")
            elif self.use_embeddings is True:
                raise ValidationFailed(
                    "sentence embeddings were requested but torch / sentence-transformers are not installed",
                    hint="Install the extra: pip install 'aicrm[nlp]', or run without embeddings.",
                )
        self.members_ = [_TextView(kind, random_state=self.random_state).fit(texts, y) for kind in kinds]
        return self

    @property
    def description_(self) -> str:
        """A short human-readable name of the fitted ensemble."""
        check_is_fitted(self, "members_")
        names = {
            "en_ngrams": "NB-weighted TF-IDF word+char n-grams LR",
            "zh_ngrams": "TF-IDF hashed char 1-3 + jieba word 1-2 n-grams LR",
            "en_embeddings": "MiniLM embeddings + VADER LR",
        }
        return " + ".join(names[m.kind] for m in self.members_) + f" ({self.lang_})"

    def predict_proba(self, texts) -> np.ndarray:
        """Probability of each class in ``classes_`` (the mean of the ensemble members)."""
        check_is_fitted(self, "members_")
        texts = _as_texts(texts)
        return np.mean([m.predict_proba(texts) for m in self.members_], axis=0)

    def predict(self, texts) -> np.ndarray:
        """The most probable label of each text."""
        check_is_fitted(self, "members_")
        return self.classes_[np.argmax(self.predict_proba(texts), axis=1)]

    def predict_polarity(self, texts) -> np.ndarray:
        """A score in [-1, 1]: P(positive labels) - P(negative labels) (see ``label_polarity``)."""
        polarity = np.array([label_polarity(c) for c in self.classes_], dtype=float)
        return self.predict_proba(texts) @ polarity



def evaluate_sentiment(
    texts: Sequence[str], labels: Sequence[object], *, lang: str = "auto", folds: int = 5, seed: int = 0,
    use_embeddings: bool | str = "auto",
) -> dict:
    """Stratified k-fold accuracy and macro-F1 of ``SentimentClassifier``, every model fitted inside its fold."""
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import StratifiedKFold

    texts = _as_texts(texts)
    y = np.asarray([str(v) for v in labels], dtype=object)
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        raise ValidationFailed(
            f"sentiment needs at least two different labels, got {list(classes)}",
            hint="Check the label column: every row has the same value.",
        )
    if folds < 2 or counts.min() < folds:
        raise ValidationFailed(
            f"{folds}-fold cross-validation needs at least {max(folds, 2)} rows of every label; "
            f"the rarest label {classes[np.argmin(counts)]!r} has {counts.min()}",
            hint="Lower --folds or add labelled rows.",
        )
    predicted = np.empty(len(y), dtype=object)
    fold_accuracy = []
    description = ""
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(np.zeros(len(y)), y):
        model = SentimentClassifier(lang=lang, use_embeddings=use_embeddings, random_state=seed)
        model.fit([texts[i] for i in train], y[train])
        predicted[test] = model.predict([texts[i] for i in test])
        fold_accuracy.append(float(accuracy_score(y[test], predicted[test])))
        description = model.description_
    return {
        "rows": int(len(y)),
        "classes": [str(c) for c in classes],
        "class_counts": {str(c): int(n) for c, n in zip(classes, counts, strict=True)},
        "folds": folds,
        "seed": seed,
        "accuracy": round(float(accuracy_score(y, predicted)), 4),
        "macro_f1": round(float(f1_score(y, predicted, average="macro")), 4),
        "fold_accuracy": [round(a, 4) for a in fold_accuracy],
        "model": description,
    }
